"""F.cross_entropy, F.log_softmax, F.softmax: what they refuse."""

import numpy as np
import pytest

from tinygrad_cnn import Tensor
from tinygrad_cnn import functional as F


@pytest.mark.parametrize("fn",
    [F.cross_entropy, lambda x, t: F.log_softmax(x), lambda x, t: F.softmax(x)],
)
def test_integer_logits_are_refused_not_truncated(fn):
    with pytest.raises(TypeError, match="must be a floating-point tensor, got dtype int64"):
        fn(Tensor(np.array([[1, 2]])), np.array([0]))
