"""Parameter groups, RMSprop/Adagrad/Adadelta/amsgrad, and every schedule, step for step: against
PyTorch where it is installed, against the update formulas otherwise; and state dicts that move
between the two libraries."""

import numpy as np
import pytest

import tinygrad_cnn
from tinygrad_cnn import optim, tensor
from tinygrad_cnn.optim import lr_scheduler


def _train(m, make, steps=6, groups=False):
    """A few steps of a small problem in library ``m``: the parameters after, the optimizer."""
    rng = np.random.default_rng(0)
    w = m.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = m.tensor(rng.standard_normal(4), requires_grad=True)
    params = [{"params": [w]}, {"params": [b], "lr": 0.05}] if groups else [w, b]
    opt = make(m.optim, params)
    for _ in range(steps):
        opt.zero_grad()
        x = m.tensor(rng.standard_normal((5, 3)))
        loss = ((x @ w + b) ** 2).sum() / 5 + (w**3).sum() * 0.1
        loss.backward()
        opt.step()
    return [w.detach().numpy().copy(), b.detach().numpy().copy()], opt


OPTIMIZERS = {
    "sgd": lambda o, p: o.SGD(p, lr=0.01),
    "sgd-momentum": lambda o, p: o.SGD(p, lr=0.01, momentum=0.9, weight_decay=0.01, dampening=0.1),
    "sgd-nesterov-maximize": lambda o, p: o.SGD(
        p, lr=0.01, momentum=0.9, nesterov=True, maximize=True
    ),
    "adam": lambda o, p: o.Adam(p, lr=0.01),
    "adam-amsgrad": lambda o, p: o.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    "adamw-amsgrad": lambda o, p: o.AdamW(p, lr=0.01, amsgrad=True),
    "rmsprop": lambda o, p: o.RMSprop(p, lr=0.01),
    "rmsprop-centered": lambda o, p: o.RMSprop(
        p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1
    ),
    "adagrad": lambda o, p: o.Adagrad(
        p, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.01
    ),
    "adadelta": lambda o, p: o.Adadelta(p, weight_decay=0.01),
    "adamax": lambda o, p: o.Adamax(p, lr=0.01, weight_decay=0.01),
    "nadam": lambda o, p: o.NAdam(p, lr=0.01, weight_decay=0.01),
    "nadam-decoupled": lambda o, p: o.NAdam(
        p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True
    ),
    "radam": lambda o, p: o.RAdam(p, lr=0.01),
    "radam-decoupled": lambda o, p: o.RAdam(
        p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True
    ),
}


@pytest.mark.parametrize("groups", [False, True], ids=["one-group", "two-groups"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_match_pytorch_step_for_step(name, groups):
    torch = pytest.importorskip("torch")
    theirs, topt = _train(torch, OPTIMIZERS[name], groups=groups)
    ours, opt = _train(tinygrad_cnn, OPTIMIZERS[name], groups=groups)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    mine, want = opt.state_dict(), topt.state_dict()
    assert mine["param_groups"] == want["param_groups"]
    assert mine["state"].keys() == want["state"].keys()
    for i, s in want["state"].items():
        assert mine["state"][i].keys() == s.keys()
        for k, v in s.items():
            np.testing.assert_allclose(
                mine["state"][i][k].numpy(), v.numpy(), rtol=1e-10, atol=1e-12
            )


def _one_param_steps(make, grads):
    p = tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = make([p])
    out = []
    for g in grads:
        p.grad = tensor(g)
        opt.step()
        out.append(p.numpy().copy())
    return out


GRADS = [np.array([0.5, -1.0]), np.array([0.2, 3.0]), np.array([-1.0, 0.1])]


def test_rmsprop_follows_its_formula():
    got = _one_param_steps(lambda ps: optim.RMSprop(ps, lr=0.1, alpha=0.9, momentum=0.5), GRADS)
    p, sq, buf = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for g, mine in zip(GRADS, got):
        sq = 0.9 * sq + 0.1 * g * g
        buf = 0.5 * buf + g / (np.sqrt(sq) + 1e-8)
        p = p - 0.1 * buf
        np.testing.assert_allclose(mine, p)


def test_adagrad_follows_its_formula():
    got = _one_param_steps(lambda ps: optim.Adagrad(ps, lr=0.5, lr_decay=0.1), GRADS)
    p, total = np.array([1.0, -2.0]), np.zeros(2)
    for t, (g, mine) in enumerate(zip(GRADS, got), start=1):
        total = total + g * g
        p = p - 0.5 / (1 + (t - 1) * 0.1) * g / (np.sqrt(total) + 1e-10)
        np.testing.assert_allclose(mine, p)


def test_adadelta_follows_its_formula():
    got = _one_param_steps(lambda ps: optim.Adadelta(ps, rho=0.8), GRADS)
    p, sq, acc = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for g, mine in zip(GRADS, got):
        sq = 0.8 * sq + 0.2 * g * g
        delta = np.sqrt(acc + 1e-6) / np.sqrt(sq + 1e-6) * g
        acc = 0.8 * acc + 0.2 * delta * delta
        p = p - delta
        np.testing.assert_allclose(mine, p)


def test_adamax_follows_its_formula():
    got = _one_param_steps(lambda ps: optim.Adamax(ps, lr=0.1, betas=(0.5, 0.8)), GRADS)
    p, m, u = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for t, (g, mine) in enumerate(zip(GRADS, got), start=1):
        m = 0.5 * m + 0.5 * g
        u = np.maximum(0.8 * u, np.abs(g) + 1e-8)
        p = p - 0.1 / (1 - 0.5**t) * m / u
        np.testing.assert_allclose(mine, p)


def test_amsgrad_divides_by_the_largest_second_moment_seen():
    got = _one_param_steps(lambda ps: optim.Adam(ps, lr=0.1, betas=(0.5, 0.5), amsgrad=True), GRADS)
    p, m, v, vmax = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2), np.zeros(2)
    for t, (g, mine) in enumerate(zip(GRADS, got), start=1):
        m, v = 0.5 * m + 0.5 * g, 0.5 * v + 0.5 * g * g
        vmax = np.maximum(vmax, v)
        p = p - 0.1 / (1 - 0.5**t) * m / (np.sqrt(vmax) / np.sqrt(1 - 0.5**t) + 1e-8)
        np.testing.assert_allclose(mine, p)


# -- parameter groups --------------------------------------------------------------------------


def _params(n=2):
    return [tensor(np.ones(2), requires_grad=True) for _ in range(n)]


def test_each_group_has_its_own_rate_and_falls_back_to_the_defaults():
    a, b, c = _params(3)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    opt.add_param_group({"params": [c], "weight_decay": 0.5})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0, 0.9, 0]
    for p in (a, b, c):
        p.grad = tensor(np.ones(2))
    opt.step()
    assert a.tolist() == [0.9, 0.9] and b.tolist() == [0.5, 0.5] and c.tolist() == [0.85, 0.85]
    assert list(opt.state) == [b]  # only momentum keeps state
    assert opt.state_dict()["param_groups"][2]["params"] == [2]


@pytest.mark.parametrize(
    "groups, error, match",
    [
        (lambda a, b: [{"params": [a]}, {"params": [a, b]}], ValueError, "twice"),
        (lambda a, b: [{"lr": 0.1}], ValueError, "no 'params'"),
        (lambda a, b: [{"params": [a], "lr": -1.0}], ValueError, "lr must be a finite number >= 0"),
        (
            lambda a, b: [{"params": [a], "nesterov": "yes"}],
            TypeError,
            "nesterov must be True or False",
        ),
        (lambda a, b: [{"params": []}], ValueError, "empty parameter list"),
    ],
)
def test_bad_groups_are_refused(groups, error, match):
    with pytest.raises(error, match=match):
        optim.SGD(groups(*_params()), lr=0.1)


def test_a_refused_group_leaves_the_optimizer_as_it_was():
    a, b = _params()
    opt = optim.Adam([a])
    with pytest.raises(ValueError, match="twice"):
        opt.add_param_group({"params": [b, a]})
    assert len(opt.param_groups) == 1


def test_step_takes_a_closure_and_returns_its_loss():
    (p,) = _params(1)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 2.0
    assert p.tolist() == [0.5, 0.5]


def test_state_is_kept_per_parameter_as_tensors():
    (p,) = _params(1)
    opt = optim.Adam([p])
    p.grad = tensor(np.ones(2))
    opt.step()
    state = opt.state[p]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"} and state["step"].item() == 1.0
    assert isinstance(state["exp_avg"], tinygrad_cnn.Tensor) and state["exp_avg"].dtype == p.dtype


def test_state_dicts_move_between_the_libraries(tmp_path):
    torch = pytest.importorskip("torch")
    ours, opt = _train(tinygrad_cnn, OPTIMIZERS["adam-amsgrad"], steps=3, groups=True)
    theirs, topt = _train(torch, OPTIMIZERS["adam-amsgrad"], steps=3, groups=True)
    tinygrad_cnn.save(opt.state_dict(), tmp_path / "ours.pt")
    loaded = torch.load(tmp_path / "ours.pt", weights_only=True)
    topt.load_state_dict(loaded)  # PyTorch continues from our state
    assert topt.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    torch.save(topt.state_dict(), tmp_path / "theirs.pt")
    opt.load_state_dict(tinygrad_cnn.load(tmp_path / "theirs.pt"))
    assert [s["step"].item() for s in opt.state.values()] == [3.0, 3.0]


def test_a_state_dict_for_other_groups_is_refused_before_anything_changes():
    a, b = _params()
    one = optim.SGD([a, b], lr=0.1, momentum=0.9)
    two = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.3)
    with pytest.raises(ValueError, match=r"groups of \[2\] parameters, this optimizer \[1, 1\]"):
        two.load_state_dict(one.state_dict())
    assert [g["lr"] for g in two.param_groups] == [0.3, 0.3]


# -- schedules ---------------------------------------------------------------------------------


def _lambda(epoch):
    return 0.95**epoch


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, 3, 0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, [2, 5, 5, 9], 0.5),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, 0.9),
    "LambdaLR": lambda m, o: m.LambdaLR(o, _lambda),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, [_lambda, lambda e: 1 / (e + 1)]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, _lambda),
    "ConstantLR": lambda m, o: m.ConstantLR(o, 0.5, 4),
    "LinearLR-warmup": lambda m, o: m.LinearLR(o, 0.25, 1.0, 6),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, 1.0, 0.1, 6),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, 8, 2.0),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, 5, 0.01),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=14),
    "OneCycleLR-three-phase": lambda m, o: m.OneCycleLR(
        o, max_lr=1.0, epochs=2, steps_per_epoch=7, three_phase=True, anneal_strategy="linear"
    ),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o,
        [m.LinearLR(o, 0.1, total_iters=3), m.CosineAnnealingLR(o, 6), m.ExponentialLR(o, 0.8)],
        milestones=[3, 9],
    ),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, 3, 2, 0.01),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, 0.5, 3), m.ExponentialLR(o, 0.9)]
    ),
}


def _schedule(m, make, steps=14, metrics=None, split=None):
    """The groups' rates and momenta after each step (resuming from a state dict at ``split``)."""
    w, b = (m.tensor(np.ones(2), requires_grad=True) for _ in range(2))
    opt = m.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    sched = make(m.optim.lr_scheduler, opt)
    out = []
    for t in range(steps):
        if t == split:
            state, opt_state = sched.state_dict(), opt.state_dict()
            opt = m.optim.SGD([{"params": [w]}, {"params": [b]}], lr=0.1, momentum=0.9)
            sched = make(m.optim.lr_scheduler, opt)
            opt.load_state_dict(opt_state)
            sched.load_state_dict(state)
        opt.step()
        sched.step(*([] if metrics is None else [metrics[t]]))
        out.append(
            [g[k] for k in ("lr", "momentum") for g in opt.param_groups] + sched.get_last_lr()
        )
    return out


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", SCHEDULES)
def test_schedules_match_pytorch_step_for_step(name):
    torch = pytest.importorskip("torch")
    want = _schedule(torch, SCHEDULES[name])
    np.testing.assert_allclose(_schedule(tinygrad_cnn, SCHEDULES[name]), want, rtol=1e-13)


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedules_resume_exactly_from_their_state_dicts(name):
    straight = _schedule(tinygrad_cnn, SCHEDULES[name])
    assert _schedule(tinygrad_cnn, SCHEDULES[name], split=5) == straight


PLATEAU_METRICS = [5, 4, 4, 4, 4, 3.9999, 4, 4, 4, 2, 2, 2, 2, 2]
PLATEAUS = [
    dict(patience=2),
    dict(patience=1, cooldown=2, mode="max", factor=0.5),
    dict(patience=0, threshold_mode="abs", threshold=0.5, min_lr=[0.05, 0.3]),
]


@pytest.mark.parametrize("kw", PLATEAUS)
def test_reduce_on_plateau_matches_pytorch(kw):
    torch = pytest.importorskip("torch")

    def make(m, o):
        return m.ReduceLROnPlateau(o, **kw)

    want = _schedule(torch, make, metrics=PLATEAU_METRICS)
    assert _schedule(tinygrad_cnn, make, metrics=PLATEAU_METRICS) == want
    assert _schedule(tinygrad_cnn, make, metrics=PLATEAU_METRICS, split=6) == want


def test_reduce_on_plateau_follows_its_rule():
    (p,) = _params(1)
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5, min_lr=0.3)
    rates = []
    for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0]:
        sched.step(tensor(loss))
        rates.append(opt.param_groups[0]["lr"])
    # two epochs without improvement cut by half; never below min_lr
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3]


def test_step_lr_follows_its_formula_in_every_group():
    a, b = _params()
    opt = optim.SGD([{"params": [a], "lr": 0.4}, {"params": [b], "lr": 0.1}])
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for epoch in range(1, 7):
        opt.step()
        sched.step()
        want = [0.4 * 0.5 ** (epoch // 2), 0.1 * 0.5 ** (epoch // 2)]
        assert sched.get_last_lr() == pytest.approx(want, rel=1e-15)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.4, 0.1]


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda o: lr_scheduler.MultiStepLR(o, [2, -1]), ValueError, "MultiStepLR: milestones"),
        (
            lambda o: lr_scheduler.LambdaLR(o, 3),
            TypeError,
            "LambdaLR: lr_lambda must be a function",
        ),
        (lambda o: lr_scheduler.LambdaLR(o, [_lambda] * 3), ValueError, "lr_lambda has 3 values"),
        (lambda o: lr_scheduler.LinearLR(o, start_factor=0), ValueError, "LinearLR: start_factor"),
        (lambda o: lr_scheduler.ConstantLR(o, factor=2), ValueError, "ConstantLR: factor"),
        (lambda o: lr_scheduler.OneCycleLR(o, 1.0), ValueError, "OneCycleLR: give total_steps"),
        (
            lambda o: lr_scheduler.OneCycleLR(o, 1.0, 10, anneal_strategy="x"),
            ValueError,
            "anneal_strategy",
        ),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor must be < 1"),
        (
            lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="low"),
            ValueError,
            "mode must be one of",
        ),
        (
            lambda o: lr_scheduler.ReduceLROnPlateau(o).step("x"),
            TypeError,
            "metrics must be a number",
        ),
        (
            lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)], [3]),
            ValueError,
            "milestones",
        ),
        (lambda o: lr_scheduler.StepLR(o, 2, last_epoch=3), KeyError, "initial_lr"),
    ],
)
def test_schedule_argument_errors(make, error, match):
    opt = optim.SGD(_params(1), lr=0.4)
    with pytest.raises(error, match=match):
        make(opt)


def test_one_cycle_refuses_to_step_past_its_end():
    opt = optim.SGD(_params(1), lr=0.4)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="stepped 4 times; the cycle has total_steps=3"):
        sched.step()


def test_warm_restarts_take_fractional_epochs_as_pytorch():
    torch = pytest.importorskip("torch")

    def run(m):
        opt = m.optim.SGD([m.tensor(np.ones(2), requires_grad=True)], lr=0.5)
        sched = m.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
        out = []
        for epoch in range(7):
            for i in range(4):
                opt.step()
                sched.step(epoch + i / 4)
                out.append(opt.param_groups[0]["lr"])
        return out

    np.testing.assert_allclose(run(tinygrad_cnn), run(torch), rtol=1e-13)
