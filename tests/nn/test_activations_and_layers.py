"""The activations, losses and rearranging layers of PyTorch beyond the first set (ReLU6,
Hardswish, Mish, SELU, PReLU, HuberLoss, KLDivLoss, PixelShuffle, the 2-D pads, ...): the
functions through the harness of test_torch_api (values, dtypes, gradients against torch), the
modules built once against ``m`` and compared, reprs included."""

import numpy as np
import pytest

import tinygrad_cnn as tg

torch = pytest.importorskip("torch")
from tests.test_torch_api import _same  # noqa: E402


def f(m):
    return m.nn.functional


FUNCTIONS = {
    "relu6 hardtanh": lambda m, x: (f(m).relu6(x * 4), f(m).hardtanh(x, -0.5, 0.7)),
    "hardsigmoid hardswish": lambda m, x: (f(m).hardsigmoid(x * 4), f(m).hardswish(x * 4)),
    "logsigmoid mish": lambda m, x: (f(m).logsigmoid(x * 30), f(m).mish(x)),
    "selu celu": lambda m, x: (f(m).selu(x), f(m).celu(x, 0.5)),
    "softsign softmin": lambda m, x: (f(m).softsign(x), f(m).softmin(x, dim=1)),
    "threshold": lambda m, x: f(m).threshold(x, 0.1, 20.0),
    "prelu": lambda m, x: f(m).prelu(x, m.tensor([0.25, -0.5, 0.1])),
    "huber_loss": lambda m, x: (
        f(m).huber_loss(x, x * 0.3),
        f(m).huber_loss(x * 3, x, delta=0.5, reduction="sum"),
    ),
    "kl_div": lambda m, x: tuple(
        f(m).kl_div(m.log_softmax(x, 1), m.softmax(x * 2, 1), reduction=r)
        for r in ("mean", "batchmean", "sum", "none")
    ),
    "kl_div log_target": lambda m, x: f(m).kl_div(
        m.log_softmax(x, 1), m.log_softmax(x * 2, 1), reduction="batchmean", log_target=True
    ),
    "cosine_similarity pairwise_distance": lambda m, x: (
        f(m).cosine_similarity(x, x * x),
        f(m).cosine_similarity(x, x.flip(0), dim=0),
        f(m).pairwise_distance(x, x * 2),
        f(m).pairwise_distance(x, x * 0.5, p=1.0, keepdim=True),
    ),
}


@pytest.mark.filterwarnings("ignore:.*reduction.*mean:UserWarning")  # both warn for kl_div 'mean'
@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_same_as_pytorch(name):
    _same(FUNCTIONS[name], [(4, 3, 5, 2)] if name == "prelu" else [(4, 3)])


def test_pixel_shuffle_round_trip_same_as_pytorch():
    _same(
        lambda m, x: (f(m).pixel_shuffle(x, 2), f(m).pixel_unshuffle(x, 2)),
        [(2, 8, 4, 6)],
    )
    _same(lambda m, x: f(m).pixel_shuffle(x, 3), [(9, 2, 3)])


MODULES = {
    "ReLU6": lambda m: m.nn.ReLU6(inplace=True),
    "Hardtanh": lambda m: m.nn.Hardtanh(-2.0, 0.5),
    "Hardswish": lambda m: m.nn.Hardswish(),
    "Hardsigmoid": lambda m: m.nn.Hardsigmoid(),
    "Mish": lambda m: m.nn.Mish(),
    "SELU": lambda m: m.nn.SELU(),
    "CELU": lambda m: m.nn.CELU(0.7),
    "LogSigmoid": lambda m: m.nn.LogSigmoid(),
    "Softsign": lambda m: m.nn.Softsign(),
    "Softmin": lambda m: m.nn.Softmin(dim=1),
    "Threshold": lambda m: m.nn.Threshold(0.2, -1.0),
    "PReLU": lambda m: m.nn.PReLU(3, init=0.1),
    "ZeroPad2d": lambda m: m.nn.ZeroPad2d((1, 0, 2, 1)),
    "ConstantPad2d": lambda m: m.nn.ConstantPad2d(1, 3.5),
    "ReflectionPad2d": lambda m: m.nn.ReflectionPad2d(2),
    "ReplicationPad2d": lambda m: m.nn.ReplicationPad2d((0, 1, 1, 0)),
    "Unflatten": lambda m: m.nn.Unflatten(1, (3, 1)),
    "PixelShuffle": lambda m: m.nn.Sequential(
        m.nn.Unflatten(1, (3, 1)), m.nn.Flatten(1, 2), m.nn.PixelUnshuffle(1)
    ),
    "ReLU inplace": lambda m: m.nn.Sequential(m.nn.ReLU(inplace=True), m.nn.Tanh()),
    "LeakyReLU inplace": lambda m: m.nn.LeakyReLU(0.2, inplace=True),
}


@pytest.mark.parametrize("name", MODULES)
def test_modules_same_as_pytorch(name):
    ours, theirs = MODULES[name](tg), MODULES[name](torch)
    assert repr(ours) == repr(theirs)
    ours.load_state_dict(theirs.state_dict())
    _same(lambda m, x: (ours if m is tg else theirs)(x * 1), [(2, 3, 4, 5)])  # not a leaf


def test_loss_and_distance_modules_same_as_pytorch():
    def build(m):
        return [
            m.nn.HuberLoss(delta=0.3),
            m.nn.KLDivLoss(reduction="batchmean"),
            m.nn.CosineSimilarity(dim=0),
            m.nn.PairwiseDistance(p=3.0),
        ]

    for ours, theirs in zip(build(tg), build(torch)):
        assert repr(ours) == repr(theirs)

        def run(m, a, b, ours=ours, theirs=theirs):
            return (ours if m is tg else theirs)(m.log_softmax(a, 1), m.softmax(b, 1))

        _same(
            run,
            [(3, 4), (3, 4)],
        )


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: tg.nn.Hardtanh(1.0, -1.0),
            ValueError,
            r"hardtanh: min_val \(1.0\) must not exceed",
        ),
        (lambda: tg.nn.PReLU(0), ValueError, "PReLU: num_parameters must be a positive int"),
        (
            lambda: tg.nn.functional.prelu(tg.ones(2, 3), tg.ones(2)),
            RuntimeError,
            "prelu: weight must hold",
        ),
        (
            lambda: tg.nn.functional.pixel_shuffle(tg.ones(1, 3, 2, 2), 2),
            RuntimeError,
            "pixel_shuffle: input",
        ),
        (
            lambda: tg.nn.KLDivLoss(reduction="avg"),
            ValueError,
            "KLDivLoss: reduction must be one of",
        ),
        (
            lambda: tg.nn.functional.huber_loss(tg.ones(2), tg.ones(2), delta=0),
            ValueError,
            "huber_loss: delta must be > 0",
        ),
        (lambda: tg.nn.ZeroPad2d((1, 2)), ValueError, "ZeroPad2d: padding must be an int or"),
        (
            lambda: tg.nn.functional.celu(tg.ones(2), alpha=0),
            ValueError,
            "celu: alpha must not be 0",
        ),
    ],
)
def test_errors_name_the_layer_and_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_prelu_learns_its_slope():
    layer = tg.nn.PReLU()
    x = tg.tensor([[-2.0, 3.0]])
    layer(x).sum().backward()
    assert layer.weight.grad.tolist() == [-2.0]
    np.testing.assert_allclose(layer(x).detach().numpy(), [[-0.5, 3.0]])
