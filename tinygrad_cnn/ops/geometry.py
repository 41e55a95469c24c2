"""Window geometry shared by convolution and pooling: kernel, stride, dilation, padding.

One type, :class:`Geometry`, describes the windows of conv2d, conv_transpose2d and pool2d, and
one rule, :func:`out_size`, says how many windows fit along an axis (rounded down, or up with
``ceil_mode`` as pooling allows). Arguments arrive already validated (see
``tinygrad_cnn.args``); this module is only the arithmetic.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from tinygrad_cnn.ops import workspace


def strided_slice(start: int, n: int, step: int) -> slice:
    """The ``n`` positions ``start, start + step, ...`` as a slice."""
    return slice(start, start + step * (n - 1) + 1, step)


def out_size(
    size: int, k: int, s: int, d: int, before: int, after: int, ceil_mode: bool = False
) -> int:
    """Windows of ``k`` taps (dilation ``d``, stride ``s``) that fit in ``before + size + after``.

    Rounded down, as conv2d does; with ``ceil_mode`` rounded up, except that the last window
    must start inside the input or the leading padding (PyTorch's pooling rule).
    """
    span = size + before + after - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= size + before:
        out -= 1
    return out


class Geometry(NamedTuple):
    """Window geometry: kernel, stride, dilation, and padding (top, bottom, left, right).

    Build it from PyTorch-style arguments with :meth:`from_args`.

    >>> g = Geometry.from_args(kernel_size=3, stride=2, padding=1)
    >>> g.out_size(7, 8)
    (4, 4)
    >>> g.describe()
    ['kernel_size=(3, 3)', 'stride=(2, 2)', 'padding=(1, 1)']
    """

    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pt: int
    pb: int
    pl: int
    pr: int

    @classmethod
    def from_args(
        cls,
        kernel_size: tuple[int, int] | int,
        stride: tuple[int, int] | int = 1,
        padding: tuple[int, ...] | int = 0,
        dilation: tuple[int, int] | int = 1,
    ) -> Geometry:
        """From ints or pairs; ``padding`` may also be (top, bottom, left, right)."""
        (kh, kw), (sh, sw), (dh, dw) = (_two(v) for v in (kernel_size, stride, dilation))
        pads = _two(padding)  # an int as a pair; pairs and fours as they are
        if len(pads) == 2:
            pads = (pads[0], pads[0], pads[1], pads[1])
        pt, pb, pl, pr = pads
        return cls(kh, kw, sh, sw, dh, dw, pt, pb, pl, pr)

    @property
    def span(self) -> tuple[int, int]:
        """The height and width one window covers, dilation included."""
        return self.dh * (self.kh - 1) + 1, self.dw * (self.kw - 1) + 1

    def out_size(self, h: int, w: int, ceil_mode: bool = False) -> tuple[int, int]:
        """Number of windows along H and W; see :func:`out_size`."""
        return (
            out_size(h, self.kh, self.sh, self.dh, self.pt, self.pb, ceil_mode),
            out_size(w, self.kw, self.sw, self.dw, self.pl, self.pr, ceil_mode),
        )

    def transposed_size(self, h: int, w: int, output_padding=(0, 0)) -> tuple[int, int]:
        """The output size of the transposed convolution of an H x W input (its inverse rule)."""
        eh, ew = self.span
        return (
            (h - 1) * self.sh - self.pt - self.pb + eh + output_padding[0],
            (w - 1) * self.sw - self.pl - self.pr + ew + output_padding[1],
        )

    def fitted(self, h: int, w: int, ceil_mode: bool) -> Geometry:
        """The geometry of ``out_size(h, w, ceil_mode)`` windows with rounding down: with
        ``ceil_mode``, just enough extra bottom/right padding for the last windows to fit (what
        pooling's kernels read); otherwise this geometry itself."""
        if not ceil_mode:
            return self
        ho, wo = self.out_size(h, w, ceil_mode)
        eh, ew = self.span
        extra_h = max(0, (ho - 1) * self.sh + eh - (h + self.pt + self.pb))
        extra_w = max(0, (wo - 1) * self.sw + ew - (w + self.pl + self.pr))
        if not (extra_h or extra_w):
            return self
        return self._replace(pb=self.pb + extra_h, pr=self.pr + extra_w)

    def offsets(self, ho: int, wo: int):
        """For each kernel offset (p, q): the slices of the padded input that it reads."""
        for p in range(self.kh):
            hs = strided_slice(p * self.dh, ho, self.sh)
            for q in range(self.kw):
                yield p, q, hs, strided_slice(q * self.dw, wo, self.sw)

    def describe(self) -> list[str]:
        """``key=value`` lines in PyTorch's argument names, for diagrams."""
        symmetric = (self.pt, self.pl) == (self.pb, self.pr)
        pad = (self.pt, self.pl) if symmetric else (self.pt, self.pb, self.pl, self.pr)
        lines = [
            f"kernel_size=({self.kh}, {self.kw})",
            f"stride=({self.sh}, {self.sw})",
            f"padding={pad}",
        ]
        if (self.dh, self.dw) != (1, 1):
            lines.append(f"dilation=({self.dh}, {self.dw})")
        return lines


def _two(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, (int, np.integer)) else tuple(v)


def pad_nchw(x: np.ndarray, geo: Geometry, fill: float = 0.0, tail: int = 0) -> np.ndarray:
    """(N, C, H, W) -> (N, C, pt+H+pb, pl+W+pr); x itself when there is no padding or tail.

    ``tail`` extra elements after the array's end (in its flat buffer) let strided views read a
    little past the last plane; see ``tinygrad_cnn.ops.conv.im2col``.
    """
    xp, copy = pad_later(x, geo, fill, tail)
    if copy is not _nothing_to_pad:  # else no parallel section (35-60 us to start)
        workspace.parallel_ranges(copy, len(x), xp.nbytes)
    return xp


def _nothing_to_pad(n0: int, n1: int) -> None:
    """:func:`pad_later`'s ``copy`` where x needs no padding and no tail."""


def pad_later(x: np.ndarray, geo: Geometry, fill: float = 0.0, tail: int = 0):
    """:func:`pad_nchw`'s array before the images are copied in, and ``copy(n0, n1)``, which
    pads images n0..n1: a block loop pads each block's images as it takes the block, on the
    thread that reads them next, instead of the caller padding them all first.

    The first ``tail`` elements of every image already hold ``fill``. A flat layout's last
    rows read up to ``tail`` elements past an image's last plane, and the windows kept there
    read only its neighbour's leading padding: ``fill``, whichever block has copied what.
    """
    padded = geo.pt or geo.pb or geo.pl or geo.pr
    if not (padded or tail):
        return np.ascontiguousarray(x), _nothing_to_pad
    n, c, h, w = x.shape
    shape = (n, c, h + geo.pt + geo.pb, w + geo.pl + geo.pr)
    size = math.prod(shape)
    flat = workspace.empty((size + tail,), x.dtype)
    xp = flat[:size].reshape(shape)
    flat[size:] = fill
    if tail and n:
        flat[:size].reshape(n, -1)[:, :tail] = fill

    def copy(n0: int, n1: int) -> None:  # images n0..n1
        if padded:
            xp[n0:n1].fill(fill)
        xp[n0:n1, :, geo.pt : geo.pt + h, geo.pl : geo.pl + w] = x[n0:n1]

    return xp, copy


def row_stride(geo: Geometry, w: int, wo: int) -> int:
    """The row length S of :func:`pad_rows`' layout for stride 1: W plus the wider of the left
    and right padding (at least Wo). Read flat, a window row that runs past a row's end lands in
    the next row's left padding, zeros, so one padding between rows serves both sides."""
    return max(w + max(geo.pl, geo.pr), wo)


def pad_rows(x: np.ndarray, geo: Geometry, width: int, tail: int):
    """x padded as :func:`pad_later` does, but with rows ``width`` long (see
    :func:`row_stride`): ``geo.pl`` zeros before each row's W values, and ``width - pl - W``
    after. The array, and the function that pads images n0..n1."""
    return pad_later(x, geo._replace(pr=width - geo.pl - x.shape[3]), tail=tail)


def crop(a: np.ndarray, geo: Geometry, h: int, w: int) -> np.ndarray:
    """The H x W interior of a padded (N, C, Hp, Wp) array, as a new contiguous array."""
    return a[:, :, geo.pt : geo.pt + h, geo.pl : geo.pl + w].copy()
