"""nn.init: each function fills the tensor in place, with PyTorch's formula, and returns it."""

import math

import numpy as np
import pytest

from tinygrad_cnn import manual_seed, nn, tensor


def _draw(fn, shape, *args, seed=0, **kwargs):
    t = nn.Parameter(np.zeros(shape, np.float32))
    out = fn(t, *args, generator=np.random.default_rng(seed), **kwargs)
    assert out is t and t.dtype == np.float32
    return t.numpy()


def test_uniform_and_normal_draw_from_their_distribution_and_the_generator():
    u = _draw(nn.init.uniform_, (200, 100), -2.0, 3.0)
    assert -2.0 <= u.min() and u.max() < 3.0
    assert abs(u.mean() - 0.5) < 0.05 and abs(u.std() - 5 / math.sqrt(12)) < 0.02
    n = _draw(nn.init.normal_, (200, 100), 1.5, 0.5)
    assert abs(n.mean() - 1.5) < 0.01 and abs(n.std() - 0.5) < 0.01
    np.testing.assert_array_equal(n, _draw(nn.init.normal_, (200, 100), 1.5, 0.5))  # seeded
    assert not np.array_equal(n, _draw(nn.init.normal_, (200, 100), 1.5, 0.5, seed=1))
    manual_seed(3)
    a = nn.init.normal_(tensor(np.zeros(5, np.float32))).numpy().copy()
    manual_seed(3)
    np.testing.assert_array_equal(a, nn.init.normal_(tensor(np.zeros(5, np.float32))).numpy())


@pytest.mark.parametrize(
    "fn, args, value", [("constant_", (0.25,), 0.25), ("zeros_", (), 0.0), ("ones_", (), 1.0)]
)
def test_constant_zeros_and_ones_fill_every_element(fn, args, value):
    p = nn.Parameter(np.full((3, 4), 7.0, np.float32))
    version = p._version
    assert getattr(nn.init, fn)(p, *args) is p
    np.testing.assert_array_equal(p.numpy(), np.full((3, 4), value, np.float32))
    assert p._version > version and p.grad is None  # changed in place, outside the graph


@pytest.mark.parametrize("shape", [(6, 4), (8, 3, 3, 3)])
def test_xavier_uniform_bound_is_the_glorot_bound(shape):
    fan_in = shape[1] * int(np.prod(shape[2:]))
    fan_out = shape[0] * int(np.prod(shape[2:]))
    bound = 2.0 * math.sqrt(6.0 / (fan_in + fan_out))
    big = (shape[0] * 50, *shape[1:])  # many draws: the extremes come close to the bound
    fan_out_big = big[0] * int(np.prod(shape[2:]))
    bound_big = 2.0 * math.sqrt(6.0 / (fan_in + fan_out_big))
    w = _draw(nn.init.xavier_uniform_, big, gain=2.0)
    assert np.abs(w).max() <= bound_big and np.abs(w).max() > 0.95 * bound_big
    assert np.abs(_draw(nn.init.xavier_uniform_, shape, gain=2.0)).max() <= bound


def test_the_same_draws_as_pytorch_formulas_where_torch_is_installed():
    torch = pytest.importorskip("torch")
    for name in ("relu", "tanh", "sigmoid", "linear", "conv2d"):
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2)
    )
    w = torch.empty(5, 3, 2, 2)
    assert nn.init.calculate_fan_in_and_fan_out(tensor(w.numpy())) == (
        torch.nn.init._calculate_fan_in_and_fan_out(w)
    )
