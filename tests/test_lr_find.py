"""The learning-rate range test restores what it touched bit for bit, stops at divergence and
suggests a rate; the sharpness is the dense Hessian's top eigenvalue."""

import numpy as np
import pytest

from tinygrad_cnn import Tensor, data, lr_find, models, nn, optim
from tinygrad_cnn import functional as F
from tinygrad_cnn.monitor import top_hessian_eigenvalue
from tinygrad_cnn.random import manual_seed
from tinygrad_cnn.training import epoch_loader


def snapshot(model, opt):
    arrays = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    grads = [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()]
    state = opt.state_dict()
    opt_arrays = {(i, k): np.array(v.numpy() if hasattr(v, "numpy") else v, copy=True)
                  for i, s in state["state"].items() for k, v in s.items()}  # fmt: skip
    return arrays, grads, opt_arrays, [dict(g) for g in state["param_groups"]], model.training


def same(a, b):
    arrays_a, grads_a, opt_a, groups_a, mode_a = a
    arrays_b, grads_b, opt_b, groups_b, mode_b = b
    assert arrays_a.keys() == arrays_b.keys() and opt_a.keys() == opt_b.keys()
    for k in arrays_a:
        assert arrays_a[k].tobytes() == arrays_b[k].tobytes(), k
    for ga, gb in zip(grads_a, grads_b):
        assert (ga is None and gb is None) or ga.tobytes() == gb.tobytes()
    for k in opt_a:
        assert opt_a[k].tobytes() == opt_b[k].tobytes(), k
    assert groups_a == groups_b and mode_a == mode_b


def test_the_model_and_the_optimizer_are_restored_bit_for_bit():
    manual_seed(0)
    rng = np.random.default_rng(0)
    model = models.resnet(1, 4)  # BatchNorm: running statistics are buffers
    x, y = rng.standard_normal((32, 1, 8, 8)).astype(np.float32), rng.integers(0, 4, 32)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    F.cross_entropy(model(Tensor(x)), y).backward()
    opt.step()  # state to restore, and .grad left set
    model.eval()
    before = snapshot(model, opt)
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)]
    result = lr_find(model, F.cross_entropy, batches, opt, num_iter=12, end_lr=1.0)
    assert len(result.lrs) >= 5 and result.sharpness is not None
    same(before, snapshot(model, opt))


def test_the_sweep_stops_at_divergence_and_suggests_a_rate_before_it():
    manual_seed(0)
    ds = data.load_digits()
    model = models.default_model((1, 8, 8), 10)
    result = lr_find(model, F.cross_entropy, epoch_loader(ds.train, 32, 0, 1), end_lr=1e4,
                     num_iter=80, sharpness=False)  # fmt: skip
    assert result.diverged and len(result.lrs) < 80
    rates = np.array(result.lrs)
    np.testing.assert_allclose(np.diff(np.log(rates)), np.log(1e11) / 79)  # exponential
    low = int(np.argmin(result.smoothed))
    assert result.suggestion is not None and 1e-4 < result.suggestion <= rates[low]
    assert result.sharpness is None and "suggestion=" in repr(result)


def test_the_smoothed_loss_is_the_bias_corrected_moving_average():
    model = nn.Sequential(nn.Linear(3, 2))
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((8, 3)), rng.integers(0, 2, 8)) for _ in range(3)]
    r = lr_find(model, F.cross_entropy, batches, num_iter=6, smooth=0.3, end_lr=1e-3,
                sharpness=False)  # fmt: skip
    avg = 0.0
    for i, (loss, s) in enumerate(zip(r.losses, r.smoothed)):
        avg = 0.7 * avg + 0.3 * loss
        assert s == pytest.approx(avg / (1 - 0.7 ** (i + 1)), rel=1e-12)


def dense_hessian(model, x, y, eps=1e-5):
    """The Hessian of the loss over all parameters, by central differences of the gradient."""
    params = list(model.parameters())

    def gradient():
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
        return np.concatenate([p.grad.numpy().ravel() for p in params])

    flat = [(p, i) for p in params for i in range(p.numel())]
    columns = []
    for p, i in flat:
        view = p._data.reshape(-1)
        keep = view[i]
        view[i] = keep + eps
        up = gradient()
        view[i] = keep - eps
        down = gradient()
        view[i] = keep
        columns.append((up - down) / (2 * eps))
    h = np.array(columns)
    return (h + h.T) / 2


def test_the_sharpness_is_the_top_eigenvalue_of_the_dense_hessian():
    rng = np.random.default_rng(3)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    x, y = Tensor(rng.standard_normal((10, 3))).double(), rng.integers(0, 3, 10)
    expected = np.linalg.eigvalsh(dense_hessian(model, x, y)).max()
    got = top_hessian_eigenvalue(model, F.cross_entropy, (x, y), iters=500, tol=1e-12)
    assert got == pytest.approx(expected, rel=1e-6)


def test_a_larger_negative_eigenvalue_does_not_hide_the_top_one():
    # the loss -3 w0^2 + w1^2 has Hessian diag(-6, 2): the largest eigenvalue is 2, not -6
    model = nn.Linear(2, 1, bias=False).double()
    x = Tensor(np.eye(2)).double()

    def loss_fn(out, _):
        return -3 * out[0, 0] ** 2 + out[1, 0] ** 2

    top = top_hessian_eigenvalue(model, loss_fn, (x, None), iters=200, tol=1e-12)
    assert top == pytest.approx(2.0, rel=1e-8)


def test_the_plot_marks_the_suggestion_and_two_over_lambda(tmp_path):
    pytest.importorskip("matplotlib")
    manual_seed(0)
    ds = data.load_digits()
    model = models.default_model((1, 8, 8), 10)
    r = lr_find(model, F.cross_entropy, epoch_loader(ds.train, 32, 0, 1), num_iter=30)
    assert r.stability_limit == pytest.approx(2 / r.sharpness)
    path = r.plot(str(tmp_path / "lr_find.png"))
    assert open(path, "rb").read(4) == b"\x89PNG"


def test_bad_arguments_are_refused_clearly():
    model = nn.Sequential(nn.Linear(2, 2))
    batches = [(np.ones((2, 2)), np.array([0, 1]))]
    with pytest.raises(ValueError, match="lr_find: end_lr"):
        lr_find(model, F.cross_entropy, batches, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="lr_find: num_iter"):
        lr_find(model, F.cross_entropy, batches, num_iter=2)
    with pytest.raises(ValueError, match="lr_find: smooth"):
        lr_find(model, F.cross_entropy, batches, smooth=0)
    with pytest.raises(ValueError, match="the loader gave no batches"):
        lr_find(model, F.cross_entropy, [])
    with pytest.raises(TypeError, match="lr_find: model"):
        lr_find("model", F.cross_entropy, batches)
    with pytest.raises(TypeError, match="pairs"):
        lr_find(model, F.cross_entropy, [np.ones(2)])
