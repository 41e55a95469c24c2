"""matmul's values against NumPy, and its shape errors."""

import numpy as np
import pytest

from tinygrad_cnn import Tensor, tensor
from tinygrad_cnn import functional as F


def test_matmul_cases():
    rng = np.random.default_rng(0)
    for sa, sb in [
        ((3,), (3,)),
        ((3,), (3, 2)),
        ((2, 3), (3,)),
        ((4, 2, 3), (3, 5)),
        ((2, 1, 2, 3), (4, 3, 2)),
    ]:
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        np.testing.assert_allclose((tensor(a) @ tensor(b)).numpy(), a @ b)


def test_matmul_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) do not align"):
        tensor(np.zeros((2, 3))) @ tensor(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        F.matmul(tensor(1.0), Tensor([1.0]))
