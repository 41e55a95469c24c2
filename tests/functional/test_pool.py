"""F.pool2d, F.max_pool2d, F.avg_pool2d, F.global_avg_pool2d: results and clear errors."""

import numpy as np
import pytest

from tinygrad_cnn import functional as F
from tinygrad_cnn import tensor


def test_global_average_pool_and_tensor_methods():
    x = tensor(np.arange(32.0).reshape(1, 2, 4, 4))
    np.testing.assert_allclose(F.global_avg_pool2d(x).numpy().ravel(), [7.5, 23.5])
    assert x.max_pool2d(2).shape == (1, 2, 2, 2)
    assert x.avg_pool2d(3, 1, 1).shape == (1, 2, 4, 4)
    assert x.conv2d(tensor(np.ones((5, 2, 1, 1)))).shape == (1, 5, 4, 4)


# fmt: off
POOL_ERRORS = [  # (call on x (2, 3, 8, 8), error, message pattern)
    (lambda x: F.pool2d(x, 2, mode="min"), ValueError, r"mode must be one of \['average'"),
    (lambda x: F.max_pool2d(x, 2, padding=2), ValueError, "at most half the kernel"),
    (lambda x: F.pool2d(x, 2, mode="avg", dilation=2), ValueError,
     "only supported with mode='max'"),
    (lambda x: F.max_pool2d(x, 9), ValueError, "kernel .* larger than the padded input"),
    (lambda x: F.max_pool2d(x[0], 2), ValueError, r"pool2d: input must be 4-D"),
]
# fmt: on


@pytest.mark.parametrize("call, error, pattern", POOL_ERRORS)
def test_bad_arguments_give_clear_errors(call, error, pattern):
    x = tensor(np.ones((2, 3, 8, 8), dtype=np.float32))
    with pytest.raises(error, match=pattern):
        call(x)
