"""The torch.nn.functional additions without PyTorch: values against their formulas, and
gradients (first and second order) against finite differences, in float64."""

import math

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import functional as F
from tinygrad_cnn import gradcheck, gradgradcheck, tensor

RNG = np.random.default_rng(0)


def t64(*shape, scale=1.0):
    return tensor(RNG.standard_normal(shape) * scale, requires_grad=True)


LABELS = np.array([0, 2, 1, 2, 0])
IGNORED = np.array([0, -100, 1, 2, 0])
W = tensor(np.array([0.5, 1.0, 2.0]))

SMOOTH = {
    "gelu": lambda x: F.gelu(x * 2),
    "gelu tanh": lambda x: F.gelu(x * 2, approximate="tanh"),
    "elu": lambda x: F.elu(x * 2 + 0.3, alpha=0.7),
    "silu": lambda x: F.silu(x * 2),
    "softplus": lambda x: F.softplus(x * 3 + 0.1, beta=2.0, threshold=4.0),
    "erf": lambda x: F.erf(x),
    "normalize": lambda x: F.normalize(x + 3.0, dim=1),
    "layer_norm": lambda x: F.layer_norm(x, (3,), tensor(np.array([1.0, 2.0, -1.0]))),
    "cross_entropy weight": lambda x: F.cross_entropy(x, LABELS, weight=W),
    "cross_entropy ignore": lambda x: F.cross_entropy(x, IGNORED, label_smoothing=0.2),
    "cross_entropy probs": lambda x: F.cross_entropy(x, np.full((5, 3), 1 / 3)),
    "nll_loss": lambda x: F.nll_loss(F.log_softmax(x, dim=1), LABELS, reduction="sum"),
    "bce with logits": lambda x: F.binary_cross_entropy_with_logits(x, np.full((5, 3), 0.3)),
    "bce": lambda x: F.binary_cross_entropy(F.sigmoid(x), np.full((5, 3), 0.3)),
    "smooth_l1": lambda x: F.smooth_l1_loss(x, np.full((5, 3), 0.05), beta=0.5),
    "linear": lambda x: F.linear(x, tensor(np.ones((2, 3))), tensor(np.array([1.0, -1.0]))),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_first_and_second_derivatives_match_finite_differences(name):
    x = t64(5, 3)
    assert gradcheck(SMOOTH[name], [x])
    assert gradgradcheck(SMOOTH[name], [x])


KERNEL_1D = tensor(RNG.standard_normal((2, 4, 3)))
IMAGES = {
    "batch_norm": lambda x: F.batch_norm(x, None, None, training=True),
    "group_norm": lambda x: F.group_norm(x, 2, tensor(np.arange(1.0, 5.0)), None),
    "interpolate bilinear": lambda x: F.interpolate(
        x, size=(5, 4), mode="bilinear", align_corners=False
    ),  # fmt: skip
    "interpolate corners": lambda x: F.interpolate(
        x, scale_factor=2, mode="bilinear", align_corners=True
    ),  # fmt: skip
    "interpolate nearest": lambda x: F.interpolate(x, size=(4, 5)),
    "pad reflect": lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"),
    "pad replicate": lambda x: F.pad(x, (1, 2), mode="replicate"),
    "pad circular": lambda x: F.pad(x, (0, 2, 1, 1), mode="circular"),
    "adaptive_max_pool2d": lambda x: F.adaptive_max_pool2d(x, (2, 2)),
    "conv1d": lambda x: F.conv1d(x.flatten(2), KERNEL_1D, padding=1, stride=2),
}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_image_functions_have_the_gradients_of_their_values(name):
    x = t64(2, 4, 3, 3)
    assert gradcheck(IMAGES[name], [x])


def test_values_follow_their_formulas():
    x = np.linspace(-3, 3, 13)
    t = tensor(x)
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(F.gelu(t).numpy(), x * 0.5 * (1 + erf(x / math.sqrt(2))))
    np.testing.assert_allclose(F.elu(t).numpy(), np.where(x > 0, x, np.expm1(np.minimum(x, 0))))
    np.testing.assert_allclose(F.softplus(t).numpy(), np.log1p(np.exp(x)))
    np.testing.assert_allclose(F.silu(t).numpy(), x / (1 + np.exp(-x)))
    assert F.one_hot(tensor([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    logits = RNG.standard_normal((4, 3))
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    labels = np.array([2, 0, -100, 1])
    w = np.array([1.0, 2.0, 0.5])
    kept = labels != -100
    picked = -logp[np.arange(4)[kept], labels[kept]] * w[labels[kept]]
    got = F.cross_entropy(tensor(logits), labels, weight=tensor(w))
    np.testing.assert_allclose(got.item(), picked.sum() / w[labels[kept]].sum())
    y = F.layer_norm(tensor(logits), (3,), eps=0.0).numpy()
    np.testing.assert_allclose(
        y, (logits - logits.mean(1, keepdims=True)) / logits.std(1, keepdims=True)
    )


def test_dropout_keeps_the_expectation_and_is_the_identity_in_eval():
    tg.manual_seed(0)
    x = tg.ones(200, 50)
    y = F.dropout(x, 0.3)
    kept = y.numpy() != 0
    assert 0.65 < kept.mean() < 0.75 and np.allclose(y.numpy()[kept], 1 / 0.7)
    assert F.dropout(x, 0.3, training=False) is x
    c = F.dropout2d(tg.ones(2, 8, 3, 3), 0.5).numpy()
    assert all(len(np.unique(c[n, k])) == 1 for n in range(2) for k in range(8))  # whole channels


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: F.gelu(t64(2), approximate="fast"), ValueError, "gelu: approximate must be"),
        (lambda: F.one_hot(tensor([0.5])), TypeError, "one_hot: expected an integer"),
        (lambda: F.cross_entropy(t64(2, 3), np.array([0, 3])), ValueError, r"in \[0, 3\)"),
        (lambda: F.cross_entropy(t64(2, 3), np.ones((2, 2))), ValueError, "probability targets"),
        (lambda: F.layer_norm(t64(2, 3), (4,)), RuntimeError, "layer_norm: normalized_shape"),
        (lambda: F.group_norm(t64(2, 3, 2), 2), RuntimeError, "not divisible by num_groups=2"),
        (lambda: F.interpolate(t64(1, 1, 2, 2)), ValueError, "exactly one of size and scale"),
        (lambda: F.interpolate(t64(1, 1, 2, 2), size=3, mode="bicubic"), ValueError, "mode"),
        (lambda: F.binary_cross_entropy(t64(2) + 5, np.zeros(2)), RuntimeError, r"in \[0, 1\]"),
        (lambda: F.einsum("ii->i", t64(2, 2)), ValueError, "repeated in one operand"),
        (lambda: F.einsum("ij,jk->ik", t64(2, 3), t64(2, 3)), ValueError, "letter 'j' has sizes"),
        (lambda: F.conv1d(t64(1, 2), t64(1, 2, 1)), ValueError, r"conv1d: expected \(N, C, L\)"),
    ],
)
def test_bad_arguments_are_refused_naming_the_function(call, error, match):
    with pytest.raises(error, match=match):
        call()
