"""Convolutions: argument checks, then one op each; see :mod:`tinygrad_cnn.ops.conv`."""

from __future__ import annotations

from typing import Any

from tinygrad_cnn import args as _args
from tinygrad_cnn.engine import apply, as_tensor
from tinygrad_cnn.ops.conv import Conv2d, ConvTranspose2d
from tinygrad_cnn.ops.geometry import Geometry
from tinygrad_cnn.tensor import Tensor


def _check_operands(fn: str, x: Tensor, weight: Tensor, bias: Tensor | None, groups: int) -> None:
    """Shapes and dtypes shared by conv2d and conv_transpose2d."""
    _args.positive_int(fn, "groups", groups)
    _args.nchw(fn, "input", x)
    if weight.ndim != 4:
        raise ValueError(f"{fn}: weight must be 4-D, got shape {weight.shape}")
    if 0 in weight.shape[2:]:
        raise ValueError(f"{fn}: the kernel size must be at least 1, got weight {weight.shape}")
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != x.dtype):
        dts = f"input {x.dtype}, weight {weight.dtype}" + (
            f", bias {bias.dtype}" if bias is not None else ""
        )
        raise TypeError(
            f"{fn}: input, weight and bias must share one dtype, got {dts} "
            "(convert one of them, e.g. Tensor(w.numpy().astype(np.float32)))"
        )
    _args.floating(fn, "input", x)
    if x.shape[1] % groups:
        raise ValueError(f"{fn}: input channels {x.shape[1]} are not divisible by groups={groups}")


def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation) over an NCHW input, as ``torch.nn.functional.conv2d``.

    Shapes: input (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW), bias (C_out,) ->
    (N, C_out, Ho, Wo) with ``Ho = floor((H + pad_top + pad_bottom - dilation*(kH-1) - 1)
    / stride) + 1``. ``stride``/``dilation``: int or pair. ``padding``: int, pair, ``'valid'``
    (no padding) or ``'same'`` (output size = input size; stride 1 only, extra padding goes to the
    bottom/right as in PyTorch).

    >>> import numpy as np
    >>> x = Tensor(np.ones((1, 1, 4, 4)))
    >>> w = Tensor(np.ones((2, 1, 3, 3)))
    >>> conv2d(x, w, padding=1).shape
    (1, 2, 4, 4)
    >>> conv2d(x, w)[0, 0].numpy()
    array([[9., 9.],
           [9., 9.]], dtype=float32)
    """
    fn = "conv2d"
    x, weight = as_tensor(input), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    _check_operands(fn, x, weight, bias, groups)
    c_out, c_in_g, kh, kw = weight.shape
    if c_in_g * groups != x.shape[1]:
        raise ValueError(
            f"{fn}: weight {weight.shape} expects {c_in_g * groups} input channels "
            f"(C_in/groups={c_in_g}, groups={groups}), but input {x.shape} has {x.shape[1]}"
        )
    if c_out % groups:
        raise ValueError(f"{fn}: out channels {c_out} are not divisible by groups={groups}")
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(f"{fn}: bias must have shape ({c_out},), got {bias.shape}")
    strides = _args.int_or_pair(fn, "stride", stride, 1)
    dilations = _args.int_or_pair(fn, "dilation", dilation, 1)
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if strides != (1, 1):
                raise ValueError(f"{fn}: padding='same' needs stride 1, got stride={stride!r}")
            th, tw = dilations[0] * (kh - 1), dilations[1] * (kw - 1)
            pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        else:
            raise ValueError(
                f"{fn}: padding must be 'valid', 'same', an int or a pair; got {padding!r}"
            )
    else:
        pads = _args.int_or_pair(fn, "padding", padding, 0)
    geo = Geometry.from_args((kh, kw), strides, pads, dilations)
    _args.windows_fit(fn, geo, x.shape)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return apply(Conv2d, inputs, {"geometry": geo, "groups": int(groups)})


def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d`` (same argument order).

    It is the gradient of :func:`conv2d` with respect to its input. Shapes: input
    (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW), bias (C_out,) -> (N, C_out, Ho, Wo),
    ``Ho = (H - 1)*stride - 2*padding + dilation*(kH - 1) + output_padding + 1``.
    ``output_padding`` (< stride or < dilation) picks among the input sizes that a strided
    conv2d maps to the same output size.

    >>> import numpy as np
    >>> x, w = Tensor(np.ones((1, 1, 2, 2))), Tensor(np.ones((1, 1, 3, 3)))
    >>> conv_transpose2d(x, w, stride=2).shape
    (1, 1, 5, 5)
    """
    fn = "conv_transpose2d"
    x, weight = as_tensor(input), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    _check_operands(fn, x, weight, bias, groups)
    c_in, c_out_g, kh, kw = weight.shape
    if c_in != x.shape[1]:
        raise ValueError(
            f"{fn}: weight {weight.shape} expects {c_in} input channels, input {x.shape} has "
            f"{x.shape[1]}"
        )
    c_out = c_out_g * groups
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(f"{fn}: bias must have shape ({c_out},), got {bias.shape}")
    geo = Geometry.from_args(
        (kh, kw),
        _args.int_or_pair(fn, "stride", stride, 1),
        _args.int_or_pair(fn, "padding", padding, 0),
        _args.int_or_pair(fn, "dilation", dilation, 1),
    )
    oph, opw = _args.int_or_pair(fn, "output_padding", output_padding, 0)
    if not (oph < max(geo.sh, geo.dh) and opw < max(geo.sw, geo.dw)):
        raise ValueError(
            f"{fn}: output_padding {output_padding!r} must be smaller than stride or dilation "
            f"(stride={stride!r}, dilation={dilation!r})"
        )
    ho, wo = geo.transposed_size(x.shape[2], x.shape[3], (oph, opw))
    if ho < 1 or wo < 1:
        raise ValueError(f"{fn}: padding {padding!r} leaves an empty output for input {x.shape}")
    inputs = (x, weight) if bias is None else (x, weight, bias)
    attrs = {"geometry": geo, "groups": int(groups), "out_hw": (ho, wo)}
    return apply(ConvTranspose2d, inputs, attrs)


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:  # fmt: skip
    """1-D convolution over (N, C_in, L) input with weight (C_out, C_in/groups, k), as
    ``torch.nn.functional.conv1d``: conv2d on a height of 1."""
    fn = "conv1d"
    x, w = as_tensor(input), as_tensor(weight)
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(f"{fn}: expected (N, C, L) input and 3-D weight, got {x.shape}, {w.shape}")
    one = lambda v, name: (v,) if _args.is_int(v) else _args.ints(fn, name, v)  # noqa: E731
    s, d = one(stride, "stride"), one(dilation, "dilation")
    p = padding if isinstance(padding, str) else one(padding, "padding")
    if len(s) != 1 or len(d) != 1 or (not isinstance(p, str) and len(p) != 1):
        raise TypeError(f"{fn}: stride, padding and dilation must be ints (or 1-tuples)")
    y = conv2d(x.unsqueeze(2), w.unsqueeze(2), bias, (1, s[0]), p if isinstance(p, str) else
               (0, p[0]), (1, d[0]), groups)  # fmt: skip
    return y.squeeze(2)
