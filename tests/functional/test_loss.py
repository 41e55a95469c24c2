"""F.cross_entropy, F.log_softmax, F.softmax: their values on hard rows, and what they refuse."""

import numpy as np
import pytest

from tinygrad_cnn import functional as F
from tinygrad_cnn import tensor


@pytest.mark.parametrize(
    "fn",
    [F.cross_entropy, lambda x, t: F.log_softmax(x), lambda x, t: F.softmax(x)],
)
def test_integer_logits_are_refused_not_truncated(fn):
    with pytest.raises(TypeError, match="must be a floating-point tensor, got dtype int64"):
        fn(tensor(np.array([[1, 2]])), np.array([0]))


# rows far apart in scale, each a shift of a small row: every row must be shifted by its own
# maximum (a shift by the largest logit of the batch sends exp of the other rows to 0), and
# subtracted, not added (1000 + 1000 overflows exp)
SMALL = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 2.0], [1.0, 0.0, 2.0]])
LOGITS = SMALL + np.array([[998.0], [0.0], [-1001.0]])
LOG_SOFTMAX = SMALL - np.log(np.exp(SMALL).sum(axis=1, keepdims=True))


def test_log_softmax_shifts_each_row_by_its_own_maximum():
    np.testing.assert_allclose(F.log_softmax(tensor(LOGITS), axis=1).numpy(), LOG_SOFTMAX)
    np.testing.assert_allclose(F.softmax(tensor(LOGITS), axis=1).numpy(), np.exp(LOG_SOFTMAX))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_values_and_gradient_on_rows_far_apart(reduction):
    target = np.array([0, 2, 1])
    x = tensor(LOGITS, requires_grad=True)
    loss = F.cross_entropy(x, target, reduction=reduction)
    losses = -LOG_SOFTMAX[np.arange(3), target]
    want = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(loss.numpy(), want)
    loss.sum().backward()
    grad = np.exp(LOG_SOFTMAX) - np.eye(3)[target]
    np.testing.assert_allclose(x.grad.numpy(), grad / 3 if reduction == "mean" else grad)


def test_cross_entropy_keeps_float32():
    loss = F.cross_entropy(tensor(LOGITS.astype(np.float32)), np.array([0, 2, 1]))
    assert loss.dtype == np.float32
