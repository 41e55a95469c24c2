"""SGD, Adam, AdamW, the learning-rate schedules and gradient clipping: PyTorch's rules, state for
resuming, argument errors."""

import numpy as np
import pytest

from tinygrad_cnn import nn, optim, tensor


def quadratic_steps(opt_factory, steps=3):
    """Minimise sum(p**2 * c) for a few steps; return the parameter after each step."""
    p = tensor(np.array([1.0, -2.0]), requires_grad=True)
    c = np.array([1.0, 3.0])
    opt = opt_factory([p])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        (p * p * c).sum().backward()
        opt.step()
        out.append(p.numpy().copy())
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
        p = tensor(np.array([1.0, -2.0]), requires_grad=True)
        opt = factory([p])
        for step in range(6):
            if step == split:  # a fresh optimizer that loads the old one's state
                state = opt.state_dict()
                opt = factory([p])
                opt.load_state_dict(state)
            opt.zero_grad()
            (p * p * p).sum().backward()
            opt.step()
        return p.numpy()

    np.testing.assert_array_equal(run(split=None), run(split=3))


def test_step_skips_parameters_without_gradients_and_bumps_versions():
    a = tensor(np.ones(2), requires_grad=True)
    b = tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5)
    y = (a * b).sum()  # mul saves a and b for backward
    (a * 2).sum().backward()
    opt.step()
    np.testing.assert_allclose(a.numpy(), [0.0, 0.0])
    np.testing.assert_allclose(b.numpy(), [1.0, 1.0])
    with pytest.raises(RuntimeError, match="modified in\\s+place"):
        y.backward()  # a changed under a graph that saved it


def test_argument_errors():
    p = tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="lr must be a finite number >= 0"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({p}, lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 is a ndarray"):
        optim.SGD([np.ones(2)], lr=0.1)
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
        (lambda p: optim.Adam([p, p]), ValueError, "Adam.add_param_group: parameter 1 .* twice"),
    ],
)
def test_bad_hyperparameters_are_refused(make, error, pattern):
    p = tensor(np.ones(2), requires_grad=True)
    with pytest.raises(error, match=pattern):
        make(p)


def test_frozen_parameters_are_accepted_and_left_alone():
    # as PyTorch: fine-tuning passes every parameter, some with requires_grad=False
    p, frozen = tensor(np.ones(2), requires_grad=True), tensor(np.ones(2))
    opt = optim.SGD([p, frozen], lr=0.5)
    (p * 3).sum().backward()
    opt.step()
    assert p.tolist() == [-0.5, -0.5] and frozen.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("factory", [lambda ps: optim.SGD(ps, 0.1, momentum=0.9), optim.Adam])
def test_load_state_dict_copies_so_later_steps_leave_the_snapshot_alone(factory):
    p = tensor(np.array([1.0, -2.0]), requires_grad=True)
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
    p = tensor(np.array([1.0, -2.0]), requires_grad=True)
    adam = optim.Adam([p])
    (p * p).sum().backward()
    adam.step()
    sgd = optim.SGD([p], lr=0.5, momentum=0.9)
    before = ([dict(g) for g in sgd.param_groups], dict(sgd.state))
    with pytest.raises(ValueError, match="another optimizer's"):
        sgd.load_state_dict(adam.state_dict())
    assert ([dict(g) for g in sgd.param_groups], sgd.state) == before
    bad = adam.state_dict()
    bad["state"][0]["exp_avg"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"exp_avg' of parameter 0 has shape \(3,\)"):
        adam.load_state_dict(bad)
    bad = adam.state_dict()
    bad["state"][0]["momentum_buffer"] = np.zeros(2)
    with pytest.raises(ValueError, match="Adam keeps"):
        adam.load_state_dict(bad)
    bad = adam.state_dict()
    bad["param_groups"][0]["lr"] = float("nan")
    with pytest.raises(ValueError, match="lr must be a finite"):
        adam.load_state_dict(bad)


def test_step_checks_every_gradient_before_it_changes_any_parameter():
    a = tensor(np.ones(2), requires_grad=True)
    b = tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = tensor(np.ones(2))
    b.grad = tensor(np.ones(2))  # wrong shape
    with pytest.raises(RuntimeError, match=r"gradient of parameter 1 in group 0 has shape \(2,\)"):
        opt.step()
    np.testing.assert_array_equal(a.numpy(), 1.0)
    assert a._vc[0] == 0


# -- AdamW -----------------------------------------------------------------------------------


def test_adamw_decays_the_weights_apart_from_the_gradient():
    ours = quadratic_steps(lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5), steps=4)
    p, c = np.array([1.0, -2.0]), np.array([1.0, 3.0])
    m = v = np.zeros(2)
    for t in range(1, 5):
        g = 2 * c * p  # the plain gradient: no L2 term in it
        p = p * (1 - 0.1 * 0.5)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(ours[t - 1], p)
    assert optim.AdamW(quadratic_params(), lr=1e-3).defaults["weight_decay"] == 0.01


def quadratic_params():
    return [tensor(np.array([1.0, -2.0]), requires_grad=True)]


def test_adamw_state_resumes_exactly_and_is_not_adams():
    def run(split):
        (p,) = quadratic_params()
        opt = optim.AdamW([p], lr=0.1)
        for step in range(5):
            if step == split:
                state = opt.state_dict()
                opt = optim.AdamW([p], lr=0.1)
                opt.load_state_dict(state)
            opt.zero_grad()
            (p * p * p).sum().backward()
            opt.step()
        return p.numpy()

    np.testing.assert_array_equal(run(None), run(2))
    adam = quadratic_steps(lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.5))
    adamw = quadratic_steps(lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5))
    assert not np.allclose(adam[-1], adamw[-1])


# -- lr_scheduler ----------------------------------------------------------------------------

from tinygrad_cnn.optim import lr_scheduler  # noqa: E402


def _lrs(make, epochs):
    opt = optim.SGD(quadratic_params(), lr=0.4)
    sched = make(opt)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(epochs):
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    assert sched.get_last_lr() == out[-1:] and sched.last_epoch == epochs
    return out


def test_step_lr_follows_its_formula():
    got = _lrs(lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 8)
    np.testing.assert_allclose(got, [0.4 * 0.5 ** (e // 3) for e in range(9)])


def test_cosine_annealing_follows_its_formula_and_comes_back_up():
    got = _lrs(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=0.1), 8)
    want = [0.1 + 0.3 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(9)]
    np.testing.assert_allclose(got, want)
    assert got[4] == pytest.approx(0.1) and got[8] == pytest.approx(0.4)


@pytest.mark.parametrize(
    "make",
    [
        lambda o: lr_scheduler.StepLR(o, 2, gamma=0.3),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
    ],
)
def test_a_schedule_resumes_exactly_from_its_state_dict(make):
    straight = _lrs(make, 6)
    opt = optim.SGD(quadratic_params(), lr=0.4)
    sched = make(opt)
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    assert state["last_epoch"] == 3 and state["base_lrs"] == [0.4]
    opt2 = optim.SGD(quadratic_params(), lr=0.4)
    opt2.load_state_dict(opt.state_dict())
    resumed = make(opt2)
    resumed.load_state_dict(state)
    rest = []
    for _ in range(3):
        resumed.step()
        rest.append(opt2.param_groups[0]["lr"])
    assert rest == pytest.approx(straight[4:], rel=1e-15)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda o: lr_scheduler.StepLR(o, 0), ValueError, "StepLR: step_size"),
        (lambda o: lr_scheduler.StepLR(o, 2, gamma=float("nan")), ValueError, "StepLR: gamma"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=2.5), ValueError, "T_max"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, 3, eta_min=-1), ValueError, "eta_min"),
        (lambda o: lr_scheduler.StepLR(o, 2, last_epoch=-2), ValueError, "last_epoch"),
        (lambda o: lr_scheduler.StepLR("opt", 2), TypeError, "StepLR: optimizer must be"),
        (
            lambda o: lr_scheduler.StepLR(o, 2).load_state_dict({"last_epoch": 1, "bogus": 2}),
            ValueError,
            "keys",
        ),
    ],
)
def test_schedule_argument_errors(make, error, match):
    opt = optim.SGD(quadratic_params(), lr=0.4)
    with pytest.raises(error, match=match):
        make(opt)


def test_a_bad_schedule_state_changes_nothing():
    sched = lr_scheduler.StepLR(optim.SGD(quadratic_params(), lr=0.4), 2)
    state = sched.state_dict()
    state["last_epoch"] = -3
    with pytest.raises(ValueError, match="last_epoch"):
        sched.load_state_dict(state)
    assert sched.last_epoch == 0


# -- clip_grad_norm_ ---------------------------------------------------------------------------


def _with_grads(*grads):
    params = [tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = tensor(g.copy())
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_scales_to_the_joint_norm(norm_type):
    grads = [np.array([3.0, -4.0]), np.array([[1.0, 2.0], [0.0, -2.0]])]
    flat = np.concatenate([g.ravel() for g in grads])
    if norm_type == np.inf:
        total = np.max(np.abs(flat))
    else:
        total = np.sum(np.abs(flat) ** norm_type) ** (1 / norm_type)
    params = _with_grads(*grads)
    got = nn.utils.clip_grad_norm_(params, 1.5, norm_type)
    assert got.item() == pytest.approx(total)
    coef = 1.5 / (total + 1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * coef)
    params = _with_grads(*grads)  # below the limit: unchanged
    nn.utils.clip_grad_norm_(params, 100.0, norm_type)
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(p.grad.numpy(), g)


def test_clip_grad_norm_skips_missing_gradients_and_takes_one_tensor():
    (p,) = _with_grads(np.array([6.0, 8.0]))
    q = tensor(np.zeros(2), requires_grad=True)  # no gradient
    assert nn.utils.clip_grad_norm_([p, q], 5.0).item() == pytest.approx(10.0)
    np.testing.assert_allclose(p.grad.numpy(), [3.0, 4.0], rtol=1e-6)
    assert q.grad is None
    (r,) = _with_grads(np.array([0.0, 2.0]))
    assert nn.utils.clip_grad_norm_(r, 1.0).item() == pytest.approx(2.0)


def test_clip_grad_norm_non_finite():
    (p,) = _with_grads(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm .* is inf"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad.numpy(), [np.inf, 1.0])  # left as it was
    nn.utils.clip_grad_norm_(p, 1.0)  # as PyTorch: scaled by max_norm / inf = 0
    np.testing.assert_array_equal(p.grad.numpy(), [np.nan, 0.0])


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((1.0, 0.0), ValueError, "norm_type must be > 0"),
        ((float("nan"),), ValueError, "max_norm"),
        ((-1.0,), ValueError, "max_norm"),
        (("1",), TypeError, "max_norm"),
    ],
)
def test_clip_grad_norm_argument_errors(args, error, match):
    with pytest.raises(error, match=f"clip_grad_norm_: {match}"):
        nn.utils.clip_grad_norm_(_with_grads(np.ones(2)), *args)
    with pytest.raises(TypeError, match="clip_grad_norm_: parameters must be Tensors"):
        nn.utils.clip_grad_norm_([np.ones(2)], 1.0)


# -- against PyTorch, where it is installed --------------------------------------------------


def test_adamw_and_the_schedules_match_pytorch():
    torch = pytest.importorskip("torch")
    w = np.random.default_rng(0).standard_normal((3, 4))
    p, tp = tensor(w.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    opt, topt = optim.AdamW([p], lr=0.1), torch.optim.AdamW([tp], lr=0.1)
    pairs = [
        (
            lr_scheduler.CosineAnnealingLR(opt, 7, 1e-3),
            torch.optim.lr_scheduler.CosineAnnealingLR(topt, 7, 1e-3),
        ),
    ]
    for epoch in range(16):
        g = np.sin(w * (epoch + 1))
        p.grad, tp.grad = tensor(g.copy()), torch.tensor(g.copy())
        opt.step()
        topt.step()
        for ours, theirs in pairs:
            ours.step()
            theirs.step()
            want = theirs.get_last_lr()[0]
            assert ours.get_last_lr()[0] == pytest.approx(want, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-14)
    o2 = optim.SGD(quadratic_params(), lr=0.3)
    t2 = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.3)
    s2, ts2 = lr_scheduler.StepLR(o2, 3, 0.2), torch.optim.lr_scheduler.StepLR(t2, 3, 0.2)
    for _ in range(10):
        o2.step()
        t2.step()
        s2.step()
        ts2.step()
        assert s2.get_last_lr()[0] == pytest.approx(ts2.get_last_lr()[0], rel=1e-12)


def test_param_groups_read_and_write_the_rate_as_pytorch_code_does():
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    (group,) = opt.param_groups
    assert group["lr"] == 0.1 and group["momentum"] == 0.9 and len(group["params"]) == 2
    for g in opt.param_groups:
        g["lr"] = g["lr"] * 0.5
    assert opt.param_groups[0]["lr"] == 0.05 and opt.state_dict()["param_groups"][0]["lr"] == 0.05
    with pytest.raises(ValueError, match=r"SGD.param_groups: lr must be a finite number \(not NaN"):
        opt.param_groups[0]["lr"] = float("nan")
    with pytest.raises(ValueError, match="SGD.param_groups: momentum must be a finite number >= 0"):
        opt.param_groups[0]["momentum"] = -1.0
    assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[0]["momentum"] == 0.9
    with pytest.raises(KeyError, match="'params' cannot be replaced"):
        opt.param_groups[0]["params"] = []


def test_zero_grad_sets_to_none_by_default_or_zeroes_in_place():
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(tensor(np.ones((3, 2), np.float32))).sum().backward()
    grad = model.weight.grad
    opt.zero_grad(set_to_none=False)
    assert model.weight.grad is grad and grad.tolist() == [[0.0, 0.0]]
    opt.zero_grad()
    assert model.weight.grad is None
