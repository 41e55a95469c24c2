"""The health monitor on planted failures (each gets its finding, naming the right layer), on
healthy networks (no finding), and what it measures against a direct computation."""

import json

import numpy as np
import pytest

from tinygrad_cnn import Tensor, data, models, nn, optim
from tinygrad_cnn import functional as F
from tinygrad_cnn.hooks import registered_hooks
from tinygrad_cnn.monitor import Monitor, Thresholds
from tinygrad_cnn.random import manual_seed
from tinygrad_cnn.training import epoch_loader


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def train(model, ds, lr, epochs=1, opt="sgd", mon=None, steps=None):
    """SGD (or Adam, or the optimizer ``opt``) on the digits with a monitor; returns it."""
    if isinstance(opt, optim.Optimizer):
        o = opt
    else:
        o = (
            optim.SGD(model.parameters(), lr=lr)
            if opt == "sgd"
            else optim.Adam(model.parameters(), lr)
        )
    mon = mon or Monitor(model)
    with np.errstate(all="ignore"):
        for epoch in range(1, epochs + 1):
            for i, (xb, yb) in enumerate(epoch_loader(ds.train, 32, 0, epoch)):
                if steps is not None and i == steps:
                    break
                loss = F.cross_entropy(model(xb), yb)
                o.zero_grad()
                loss.backward()
                o.step()
                mon.log_loss(loss)
            mon.end_epoch()
    return mon


def kinds(mon):
    return {f.kind: f for f in mon.report()}


def deep_sigmoid_mlp(depth=8):
    layers, width = [nn.Flatten()], 64
    for _ in range(depth):
        layers += [nn.Linear(width, 32), nn.Sigmoid()]
        width = 32
    return nn.Sequential(*layers, nn.Linear(32, 10))


# -- planted failures -----------------------------------------------------------------------------


def test_a_conv_bias_of_minus_10_is_found_as_dead_units_after_that_conv(digits):
    manual_seed(0)
    model = models.default_model((1, 8, 8), 10)
    model[0].bias.data[...] = -10
    mon = train(model, digits, 0.05)
    dead = [f for f in mon.report() if f.kind == "dead_units"]
    assert dead[0].layer == "1" and dead[0].layers == ("1", "0")  # ReLU '1' rectifies conv '0'
    assert "16 of 16 channels" in dead[0].evidence and "'0'" in str(dead[0])
    assert mon.dead_channels()["1"] == list(range(16))
    # the blocked gradient below a dead layer is that finding's, not "vanishing"
    assert "vanishing_gradients" not in kinds(mon)


def test_a_deep_sigmoid_mlp_is_found_vanishing_in_its_first_layer(digits):
    manual_seed(0)
    mon = train(deep_sigmoid_mlp(), digits, 0.05)
    found = kinds(mon)
    assert found["vanishing_gradients"].layer == "1"  # the first Linear (0 is the Flatten)
    assert (
        "1" in found["vanishing_gradients"].layers
        and "15" not in found["vanishing_gradients"].layers
    )
    assert "update_ratio_low" not in found  # the small updates are the vanishing gradient's


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda p: optim.SGD(p, lr=10),
        # the weights blow up to 50x their size in two steps, then change little against it
        lambda p: optim.SGD(p, lr=10, momentum=0.9),
        lambda p: optim.Adam(p, lr=10),
    ],
    ids=["sgd", "sgd-momentum", "adam"],
)
def test_a_learning_rate_of_10_is_found_too_high(digits, make_opt):
    manual_seed(0)
    model = models.default_model((1, 8, 8), 10)
    mon = train(model, digits, None, opt=make_opt(model.parameters()), steps=20)
    f = kinds(mon)["update_ratio_high"]
    assert f.layer in {"0", "3", "7"} and set(f.layers) == {"0", "3", "7"}
    assert "learning rate is too high" in f.suggestion


def test_a_learning_rate_of_1e_7_is_found_too_low_and_the_loss_flat(digits):
    manual_seed(0)
    mon = train(models.default_model((1, 8, 8), 10), digits, 1e-7)
    found = kinds(mon)
    assert set(found["update_ratio_low"].layers) == {"0", "3", "7"}
    assert "loss_not_decreasing" in found


def test_growing_gradients_are_found_exploding_then_non_finite():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 8)) * 30, rng.standard_normal((64, 1))
    model = nn.Sequential(nn.Linear(8, 1))
    opt = optim.SGD(model.parameters(), lr=0.01)
    with Monitor(model) as mon, np.errstate(all="ignore"):
        for step in range(200):
            loss = F.mse_loss(model(Tensor(x)), Tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step == 8:
                assert kinds(mon)["exploding_gradients"].layer == "0"
        found = kinds(mon)
    assert found["non_finite"].layer == "0" and "exploding_gradients" not in found


def test_saturated_tanh_is_found():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2))
    model[0].weight.data[...] *= 100
    x = Tensor(rng.standard_normal((32, 8)))
    with Monitor(model) as mon:
        for _ in range(3):
            F.cross_entropy(model(x), np.zeros(32, np.int64)).backward()
    assert kinds(mon)["saturated"].layer == "1"


# -- healthy networks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, lr, opt, epochs",
    [
        (lambda: models.lenet5((1, 8, 8), 10), 1e-3, "adam", 2),
        (lambda: models.lenet5((1, 8, 8), 10), 0.05, "sgd", 3),
        (lambda: models.default_model((1, 8, 8), 10), 0.05, "sgd", 2),
    ],
    ids=["lenet5-adam", "lenet5-sgd", "default-sgd"],
)
def test_a_healthy_network_on_the_digits_gets_no_finding(digits, make, lr, opt, epochs):
    manual_seed(0)
    mon = train(make(), digits, lr, epochs, opt)
    assert mon.report() == []


# -- what it measures -----------------------------------------------------------------------------


def test_the_figures_are_the_layers_outputs_gradients_and_updates():
    rng = np.random.default_rng(1)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3)).double()
    x, y = Tensor(rng.standard_normal((6, 5))).double(), rng.integers(0, 3, 6)
    seen = {}
    model[1].register_forward_hook(lambda m, i, out: seen.update(out=out.numpy().astype(float)))
    lr = 0.1
    opt = optim.SGD(model.parameters(), lr=lr)
    with Monitor(model) as mon:
        h = model(x)  # the same forward, for the activation's gradient
        h.retain_grad()
        loss = F.cross_entropy(h, y)
        opt.zero_grad()
        loss.backward()
        w0 = model[0].weight.numpy().copy()
        g0 = model[0].weight.grad.numpy().copy()
        opt.step()
    relu, out, p = mon.layers["1"], seen["out"], mon.params["0.weight"]
    np.testing.assert_allclose(relu.mean, [out.mean()], rtol=1e-12)
    np.testing.assert_allclose(relu.std, [out.std()], rtol=1e-10)
    assert relu.zeros == [np.mean(out == 0)]
    np.testing.assert_allclose(mon.layers["2"].grad_norm, [np.linalg.norm(h.grad.numpy())])
    np.testing.assert_allclose(p.grad_norm, [np.linalg.norm(g0)], rtol=1e-12)
    np.testing.assert_allclose(p.weight_norm, [np.linalg.norm(w0)], rtol=1e-12)
    np.testing.assert_allclose(
        p.update_ratio, [lr * np.linalg.norm(g0) / np.linalg.norm(w0)], rtol=1e-10
    )
    assert sum(relu.hist[0]) == out.size and mon.steps == [1]


def test_every_records_one_step_in_k_and_evaluation_calls_are_not_steps():
    model = nn.Sequential(nn.Linear(3, 2))
    x = Tensor(np.ones((4, 3)))
    with Monitor(model, every=3) as mon:
        for _ in range(7):
            model(x).sum().backward()
            model.eval()
            model(x)  # evaluation: not a step
            model.train()
    assert mon.steps == [1, 4, 7] and len(mon.layers["0"].mean) == 3


def test_a_module_called_twice_in_a_step_counts_both_calls():
    relu = nn.ReLU()

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.relu = nn.Linear(4, 4), relu

        def forward(self, x):
            return self.relu(self.fc(self.relu(x)))

    model = Twice()
    x = Tensor(np.random.default_rng(0).standard_normal((5, 4)))
    with Monitor(model) as mon:
        model(x).sum().backward()
    assert sum(mon.layers["relu"].hist[0]) == 2 * 5 * 4


def test_removing_the_monitor_leaves_no_hook_and_the_same_numbers():
    manual_seed(0)
    model = models.default_model((1, 8, 8), 10)
    x = Tensor(np.random.default_rng(0).standard_normal((4, 1, 8, 8)))
    before = model(x).numpy()
    with Monitor(model):
        model(x).sum().backward()
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(id(p) not in registered_hooks or not registered_hooks[id(p)]
               for p in model.parameters())  # fmt: skip
    model.zero_grad()
    np.testing.assert_array_equal(model(x).numpy(), before)


def test_the_window_is_the_last_epoch():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    mon = Monitor(model)
    model[0].bias.data[...] = -100  # dead during the first epoch
    model(Tensor(np.ones((2, 2)))).sum().backward()
    mon.end_epoch()
    assert kinds(mon)["dead_units"].layer == "1"
    model[0].bias.data[...] = 100  # alive in the second
    model(Tensor(np.ones((2, 2)))).sum().backward()
    mon.end_epoch()
    assert "dead_units" not in kinds(mon)
    mon.remove()


def test_thresholds_decide_when_a_rule_fires(digits):
    manual_seed(0)
    model = models.default_model((1, 8, 8), 10)
    mon = train(model, digits, 0.05, steps=10)
    assert "update_ratio_high" not in kinds(mon)
    mon.thresholds = Thresholds(update_high=1e-4)
    assert "update_ratio_high" in kinds(mon)


def test_save_writes_json_with_non_finite_values_as_null(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2))
    with Monitor(model) as mon, np.errstate(invalid="ignore"):
        model(Tensor([[np.inf, 1.0]])).sum().backward()
        mon.log_loss(float("nan"))
    saved = json.loads(open(mon.save(str(tmp_path / "h.json"))).read())
    assert saved["steps"] == [1] and saved["layers"]["0"]["mean"] == [None]
    assert saved["losses"] == [{"step": 1, "loss": None}]
    assert saved["findings"][0]["kind"] == "non_finite"


def test_plot_writes_the_png(tmp_path, digits):
    pytest.importorskip("matplotlib")
    manual_seed(0)
    mon = train(models.default_model((1, 8, 8), 10), digits, 0.05, steps=5)
    path = mon.plot(str(tmp_path / "health.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_bad_input_is_refused_clearly():
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="Monitor: model must be an nn.Module"):
        Monitor("model")
    with pytest.raises(ValueError, match="every"):
        Monitor(model, every=0)
    with pytest.raises(TypeError, match="thresholds"):
        Monitor(model, thresholds={"dead_share": 0.1})
    with Monitor(model) as mon:
        with pytest.raises(TypeError, match="log_loss"):
            mon.log_loss("0.5")
        with pytest.raises(RuntimeError, match="no step recorded"):
            mon.plot("never.png")
    assert mon.report() == []


def test_a_model_that_is_one_layer_is_monitored():
    model = nn.Linear(3, 2)
    with Monitor(model) as mon:
        model(Tensor(np.ones((4, 3)))).sum().backward()
    assert list(mon.layers) == [""] and mon.layers[""].mean[0] is not None
    assert mon.params["weight"].layer == "" and mon.params["weight"].grad_norm[0] > 0
