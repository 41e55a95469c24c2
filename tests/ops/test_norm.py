"""The normalisation kernels: sums as BLAS products on the two layouts that allow them, equal to
NumPy's reductions on every axis set; and the property checks of ``normalize`` and
``normalize_grad`` with that path forced (test arrays are shorter than ``MIN_RUN`` by
themselves, so the plain property tests reach NumPy's reductions only)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cnn as tg
from tinygrad_cnn import REGISTRY, tensor, testing
from tinygrad_cnn import functional as F
from tinygrad_cnn.ops import norm, workspace
from tinygrad_cnn.ops.xp import ArrayOps

SHAPES = [(1, 4, 4), (2, 3, 5), (3, 2), (2, 3, 4, 5), (1, 1, 1), (4,), (2, 1, 6)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sums_and_dot_sums_equal_numpys_over_every_axis_set(shape, dtype, monkeypatch):
    monkeypatch.setattr(norm, "MIN_RUN", 1)  # rows of any length take the BLAS path
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for k in range(1, len(shape) + 1):
        for axes in itertools.combinations(range(len(shape)), k):
            want = a.sum(axis=axes, keepdims=True)
            np.testing.assert_allclose(norm.sums(a, axes), want, rtol=rtol, atol=rtol)
            want = (a * b).sum(axis=axes, keepdims=True)
            np.testing.assert_allclose(norm.dot_sums(a, b, axes), want, rtol=rtol, atol=rtol)


def test_the_blas_path_is_taken_on_exactly_the_two_layouts(monkeypatch):
    monkeypatch.setattr(norm, "MIN_RUN", 1)
    a = np.zeros((2, 3, 4, 5))
    assert norm._rows(a, (0, 2, 3))[0].shape == (6, 20)  # batch norm: every C-th row
    assert norm._rows(a, (2, 3))[0].shape == (6, 20)  # layer norm: the last dims
    assert norm._rows(a, (1, 2, 3))[0].shape == (2, 60)
    assert norm._rows(a, (0, 1)) is None  # other axis sets: NumPy
    assert norm._rows(a[:, :, :, ::2], (2, 3)) is None  # not contiguous
    assert norm._rows(a.astype(np.float16), (2, 3)) is None  # no BLAS for float16
    monkeypatch.setattr(norm, "MIN_RUN", 21)
    assert norm._rows(a, (2, 3)) is None  # rows shorter than MIN_RUN


@pytest.mark.parametrize("name", ["normalize", "normalize_grad"])
@settings(max_examples=max(10, settings().max_examples // 2))
@given(data=st.data())
def test_the_property_checks_hold_with_the_blas_sums(name, data):
    op = REGISTRY[name]
    case = data.draw(testing.strategy_for(op), label="case")
    saved, norm.MIN_RUN = norm.MIN_RUN, 1
    try:
        testing.check_vjp(op, case)
        testing.check_double_vjp(op, case)
        testing.check_invariants(op, case)
    finally:
        norm.MIN_RUN = saved


def test_the_first_order_vjp_reads_what_the_forward_saved(monkeypatch):
    # only normalize_grad's kernel runs in backward, handed the output and 1 / std
    calls = []
    original = norm.normalized
    monkeypatch.setattr(norm, "normalized", lambda *a: calls.append(a) or original(*a))
    x = tensor(np.random.default_rng(1).standard_normal((4, 3, 5, 5)), requires_grad=True)
    y = F.batch_norm(x, None, None, training=True)
    assert len(calls) == 1
    y.backward(np.ones(y.shape))
    assert len(calls) == 1


def test_batch_norm_updates_the_running_estimates_from_the_forwards_statistics():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 3, 4, 4)) * 2 + 1
    for requires_grad in (True, False):  # recorded, or not: the same estimates
        mean, var = tensor(np.zeros(3)), tensor(np.ones(3))
        F.batch_norm(tensor(x, requires_grad=requires_grad), mean, var, training=True)
        np.testing.assert_allclose(mean.numpy(), 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-12)
        want = 0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1)
        np.testing.assert_allclose(var.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("weight", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("requires_grad", [True, False])
def test_batch_norm_with_or_without_weight_and_bias_matches_pytorch(weight, bias, requires_grad):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    w, b = (rng.standard_normal(3).astype(np.float32) for _ in range(2))
    ours, theirs = [], []
    for m, out in ((tg, ours), (torch, theirs)):
        mean, var = m.zeros(3), m.ones(3)
        xt = m.tensor(x, requires_grad=requires_grad)
        args = [m.tensor(p, requires_grad=requires_grad) if on else None
                for p, on in ((w, weight), (b, bias))]  # fmt: skip
        y = m.nn.functional.batch_norm(xt, mean, var, *args, training=True)
        if requires_grad:
            y.backward(m.tensor(x * 2 - 1))
        out += [y.detach().numpy(), mean.numpy(), var.numpy()]
        out += [t.grad.numpy() for t in (xt, *args) if t is not None] if requires_grad else []
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a, t, rtol=1e-4, atol=1e-5)


def composed(g, a, weight, axes, need):
    """normalize's affine VJP as the composition of kernels (ArrayOps), never fused."""
    _, mean, _, inv_std = norm.normalized(a, axes, 1e-5)
    return norm.affine_grad(ArrayOps, g, a, weight, axes, 1e-5, need, mean, inv_std)


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (6, 2, 7), (3, 5), (2, 4, 16, 16)])
@pytest.mark.parametrize("need", [(True, True, True), (False, True, True), (True, False),
                                  (True, True, False), (False, False, True)])  # fmt: skip
@pytest.mark.parametrize("strided_g", [False, True])
def test_the_fused_batch_norm_vjp_equals_the_composition(shape, need, strided_g, monkeypatch):
    monkeypatch.setattr(norm, "MIN_RUN", 1)  # the BLAS sums where the layout allows
    rng = np.random.default_rng(4)
    a = rng.standard_normal(shape) * 3 + 2
    g = rng.standard_normal(shape)
    if strided_g:  # an upstream gradient that is a view (broadcast, or every other element)
        g = np.broadcast_to(g[:1], shape) if len(shape) == 2 else g[..., ::-1]
    axes = (0, *range(2, len(shape)))
    weight = rng.standard_normal((shape[1],) + (1,) * (len(shape) - 2))
    _, mean, _, inv_std = norm.normalized(a, axes, 1e-5)
    fused = norm.fused_affine_grad(g, a, weight, axes, need, mean, inv_std)
    assert fused is not None
    for got, want in zip(fused, composed(g, a, weight, axes, need), strict=True):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_the_fused_vjp_leaves_other_weights_and_mixed_dtypes_to_the_composition():
    a, axes, need = np.ones((4, 3, 2)), (0, 2), (True, True)
    stats = norm.normalized(a + np.arange(2), axes, 1e-5)
    mean, inv_std = stats[1], stats[3]
    fused = norm.fused_affine_grad
    assert fused(a, a, np.ones((3, 1)), axes, need, mean, inv_std) is not None
    assert fused(a, a, np.ones((3, 2)), axes, need, mean, inv_std) is None  # varies along 2
    assert fused(a, a, np.ones((3, 1), np.float32), axes, need, mean, inv_std) is None
    one = np.ones((4, 1, 2))  # one channel: the weight is constant along axis 1 too
    assert fused(one, one, np.ones((1, 1)), axes, need, mean[:, :1], inv_std[:, :1]) is None


@pytest.mark.parametrize("layer", ["batch", "batch_affine", "layer", "group"])
def test_the_passes_split_across_threads_give_the_same_bits(layer):
    rng = np.random.default_rng(5)
    x0, g = rng.standard_normal((2, 5, 4, 3, 3)) * 2 + 1  # 5 images: uneven parts
    w0, b0 = rng.standard_normal((2, 4))

    def run():
        x, w, b = (tensor(v, requires_grad=True) for v in (x0, w0, b0))
        if layer.startswith("batch"):
            affine = (w, b) if layer == "batch_affine" else (None, None)
            y = F.batch_norm(x, None, None, *affine, training=True)
        elif layer == "layer":
            y = F.layer_norm(x, (3, 3))
        else:
            y = F.group_norm(x, 2)
        y.backward(g)
        grads = [t.grad.numpy() for t in (x, w, b) if t.grad is not None]
        return [y.numpy(), *grads]

    with workspace.threads(1):
        one = run()
    with workspace.threads(3, 0):  # every pass split, even of these small arrays
        three = run()
    assert len(one) == (4 if layer == "batch_affine" else 2)
    for a, b in zip(one, three, strict=True):
        np.testing.assert_array_equal(a, b)
