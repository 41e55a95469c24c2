"""check_graph: a whole network's VJPs, node by node; a planted wrong one is found and named."""

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import Op, nn, tensor
from tinygrad_cnn import functional as F


class Softsign(Op):  # not registered: a custom op, right or (with `wrong`) slightly wrong
    name = "softsign"
    wrong = False

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x / (1 + np.abs(x))

    @staticmethod
    def vjp(ctx, g):
        grad = g / (1 + np.abs(ctx.x)) ** 2
        return (grad * 1.01 if Softsign.wrong else grad,)


class SoftsignLayer(nn.Module):
    def forward(self, x):
        return Softsign.apply(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3), SoftsignLayer(),
            nn.AvgPool2d(2), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        return self.head(self.features(x))


def network():
    tg.manual_seed(0)
    return Net()


def loss_of(model):
    x = tensor(np.random.default_rng(1).standard_normal((3, 1, 8, 8), dtype=np.float32))
    return F.cross_entropy(model(x), np.array([0, 2, 4]))


def test_a_correct_network_passes(monkeypatch):
    monkeypatch.setattr(Softsign, "wrong", False)
    report = tg.check_graph(loss_of(network()))
    assert report.ok and not report.failures
    assert [c.op for c in report.checks][:4] == ["conv2d", "relu", "conv2d", "softsign"]
    assert "all VJPs agree" in str(report)


def test_a_wrong_vjp_in_the_middle_is_found_and_named(monkeypatch):
    monkeypatch.setattr(Softsign, "wrong", True)
    report = tg.check_graph(loss_of(network()))
    assert not report.ok
    (bad,) = report.failures
    assert (bad.op, bad.module) == ("softsign", "features.3")
    assert bad.max_error > bad.tolerance
    assert "WRONG" in str(report) and "features.3" in str(report)


def test_ties_are_skipped_and_say_so_and_a_freed_graph_is_refused():
    x = tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)
    y = F.max_pool2d(x, 2).sum()  # every window is a tie
    (check,) = [c for c in tg.check_graph(y).checks if c.op == "pool2d"]
    assert check.skipped == "at a kink or tie" and check.ok
    y.backward()
    with pytest.raises(RuntimeError, match=r"check_graph: the graph was freed by backward"):
        tg.check_graph(y)
