"""Module.state_dict and load_state_dict as PyTorch's: detached Tensors sharing storage, in
PyTorch's order, ``prefix``/``keep_vars``/``assign``, a named tuple back, RuntimeError when
the names or shapes do not fit (and nothing changed)."""

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import nn


def _build(m):
    return m.nn.Sequential(
        m.nn.Conv2d(1, 2, 3), m.nn.BatchNorm2d(2), m.nn.Flatten(), m.nn.Linear(8, 3)
    )


def test_values_are_detached_tensors_that_share_the_parameters_storage():
    net = _build(tg)
    sd = net.state_dict()
    w = sd["0.weight"]
    assert isinstance(w, tg.Tensor) and not w.requires_grad and w is not net[0].weight
    net[0].weight.data.fill_(2.0)
    assert w.tolist() == net[0].weight.tolist()  # the same storage, as PyTorch's
    snapshot = {k: v.clone() for k, v in sd.items()}
    net[0].weight.data.fill_(3.0)
    assert snapshot["0.weight"].max().item() == 2.0
    assert sd["1.num_batches_tracked"].dtype == tg.int64


def test_keep_vars_and_prefix():
    net = _build(tg)
    assert net.state_dict(keep_vars=True)["3.bias"] is net[3].bias
    assert list(net.state_dict(prefix="model."))[0] == "model.0.weight"
    dest = {}
    assert net.state_dict(destination=dest) is dest and len(dest) == 9


def test_the_same_names_and_values_as_pytorch_both_ways():
    torch = pytest.importorskip("torch")
    theirs, ours = _build(torch), _build(tg)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())  # torch Tensors
    for (k, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    back = _build(torch)
    back.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    ours.eval(), back.eval()
    np.testing.assert_allclose(
        ours(tg.tensor(x)).numpy(), back(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_load_returns_the_missing_and_unexpected_keys_as_a_named_tuple():
    net = _build(tg)
    state = {k: v.numpy() for k, v in net.state_dict().items()}  # arrays are accepted too
    state.pop("3.bias")
    state["extra"] = np.zeros(1)
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["3.bias"] and result.unexpected_keys == ["extra"]
    assert result == (["3.bias"], ["extra"])
    assert net.load_state_dict(net.state_dict()) == ([], [])


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda s: s.pop("0.bias"), r"missing keys \['0.bias'\]"),
        (lambda s: s.update(extra=tg.zeros(1)), r"unexpected keys \['extra'\]"),
        (lambda s: s.update({"3.weight": tg.zeros(3, 7)}), r"size mismatch for '3.weight'"),
    ],
)
def test_a_state_that_does_not_fit_raises_runtime_error_and_changes_nothing(edit, match):
    net = _build(tg)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = {k: tg.zeros_like(v) for k, v in before.items()}
    edit(state)
    with pytest.raises(RuntimeError, match=match):
        net.load_state_dict(state)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k].numpy(), err_msg=k)


def test_assign_takes_the_given_storage():
    lin = nn.Linear(2, 2)
    w = tg.ones(2, 2)
    lin.load_state_dict({"weight": w, "bias": tg.zeros(2)}, assign=True)
    w.fill_(5.0)
    assert lin.weight.tolist() == [[5.0, 5.0], [5.0, 5.0]] and lin.weight.requires_grad


def _holder(m):
    class Net(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = m.nn.ParameterList([m.nn.Parameter(m.ones(2, 3)), m.nn.Parameter(m.zeros(3))])
            self.d = m.nn.ParameterDict({"a": m.nn.Parameter(m.ones(1))})
            self.features = m.nn.Sequential(m.nn.Linear(2, 2), m.nn.BatchNorm1d(2))
            self.register_parameter("extra", None)

    return Net()


def test_parameter_containers_and_lookups_as_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = _holder(tg), _holder(torch)
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [k for k, _ in ours.named_buffers()] == [k for k, _ in theirs.named_buffers()]
    assert len(list(ours.buffers())) == 3 and ours.extra is None
    assert ours.get_submodule("features.1") is ours.features[1]
    assert ours.get_parameter("features.0.weight") is ours.features[0].weight
    assert ours.get_buffer("features.1.running_mean") is ours.features[1].running_mean
    assert len(ours.ws) == 2 and ours.ws[-1].shape == (3,) and "a" in ours.d
    ours.load_state_dict(theirs.state_dict())
    with pytest.raises(AttributeError, match="get_submodule: Sequential has no submodule 'x'"):
        ours.get_submodule("features.x")
    with pytest.raises(TypeError, match="register_parameter: 'w' must be a Parameter or None"):
        ours.register_parameter("w", 3)


def test_out_argument_writes_into_the_given_tensor():
    a = tg.ones(2, 2)
    out = tg.zeros(2, 2)
    assert tg.matmul(a, a, out=out) is out and out.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    resized = tg.zeros(1)
    tg.add(a, 1, out=resized)
    assert resized.shape == (2, 2)
    w = tg.ones(2, requires_grad=True)
    with pytest.raises(
        RuntimeError, match="mul\\(\\): functions with out=... arguments don't support"
    ):
        tg.mul(w, w, out=tg.zeros(2))
    with tg.no_grad():
        assert tg.mul(w, w, out=tg.zeros(2)).tolist() == [1.0, 1.0]


def test_container_editing_lazy_layers_and_reprs_as_pytorch():
    torch = pytest.importorskip("torch")

    def edit(m):
        s = m.nn.Sequential(m.nn.Linear(2, 2), m.nn.ReLU(), m.nn.Linear(2, 1))
        s.append(m.nn.Sigmoid())
        s.insert(1, m.nn.Tanh())
        del s[0]
        s += m.nn.Sequential(m.nn.Identity())
        popped = s.pop(0)
        modules = m.nn.ModuleList([m.nn.ReLU()]) + [m.nn.Tanh()]
        d = m.nn.ModuleDict({"a": m.nn.ReLU(), "b": m.nn.Tanh()})
        first = d.pop("a")
        d.clear()
        lazy = m.nn.Sequential(m.nn.LazyLinear(3))
        lazy(m.ones(2, 5))
        names = [type(x).__name__ for x in (*s, popped, *modules, first)]
        return names, len(d), repr(lazy), list(lazy.state_dict()), lazy[0].weight.shape[1]

    assert str(edit(tg)) == str(edit(torch))
    with pytest.raises(ValueError, match=r"Sequential: \+ and \+= take a Sequential"):
        tg.nn.Sequential() + [tg.nn.ReLU()]
    layers = [
        lambda m: m.nn.BatchNorm1d(3), lambda m: m.nn.BatchNorm2d(4, affine=False),
        lambda m: m.nn.LayerNorm(4), lambda m: m.nn.GroupNorm(2, 4),
        lambda m: m.nn.Dropout(0.2), lambda m: m.nn.Dropout2d(0.3),
        lambda m: m.nn.Conv1d(2, 3, 3, padding=1), lambda m: m.nn.Conv1d(2, 4, 5, 2, groups=2),
        lambda m: m.nn.Upsample(scale_factor=2), lambda m: m.nn.ReLU(inplace=True),
    ]  # fmt: skip
    for make in layers:
        assert repr(make(tg)) == repr(make(torch))
