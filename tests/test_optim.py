"""SGD and Adam: PyTorch's update rules, state for resuming, argument errors."""

import numpy as np
import pytest

from tinygrad_cnn import Tensor, nn, optim


def quadratic_steps(opt_factory, steps=3):
    """Minimise sum(p**2 * c) for a few steps; return the parameter after each step."""
    p = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    c = np.array([1.0, 3.0])
    opt = opt_factory([p])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        (p * p * c).sum().backward()
        opt.step()
        out.append(p.data.copy())
    return out


def reference_sgd(lr, momentum=0.0, wd=0.0, nesterov=False, steps=3):
    p, c, buf, out = np.array([1.0, -2.0]), np.array([1.0, 3.0]), None, []
    for _ in range(steps):
        g = 2 * c * p + wd * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p)
    return out


@pytest.mark.parametrize(
    "kw",
    [dict(), dict(momentum=0.9), dict(momentum=0.9, nesterov=True), dict(weight_decay=0.1)],
)
def test_sgd_matches_the_pytorch_rule(kw):
    ours = quadratic_steps(lambda ps: optim.SGD(ps, lr=0.1, **kw))
    ref = reference_sgd(
        0.1, kw.get("momentum", 0.0), kw.get("weight_decay", 0.0), kw.get("nesterov", False)
    )
    np.testing.assert_allclose(ours, ref)


def test_adam_matches_the_paper():
    ours = quadratic_steps(lambda ps: optim.Adam(ps, lr=0.1), steps=4)
    p, c = np.array([1.0, -2.0]), np.array([1.0, 3.0])
    m = v = np.zeros(2)
    for t in range(1, 5):
        g = 2 * c * p
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(ours[t - 1], p)


@pytest.mark.parametrize("factory", [lambda ps: optim.SGD(ps, 0.1, momentum=0.9), optim.Adam])
def test_state_dict_resumes_exactly(factory):
    def run(split):
        p = Tensor(np.array([1.0, -2.0]), requires_grad=True)
        opt = factory([p])
        for step in range(6):
            if step == split:  # a fresh optimizer that loads the old one's state
                state = opt.state_dict()
                opt = factory([p])
                opt.load_state_dict(state)
            opt.zero_grad()
            (p * p * p).sum().backward()
            opt.step()
        return p.data

    np.testing.assert_array_equal(run(split=None), run(split=3))


def test_step_skips_parameters_without_gradients_and_bumps_versions():
    a = Tensor(np.ones(2), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5)
    y = (a * b).sum()  # mul saves a and b for backward
    (a * 2).sum().backward()
    opt.step()
    np.testing.assert_allclose(a.data, [0.0, 0.0])
    np.testing.assert_allclose(b.data, [1.0, 1.0])
    with pytest.raises(RuntimeError, match="modified in\\s+place"):
        y.backward()  # a changed under a graph that saved it


def test_argument_errors():
    p = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="lr must be a finite number >= 0"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="requires grad"):
        optim.SGD([Tensor(np.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"call it: model.parameters\(\)"):
        optim.SGD(lin.parameters, lr=0.1)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))


@pytest.mark.parametrize(
    "make, error, pattern",
    [
        (lambda p: optim.SGD([p], lr=float("nan")), ValueError, "SGD: lr must be a finite"),
        (lambda p: optim.SGD([p], lr=float("inf")), ValueError, "SGD: lr must be a finite"),
        (lambda p: optim.SGD([p], 0.1, momentum=float("nan")), ValueError, "SGD: momentum"),
        (lambda p: optim.SGD([p], 0.1, weight_decay=float("inf")), ValueError, "weight_decay"),
        (lambda p: optim.SGD([p], 0.1, dampening=-1.0), ValueError, "SGD: dampening"),
        (lambda p: optim.SGD([p], lr="0.1"), TypeError, "SGD: lr must be a number"),
        (lambda p: optim.SGD([p], lr=None), TypeError, "SGD: lr must be a number"),
        (lambda p: optim.Adam([p], eps=float("nan")), ValueError, "Adam: eps must be a finite"),
        (lambda p: optim.Adam([p], betas=0.9), TypeError, "Adam: betas must be a pair"),
        (lambda p: optim.Adam([p], betas=(0.9,)), TypeError, "Adam: betas must be a pair"),
        (lambda p: optim.Adam([p], betas=(float("nan"), 0.9)), ValueError, "Adam: betas"),
        (lambda p: optim.Adam([p, p]), ValueError, "Adam: parameter 1 is parameter 0 again"),
    ],
)
def test_bad_hyperparameters_are_refused(make, error, pattern):
    p = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(error, match=pattern):
        make(p)


def test_lr_setter_refuses_nan():
    opt = optim.SGD([Tensor(np.ones(2), requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="lr must be a finite"):
        opt.lr = float("nan")
    assert opt.lr == 0.1


@pytest.mark.parametrize("factory", [lambda ps: optim.SGD(ps, 0.1, momentum=0.9), optim.Adam])
def test_load_state_dict_copies_so_later_steps_leave_the_snapshot_alone(factory):
    p = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = factory([p])
    (p * p).sum().backward()
    opt.step()
    sd = opt.state_dict()
    frozen = {k: np.array(v, copy=True) for k, v in sd["state"][0].items()}
    other = factory([p])
    other.load_state_dict(sd)
    for _ in range(2):
        other.zero_grad()
        (p * p).sum().backward()
        other.step()
    for k, v in frozen.items():
        np.testing.assert_array_equal(sd["state"][0][k], v)


def test_loading_another_optimizers_state_is_refused_before_anything_changes():
    p = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    adam = optim.Adam([p])
    (p * p).sum().backward()
    adam.step()
    sgd = optim.SGD([p], lr=0.5, momentum=0.9)
    before = (dict(sgd.defaults), dict(sgd.state))
    with pytest.raises(ValueError, match="another optimizer's"):
        sgd.load_state_dict(adam.state_dict())
    assert (sgd.defaults, sgd.state) == before
    bad = adam.state_dict()
    bad["state"][0]["exp_avg"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"exp_avg' of parameter 0 has shape \(3,\)"):
        adam.load_state_dict(bad)
    bad = adam.state_dict()
    bad["state"][0]["momentum_buffer"] = np.zeros(2)
    with pytest.raises(ValueError, match="Adam keeps"):
        adam.load_state_dict(bad)
    bad = adam.state_dict()
    bad["defaults"]["lr"] = float("nan")
    with pytest.raises(ValueError, match="lr must be a finite"):
        adam.load_state_dict(bad)


def test_step_checks_every_gradient_before_it_changes_any_parameter():
    a = Tensor(np.ones(2), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = Tensor(np.ones(2))
    b.grad = Tensor(np.ones(2))  # wrong shape
    with pytest.raises(RuntimeError, match=r"gradient of parameter 1 has shape \(2,\)"):
        opt.step()
    np.testing.assert_array_equal(a.data, 1.0)
    assert a._vc[0] == 0
