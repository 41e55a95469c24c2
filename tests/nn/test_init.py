"""nn.init: each function fills the tensor in place, with PyTorch's formula, and returns it."""

import math

import numpy as np
import pytest

from tinygrad_cnn import Tensor, manual_seed, nn, tensor


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


def test_the_normal_initialisations_have_their_formulas_standard_deviations():
    w = nn.Parameter(np.zeros((400, 300), np.float32))
    nn.init.kaiming_normal_(
        w, mode="fan_out", nonlinearity="relu", generator=np.random.default_rng(0)
    )
    assert abs(w.numpy().std() - math.sqrt(2.0) / math.sqrt(400)) < 0.002
    nn.init.xavier_normal_(w, gain=2.0, generator=np.random.default_rng(0))
    assert abs(w.numpy().std() - 2.0 * math.sqrt(2.0 / 700)) < 0.002
    nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=1.0, generator=np.random.default_rng(0))
    assert w.numpy().min() >= -0.5 and w.numpy().max() <= 1.0


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 2, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    w = nn.init.orthogonal_(nn.Parameter(np.zeros(shape)), gain=1.5)
    m = w.numpy().reshape(shape[0], -1) / 1.5
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] == small else m.T @ m
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-10)


def test_calculate_gain_knows_every_nonlinearity_pytorch_does():
    torch = pytest.importorskip("torch")
    names = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
             "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]  # fmt: skip
    for name in names:
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        nn.init.calculate_gain("swish")


def test_clip_grad_value_and_parameters_to_vector_and_back():
    a, b = nn.Parameter(np.arange(4.0)), nn.Parameter(np.ones((2, 2)))
    a.grad, b.grad = Tensor(np.array([-3.0, 0.5, 2.0, 9.0])), Tensor(np.full((2, 2), -0.1))
    nn.utils.clip_grad_value_([a, b], 1.0)
    assert a.grad.tolist() == [-1.0, 0.5, 1.0, 1.0] and b.grad.numpy().min() == pytest.approx(-0.1)
    vec = nn.utils.parameters_to_vector([a, b])
    assert vec.shape == (8,) and vec.requires_grad
    nn.utils.vector_to_parameters(vec.detach() * 2, [a, b])
    assert a.tolist() == [0.0, 2.0, 4.0, 6.0] and b.tolist() == [[2.0, 2.0], [2.0, 2.0]]
