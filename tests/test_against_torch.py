"""Second derivatives against PyTorch, in float64: a gradient penalty and a Hessian-vector
product through conv2d, conv_transpose2d, max and average pooling, tanh, relu, a linear layer
and cross-entropy. Runs only where torch happens to be installed (never a dependency)."""

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import functional as F
from tinygrad_cnn import tensor

torch = pytest.importorskip("torch")
tf = torch.nn.functional


def net(fn, p, x, y):
    h = fn["max_pool2d"](fn["relu"](fn["conv2d"](x, p["w1"], p["b1"], padding=1)), 2)
    h = fn["conv_transpose2d"](h, p["w2"], p["b2"], stride=2, padding=1, output_padding=1)
    h = fn["max_pool2d"](fn["avg_pool2d"](h.tanh(), 3, 2, 1), 2, 1, ceil_mode=True)
    return fn["cross_entropy"](h.reshape(2, -1) @ p["w3"].T + p["b3"], y)


NAMES = ["relu", "conv2d", "max_pool2d", "conv_transpose2d", "avg_pool2d", "cross_entropy"]
OURS = {n: getattr(F, n) for n in NAMES}
THEIRS = {n: getattr(tf, n) if n != "relu" else torch.relu for n in NAMES}


def test_gradient_penalty_and_hvp_match_pytorch():
    rng = np.random.default_rng(0)
    shapes = {"w1": (3, 2, 3, 3), "b1": (3,), "w2": (3, 4, 3, 3), "b2": (4,), "w3": (5, 36)}
    params = {k: rng.standard_normal(s) * 0.5 for k, s in {**shapes, "b3": (5,)}.items()}
    x0, y = rng.standard_normal((2, 2, 8, 8)), np.array([1, 3])
    v = {k: rng.standard_normal(a.shape) for k, a in params.items()}

    tp = {k: torch.tensor(a, requires_grad=True) for k, a in params.items()}
    tx, ty = torch.tensor(x0, requires_grad=True), torch.tensor(y)
    (tgx,) = torch.autograd.grad(net(THEIRS, tp, tx, ty), tx, create_graph=True)
    t_pen = torch.autograd.grad((tgx * tgx).sum(), list(tp.values()))
    tgs = torch.autograd.grad(net(THEIRS, tp, tx, ty), list(tp.values()), create_graph=True)
    t_dot = sum((g * torch.tensor(v[k])).sum() for g, k in zip(tgs, tp))
    t_hv = torch.autograd.grad(t_dot, list(tp.values()))

    op = {k: tensor(a.copy(), requires_grad=True) for k, a in params.items()}
    ox = tensor(x0.copy(), requires_grad=True)
    (ogx,) = tg.grad(net(OURS, op, ox, y), ox, create_graph=True)
    o_pen = tg.grad((ogx * ogx).sum(), list(op.values()))
    o_hv = tg.hvp(
        lambda *ps: net(OURS, dict(zip(op, ps)), ox, y), list(op.values()), list(v.values())
    )

    for name, a, b in zip(op, t_pen, o_pen):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)
    for name, a, b in zip(op, t_hv, o_hv):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)
