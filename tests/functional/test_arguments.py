"""Bad arguments to the functions give errors that name the function and the value."""

import numpy as np
import pytest

from tinygrad_cnn import functional as F
from tinygrad_cnn import tensor


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda x: x.reshape(5, 5), RuntimeError, r"reshape: shape \(5, 5\) is invalid"),
        (lambda x: x.sum(axis=3), ValueError, r"sum: axis 3 is out of range .* 3 dimensions"),
        (lambda x: x.sum(dim=3), ValueError, r"sum: axis 3 is out of range .* 3 dimensions"),
        (lambda x: x.sum(dim=1, axis=1), TypeError, "sum: got both dim and its alias axis"),
        (lambda x: x.amax(dim=(0, 0)), ValueError, "max: axis .* repeats"),
        (lambda x: x.transpose(0, 3), ValueError, "transpose: axis 3 is out of range"),
        (lambda x: x.transpose(0, 1.5), TypeError, "transpose: axis must be an int"),
        (lambda x: x.permute(0, 1), RuntimeError, r"permute: dims \(0, 1\) are not a permutation"),
        (lambda x: x.permute(0, 1, -4), RuntimeError, "permute: dims"),
        (lambda x: x.permute(0, 1, 2.0), TypeError, "permute: dims must be an int or a seq"),
        (lambda x: x.t(), RuntimeError, "t: expects a tensor with <= 2 dimensions"),
        (lambda x: x.size(3), IndexError, "size: dim 3 is out of range"),
        (lambda x: x.var(1, unbiased=True, correction=0), TypeError, "var: pass unbiased or"),
        (lambda x: x.reshape(2.7, 12), TypeError, r"reshape: shape .* got \(2.7, 12\)"),
        (lambda x: x.reshape("24"), TypeError, "reshape: shape"),
        (lambda x: x.pad((1.7, 1)), TypeError, r"pad: pad .* got \(1.7, 1\)"),
        (lambda x: x.pad((1, 1), value="a"), TypeError, "pad: value must be a number"),
        (lambda x: x.pad((1, 1), mode="wrap"), ValueError, "pad: mode must be one of"),
        (lambda x: x.pad((4, 0), mode="reflect"), ValueError, "pad: reflect padding of \\(4, 0\\)"),
        (
            lambda x: x.expand(3, 3, 4),
            ValueError,
            r"broadcast_to: cannot broadcast shape \(2, 3, 4\)",
        ),
        (lambda x: x[5], IndexError, r"getitem: .*index 5 is out of bounds.*\(2, 3, 4\)"),
        (lambda x: x[0.5], IndexError, "getitem: unsupported index"),
        (
            lambda x: F.concatenate([x, x[:, :, :2].T]),
            ValueError,
            "concatenate: tensors must match",
        ),
        (lambda x: F.stack([x, x[0]]), ValueError, "stack: tensors must match"),
        (lambda x: x.pad((1,)), ValueError, "pad: expected an even number"),
        (lambda x: x.clip(), ValueError, "clip: at least one of min and max"),
        (lambda x: x.clip(2, 1), ValueError, "clip: min"),
        (lambda x: F.where(x, x, x), TypeError, "where: condition must be boolean"),
        (lambda x: x.amax(dim=0)[:0].max(), ValueError, "max: cannot reduce over an empty dim"),
        (lambda x: x[:, :0].max(dim=1), ValueError, "max: cannot reduce an empty tensor"),
    ],
)
def test_bad_arguments_give_clear_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(tensor(np.zeros((2, 3, 4))))
