"""The one place that validates ints, pairs and axes: messages name the function, the argument
and the value; bools are not ints."""

import numpy as np
import pytest

from tinygrad_cnn import args as _args
from tinygrad_cnn import functional as F
from tinygrad_cnn import nn


@pytest.mark.parametrize("value", [2, (2, 3), [2, 3], np.int64(2), np.array([2, 3])])
def test_int_or_pair_accepts_ints_and_pairs(value):
    got = _args.int_or_pair("f", "stride", value, 1)
    assert len(got) == 2 and all(type(v) is int for v in got)


@pytest.mark.parametrize(
    "value, error",
    [(1.5, TypeError), (None, TypeError), ("2", TypeError), ((1, 2, 3), TypeError),
     (True, TypeError), ((2, 2.0), TypeError), (0, ValueError), ((1, -1), ValueError)],
)  # fmt: skip
def test_int_or_pair_names_the_function_argument_and_value(value, error):
    with pytest.raises(
        error, match=rf"^conv2d: stride must be .*got {__import__('re').escape(repr(value))}"
    ):
        _args.int_or_pair("conv2d", "stride", value, 1)


def test_axes_are_sorted_non_negative_and_checked():
    assert _args.axes("sum", (-1, 0), 3) == (0, 2)
    assert _args.axes("sum", None, 2) == (0, 1)
    with pytest.raises(TypeError, match=r"sum: axis must be an int or a tuple of ints, got 1.5"):
        _args.axes("sum", 1.5, 2)
    with pytest.raises(ValueError, match="sum: axis 3 is out of range for a tensor of 2"):
        _args.axes("sum", 3, 2)
    with pytest.raises(ValueError, match="repeats a dimension"):
        _args.axes("sum", (0, -2), 2)


def test_layers_use_the_same_checks_as_functional():
    with pytest.raises(TypeError, match=r"Conv2d: kernel_size must be an int or a pair .* 2\.5"):
        nn.Conv2d(1, 8, 2.5)
    with pytest.raises(ValueError, match=r"Conv2d: kernel_size must be >= 1, got 0"):
        nn.Conv2d(1, 8, 0)
    with pytest.raises(ValueError, match="Linear: in_features must be a positive int, got True"):
        nn.Linear(True, 2)
    with pytest.raises(TypeError, match=r"max_pool2d|pool2d: stride must be an int or a pair"):
        F.max_pool2d(np.ones((1, 1, 4, 4), np.float32), 2, stride=1.5)
