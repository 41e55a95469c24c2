"""The nn modules added for PyTorch parity, against PyTorch: each model is built once against a
module ``m`` (torch or tinygrad_cnn), torch's initial weights are loaded into ours through
state_dict, and outputs, gradients and state dicts must agree. Skipped without torch; the
container and Module API behaviour that needs no torch is checked at the end."""

import numpy as np
import pytest

import tinygrad_cnn as tg

RNG = np.random.default_rng(0)


def _copy_weights(theirs, ours):
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert list(state) == list(ours.state_dict())  # the same names, in the same order
    ours.load_state_dict(state)


def _compare(build, shape, loss=None, target=None, train=True):
    torch = pytest.importorskip("torch")
    # its own generator, and torch's initial weights from a fixed seed: with the suite split
    # across workers, a shared generator would give each test inputs and weights that depend on
    # which tests ran before it in the same worker
    x = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    results = []
    torch.manual_seed(sum(shape))
    theirs, ours = build(torch), build(tg)
    _copy_weights(theirs, ours)
    for m, model in ((torch, theirs), (tg, ours)):
        model.train(train)
        t = m.tensor(x, requires_grad=True)
        out = model(t)
        value = loss(m)(out, m.tensor(target)) if loss else (out * out).sum()
        value.backward()
        grads = [p.grad.numpy().copy() for p in model.parameters()]
        results.append((out.detach().numpy(), t.grad.numpy(), grads, value.item()))
    (o1, g1, p1, v1), (o2, g2, p2, v2) = results
    np.testing.assert_allclose(o2, o1, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(g2, g1, rtol=2e-4, atol=2e-5)
    for a, b in zip(p2, p1):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(v2, v1, rtol=2e-5)


MODELS = {
    "activations": (lambda m: m.nn.Sequential(
        m.nn.Linear(6, 8), m.nn.GELU(), m.nn.Linear(8, 8), m.nn.Tanh(), m.nn.Linear(8, 8),
        m.nn.SiLU(), m.nn.ELU(0.5), m.nn.Softplus(2.0), m.nn.Sigmoid(), m.nn.Linear(8, 4),
        m.nn.LogSoftmax(dim=1)), (5, 6)),
    "softmax": (lambda m: m.nn.Sequential(m.nn.Linear(6, 3), m.nn.Softmax(dim=-1)), (4, 6)),
    "batchnorm1d": (lambda m: m.nn.Sequential(m.nn.Linear(6, 4), m.nn.BatchNorm1d(4)), (5, 6)),
    "batchnorm1d 3-D": (lambda m: m.nn.BatchNorm1d(3), (4, 3, 5)),
    "layernorm": (lambda m: m.nn.Sequential(m.nn.Linear(6, 4), m.nn.LayerNorm(4)), (5, 6)),
    "groupnorm": (lambda m: m.nn.Sequential(m.nn.Conv2d(2, 4, 3), m.nn.GroupNorm(2, 4)),
                  (2, 2, 5, 5)),
    "conv1d": (lambda m: m.nn.Sequential(m.nn.Conv1d(3, 4, 3, stride=2, padding=1), m.nn.ReLU(),
                                         m.nn.Conv1d(4, 2, 2)), (2, 3, 9)),
    "upsample + adaptive max": (lambda m: m.nn.Sequential(
        m.nn.Conv2d(2, 3, 3, padding=1), m.nn.Upsample(scale_factor=2, mode="bilinear",
                                                       align_corners=False),
        m.nn.AdaptiveMaxPool2d((3, 2)), m.nn.Flatten(), m.nn.Linear(18, 2)), (2, 2, 4, 4)),
    "upsample nearest": (lambda m: m.nn.Upsample(size=(5, 7)), (1, 2, 3, 3)),
    "buffers mid-model (state_dict order)": (lambda m: m.nn.Sequential(
        m.nn.Conv2d(1, 2, 3), m.nn.BatchNorm2d(2), m.nn.Conv2d(2, 2, 1)), (2, 1, 5, 5)),
    "module list": (lambda m: _Stack(m), (3, 4)),
}  # fmt: skip


class _Stack:
    """A ModuleList and ModuleDict model, written once for both libraries."""

    def __new__(cls, m):
        class Net(m.nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = m.nn.ModuleList([m.nn.Linear(4, 4) for _ in range(2)])
                self.blocks.append(m.nn.Linear(4, 4))
                self.heads = m.nn.ModuleDict({"a": m.nn.Linear(4, 2), "b": m.nn.Linear(4, 2)})

            def forward(self, x):
                for block in self.blocks:
                    x = m.relu(block(x)) + x
                return self.heads["a"](x) * self.heads["b"](x)

        return Net()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_modules_compute_and_differentiate_as_pytorchs(name):
    build, shape = MODELS[name]
    _compare(build, shape)


def test_batchnorm_eval_uses_the_running_statistics_as_pytorch():
    build = lambda m: m.nn.BatchNorm1d(4)  # noqa: E731
    _compare(build, (6, 4), train=True)
    _compare(build, (6, 4), train=False)


LOSSES = {
    "CrossEntropyLoss": (lambda m: m.nn.CrossEntropyLoss(label_smoothing=0.1), np.array([0, 2, 1])),
    "CrossEntropyLoss weight": (lambda m: m.nn.CrossEntropyLoss(
        weight=m.tensor([1.0, 2.0, 0.5]), ignore_index=1), np.array([0, 2, 1])),
    "NLLLoss": (lambda m: m.nn.NLLLoss(reduction="sum"), np.array([0, 2, 1])),
    "MSELoss": (lambda m: m.nn.MSELoss(), np.full((3, 3), 0.5, np.float32)),
    "L1Loss": (lambda m: m.nn.L1Loss(reduction="sum"), np.full((3, 3), 0.5, np.float32)),
    "SmoothL1Loss": (lambda m: m.nn.SmoothL1Loss(beta=0.5), np.full((3, 3), 0.5, np.float32)),
    "BCEWithLogitsLoss": (lambda m: m.nn.BCEWithLogitsLoss(pos_weight=m.tensor([1.0, 2.0, 3.0])),
                          np.full((3, 3), 0.25, np.float32)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_modules_match_pytorch(name):
    make, target = LOSSES[name]
    _compare(lambda m: m.nn.Linear(4, 3), (3, 4), loss=make, target=target)


def test_bce_loss_on_probabilities_matches_pytorch():
    make = lambda m: lambda out, t: m.nn.BCELoss()(m.sigmoid(out), t)  # noqa: E731
    _compare(
        lambda m: m.nn.Linear(4, 3), (3, 4), loss=make, target=np.full((3, 3), 0.2, np.float32)
    )


def test_lazy_layers_take_their_input_size_from_the_first_call():
    lin = tg.nn.LazyLinear(3)
    assert list(lin.parameters()) == []
    assert lin(tg.randn(2, 5)).shape == (2, 3) and lin.in_features == 5
    assert type(lin) is tg.nn.Linear  # as PyTorch's lazy modules, it becomes the layer
    conv = tg.nn.LazyConv2d(4, 3, padding=1)
    assert conv(tg.randn(1, 2, 5, 5)).shape == (1, 4, 5, 5)
    assert [n for n, _ in conv.named_parameters()] == ["weight", "bias"]


def test_sequential_slices_appends_inserts_and_takes_an_ordered_dict():
    from collections import OrderedDict

    seq = tg.nn.Sequential(tg.nn.Linear(2, 3), tg.nn.ReLU(), tg.nn.Linear(3, 1))
    head = seq[:2]
    assert isinstance(head, tg.nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    seq.append(tg.nn.Sigmoid())
    seq.insert(0, tg.nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Identity", "Linear", "ReLU", "Linear", "Sigmoid"]
    assert [n for n, _ in seq.named_parameters()] == ["1.weight", "1.bias", "3.weight", "3.bias"]
    del seq[0]
    assert seq(tg.randn(4, 2)).shape == (4, 1)
    named = tg.nn.Sequential(OrderedDict(conv=tg.nn.Conv2d(1, 2, 3), act=tg.nn.ReLU()))
    assert [n for n, _ in named.named_parameters()] == ["conv.weight", "conv.bias"]
    with pytest.raises(TypeError, match="Sequential: argument 1 is int, not a Module"):
        tg.nn.Sequential(tg.nn.ReLU(), 3)
    with pytest.raises(IndexError, match="Sequential: index 9 out of range"):
        seq[9]


def test_module_apply_add_module_requires_grad_and_named_parameters():
    net = tg.nn.Sequential(tg.nn.Linear(2, 2), tg.nn.Linear(2, 1))
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Linear", "Sequential"]  # children first
    net.add_module("extra", tg.nn.Linear(1, 1))
    net.register_module("more", tg.nn.ReLU())
    assert [n for n, _ in net.named_children()] == ["0", "1", "extra", "more"]
    assert [n for n, _ in net.named_parameters(prefix="net", recurse=True)][:2] == [
        "net.0.weight",
        "net.0.bias",
    ]
    assert list(net.named_parameters(recurse=False)) == []
    assert net.requires_grad_(False) is net and not any(p.requires_grad for p in net.parameters())
    with pytest.raises(KeyError, match="add_module: name must be"):
        net.add_module("a.b", tg.nn.ReLU())
    with pytest.raises(TypeError, match="add_module: int is not a Module"):
        net.add_module("c", 3)


def test_full_backward_hooks_see_the_gradients_of_inputs_and_outputs():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    seen = {}
    theirs = torch.nn.Linear(4, 2)
    ours = tg.nn.Linear(4, 2)
    _copy_weights(theirs, ours)
    for m, lin in ((torch, theirs), (tg, ours)):
        record = []
        lin.register_full_backward_hook(
            lambda mod, gi, go, record=record: record.append(
                (gi[0].numpy().copy(), go[0].numpy().copy())
            )
        )
        t = m.tensor(x, requires_grad=True)
        (lin(t) * 2).sum().backward()
        seen[m.__name__] = record
    (gi1, go1), (gi2, go2) = seen["torch"][0], seen["tinygrad_cnn"][0]
    np.testing.assert_allclose(gi2, gi1, rtol=1e-5)
    np.testing.assert_allclose(go2, go1, rtol=1e-5)


def test_a_full_backward_hook_may_replace_the_input_gradient():
    lin = tg.nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0,))
    x = tg.randn(4, 3, requires_grad=True)
    lin(x).sum().backward()
    assert np.all(x.grad.numpy() == 0) and lin.weight.grad is not None


def test_module_dict_behaves_as_a_dict_of_registered_modules():
    d = tg.nn.ModuleDict({"a": tg.nn.Linear(2, 2)})
    d["b"] = tg.nn.ReLU()
    assert list(d) == ["a", "b"] and "a" in d and len(d) == 2
    assert [n for n, _ in d.named_parameters()] == ["a.weight", "a.bias"]
    assert isinstance(d.pop("b"), tg.nn.ReLU) and list(d.keys()) == ["a"]
    with pytest.raises(KeyError, match="ModuleDict: no module 'z'"):
        d["z"]
