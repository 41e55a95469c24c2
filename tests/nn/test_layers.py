"""nn: registration and names, state dicts and checkpoints, layers, initialisation."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tg
from tinygrad_cnn import Tensor, gradcheck, nn, tensor


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def test_named_parameters_children_and_modules():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "features.0.weight",
        "features.0.bias",
        "head.weight",
        "head.bias",
    ]
    assert [type(c).__name__ for c in net.children()] == ["Sequential", "Linear"]
    children = list(net.named_children())
    assert [n for n, _ in children] == ["features", "head"]
    assert [c for _, c in children] == list(net.children())
    assert [n for n, _ in net.features.named_children()] == ["0", "1", "2"]
    assert [n for n, _ in net.named_modules()] == [
        "",
        "features",
        "features.0",
        "features.1",
        "features.2",
        "head",
    ]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2


def test_train_eval_and_zero_grad():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(tensor(np.ones((2, 1, 4, 4), np.float32))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_repr_is_a_readable_tree():
    text = repr(Net())
    assert text.startswith(
        "Net(\n  (features): Sequential(\n    (0): Conv2d(1, 4, kernel_size=(3, 3)"
    )
    assert "(head): Linear(in_features=16, out_features=3, bias=True)" in text


def test_state_dict_round_trip():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (n1, p1), (n2, p2) in zip(a.named_parameters(), b.named_parameters()):
        assert n1 == n2 and np.array_equal(p1.numpy(), p2.numpy())


@pytest.mark.parametrize(
    "edit, error, pattern",
    [
        (lambda s: s.pop("head.bias"), RuntimeError, r"missing keys \['head.bias'\]"),
        (lambda s: s.update(extra=np.zeros(1)), RuntimeError, r"unexpected keys \['extra'\]"),
        (
            lambda s: s.update({"head.weight": np.zeros((2, 2))}),
            RuntimeError,
            r"size mismatch for 'head.weight': shape \(2, 2\) in the state but \(3, 16\) in",
        ),
    ],
)
def test_bad_state_dicts_raise_and_leave_the_model_unchanged(edit, error, pattern):
    net = Net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    state = {k: np.zeros_like(v) for k, v in before.items()}  # would zero everything if applied
    edit(state)
    with pytest.raises(error, match=pattern):
        net.load_state_dict(state)
    for k, v in net.state_dict().items():
        assert np.array_equal(v, before[k])


def test_non_strict_loading_reports_missing_and_unexpected():
    net = Net()
    state = net.state_dict()
    state.pop("head.bias")
    state["extra"] = np.zeros(1)
    assert net.load_state_dict(state, strict=False) == (["head.bias"], ["extra"])


def test_save_and_load(tmp_path):
    a, b = Net(), Net()
    path = tmp_path / "sub" / "model.npz"
    a.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["model.npz"]  # no temporary left behind
    b.load(path)
    assert np.array_equal(a.head.weight.numpy(), b.head.weight.numpy())


def test_load_errors(tmp_path):
    net = Net()
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        net.load(tmp_path / "nope.npz")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        net.load(pickled)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="not a"):
        net.load(junk)


def test_a_crash_while_saving_keeps_the_old_file(tmp_path, monkeypatch):
    net = Net()
    path = tmp_path / "model.npz"
    net.save(path)
    old = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        net.save(path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_default_initialisation_follows_pytorch_bounds():
    tg.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3)
    fan_in = 4 * 9
    assert np.abs(conv.weight.numpy()).max() <= 1 / math.sqrt(fan_in) + 1e-7
    assert np.abs(conv.bias.numpy()).max() <= 1 / math.sqrt(fan_in) + 1e-7
    assert np.abs(conv.weight.numpy()).max() > 0.8 / math.sqrt(fan_in)  # uses the whole range
    lin = nn.Linear(50, 10)
    assert np.abs(lin.weight.numpy()).max() <= 1 / math.sqrt(50) + 1e-7
    convt = nn.ConvTranspose2d(4, 6, 3)  # PyTorch's fan_in for it is weight.shape[1] * k * k
    assert np.abs(convt.weight.numpy()).max() <= 1 / math.sqrt(6 * 9) + 1e-7


def test_init_is_seedable_through_a_generator():
    w1, w2 = nn.Linear(3, 3).weight, nn.Linear(3, 3).weight
    nn.init.kaiming_uniform_(w1, generator=np.random.default_rng(5))
    nn.init.kaiming_uniform_(w2, generator=np.random.default_rng(5))
    assert np.array_equal(w1.numpy(), w2.numpy())


def test_layer_shapes():
    x = tensor(np.ones((2, 3, 8, 8), np.float32))
    assert nn.Conv2d(3, 5, 3, stride=2, padding=1)(x).shape == (2, 5, 4, 4)
    assert nn.Conv2d(3, 6, 3, padding="same", groups=3)(x).shape == (2, 6, 8, 8)
    assert nn.ConvTranspose2d(3, 2, 2, stride=2)(x).shape == (2, 2, 16, 16)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    assert nn.AvgPool2d(3, 1, 1)(x).shape == (2, 3, 8, 8)
    assert nn.Flatten()(x).shape == (2, 192)
    assert nn.BatchNorm2d(3)(x).shape == x.shape


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="Linear: expected input with last dimension 4"):
        nn.Linear(4, 2)(tensor(np.ones((3, 5))))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="in_channels must be a positive int"):
        nn.Conv2d(0, 4, 3)
    with pytest.raises(ValueError, match=r"Dropout: p must be a finite number in \[0.0, 1.0\]"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected \(N, 3, H, W\)"):
        nn.BatchNorm2d(3)(tensor(np.ones((2, 4, 5, 5))))
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), "relu")


def test_dropout_trains_with_scaling_and_is_identity_in_eval():
    tg.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = tensor(np.ones((200, 200), np.float32))
    y = drop(x).numpy()
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert np.allclose(y[y != 0], 1 / 0.75)
    drop.eval()
    assert drop(x) is x


def test_batchnorm_training_and_running_statistics():
    rng = np.random.default_rng(0)
    x = tensor(rng.normal(3.0, 2.0, (8, 2, 5, 5)))
    bn = nn.BatchNorm2d(2, dtype=np.float64)
    y = bn(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)
    n = 8 * 25
    batch_var = x.numpy().var(axis=(0, 2, 3)) * n / (n - 1)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * x.numpy().mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * batch_var)
    bn.eval()
    expected = (x.numpy() - bn.running_mean.numpy()[None, :, None, None]) / np.sqrt(
        bn.running_var.numpy()[None, :, None, None] + bn.eps
    )
    np.testing.assert_allclose(bn(x).numpy(), expected, atol=1e-12)
    buffers = ["running_mean", "running_var", "num_batches_tracked"]
    assert [n for n, _ in bn.named_buffers()] == buffers
    assert bn.num_batches_tracked.item() == 1  # the training call above; eval calls do not count


def test_batchnorm_gradients_match_finite_differences():
    def f(x, w, b):
        bn = nn.BatchNorm2d(2, dtype=np.float64)
        bn.weight, bn.bias = w, b  # the gradcheck's own tensors, so it checks their gradients
        return bn(x)

    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 2, 2, 2)), np.array([1.5, -0.5]), np.array([0.1, 0.2])
    assert gradcheck(f, [tensor(a, requires_grad=True) for a in (x, w, b)])


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64), (2, 2, 4, 4)),
        (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, dtype=np.float64), (1, 2, 3, 3)),
        (lambda: nn.BatchNorm2d(2, dtype=np.float64), (3, 2, 3, 3)),
        (lambda: nn.Linear(4, 3, dtype=np.float64), (2, 4)),
        (lambda: nn.Sequential(nn.MaxPool2d(2), nn.Flatten()), (2, 1, 4, 4)),
    ],
)
def test_layers_have_correct_second_derivatives(make, shape):
    tg.manual_seed(0)
    layer = make()
    x = tensor(np.random.default_rng(1).permutation(np.prod(shape)).reshape(shape) * 0.1,
               requires_grad=True)  # fmt: skip
    names = [n for n, _ in layer.named_parameters()]  # all on the layer itself here
    assert tg.gradgradcheck(lambda x: layer(x).tanh(), [x])
    if names:
        values = [getattr(layer, n).detach() for n in names]
        assert tg.gradgradcheck(lambda *ps: with_parameters(layer, names, ps, x), values)


def with_parameters(layer, names, values, x):
    """``layer(x).tanh()`` with its parameters replaced by ``values`` (Tensors in the graph)."""
    saved = [getattr(layer, n) for n in names]
    try:
        for n, v in zip(names, values):
            object.__setattr__(layer, n, v)
        return layer(x).tanh()
    finally:
        for n, p in zip(names, saved):
            object.__setattr__(layer, n, p)


@pytest.mark.parametrize(
    "layer",
    [
        nn.Linear(3, 2),
        nn.Conv2d(1, 2, 2),
        nn.MaxPool2d(2),
        nn.AvgPool2d(2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dropout(),
        nn.BatchNorm2d(3),
        nn.ConvTranspose2d(1, 2, 2),
    ],
)
@pytest.mark.parametrize("bad", [[1.0, 2.0, 3.0], np.ones((2, 3, 4, 4), np.float32), None])
def test_layers_refuse_what_is_not_a_tensor(layer, bad):
    with pytest.raises(TypeError, match=f"{type(layer).__name__}: input must be a Tensor"):
        layer(bad)


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: nn.MaxPool2d(2.0), "MaxPool2d: kernel_size must be an int or a pair"),
        (lambda: nn.MaxPool2d(2, stride=1.5), "MaxPool2d: stride"),
        (lambda: nn.AvgPool2d((2, 2, 2)), "AvgPool2d: kernel_size"),
        (lambda: nn.AvgPool2d(2, padding=None), "AvgPool2d: padding"),
        (lambda: nn.Dropout("0.5"), "Dropout: p must be a number"),
        (lambda: nn.BatchNorm2d(3, eps=None), "BatchNorm2d: eps must be a number"),
    ],
)
def test_layer_arguments_are_checked_when_the_layer_is_made(make, pattern):
    with pytest.raises(TypeError, match=pattern):
        make()
    with pytest.raises(ValueError, match="BatchNorm2d: momentum"):
        nn.BatchNorm2d(3, momentum=float("nan"))


def test_batchnorm_on_one_value_per_channel_refuses_to_train_like_pytorch():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(tensor(np.ones((1, 3, 1, 1), np.float32)))
    np.testing.assert_array_equal(bn.running_mean.numpy(), 0.0)
    bn.eval()
    assert bn(tensor(np.ones((1, 3, 1, 1), np.float32))).shape == (1, 3, 1, 1)


def test_batchnorm_on_an_empty_batch_gives_an_empty_output_and_keeps_its_statistics():
    bn = nn.BatchNorm2d(3)
    bn(tensor(np.random.default_rng(0).normal(size=(4, 3, 2, 2)).astype(np.float32)))
    mean, var = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    y = bn(tensor(np.zeros((0, 3, 2, 2), np.float32)))
    assert y.shape == (0, 3, 2, 2)
    y.sum().backward()
    np.testing.assert_array_equal(bn.weight.grad.numpy(), 0.0)
    np.testing.assert_array_equal(bn.running_mean.numpy(), mean)
    np.testing.assert_array_equal(bn.running_var.numpy(), var)
    assert np.isfinite(bn.running_var.numpy()).all()


# -- the layers the model zoo needs --------------------------------------------------------------


@pytest.mark.parametrize(
    "size, out", [(1, (1, 1)), (2, (2, 2)), ((3, 2), (3, 2)), ((None, 4), (7, 4))]
)
def test_adaptive_avg_pool_windows_and_gradient(size, out):
    rng = np.random.default_rng(0)
    x = tensor(rng.standard_normal((2, 3, 7, 5)), requires_grad=True)
    pool = nn.AdaptiveAvgPool2d(size)
    y = pool(x)
    assert y.shape == (2, 3, *out)
    # PyTorch's windows: cell i of a side n averages floor(i n / o) .. ceil((i + 1) n / o) - 1
    oh, ow = y.shape[2:]
    i, j = oh - 1, ow - 1
    r0, r1 = i * 7 // oh, -(-(i + 1) * 7 // oh)
    c0, c1 = j * 5 // ow, -(-(j + 1) * 5 // ow)
    window = x.numpy()[:, :, r0:r1, c0:c1]
    np.testing.assert_allclose(y.numpy()[:, :, i, j], window.mean(axis=(2, 3)))
    assert gradcheck(pool, [x])


def test_adaptive_avg_pool_of_an_evenly_divided_input_is_plain_average_pooling():
    x = tensor(np.random.default_rng(1).standard_normal((1, 2, 8, 6)))
    np.testing.assert_allclose(
        nn.AdaptiveAvgPool2d((4, 3))(x).numpy(), tg.functional.avg_pool2d(x, 2).numpy()
    )


def test_identity_and_leaky_relu():
    x = tensor(np.array([-2.0, -0.5, 0.0, 1.5]), requires_grad=True)
    ident = nn.Identity(54, unused="argument")
    assert ident(x) is x
    act = nn.LeakyReLU(0.2)
    y = act(x)
    np.testing.assert_allclose(y.numpy(), [-0.4, -0.1, 0.0, 1.5])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.2, 0.2, 0.2, 1.0])  # slope at 0, as PyTorch
    assert nn.LeakyReLU().negative_slope == 0.01 and "negative_slope=0.2" in repr(act)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: nn.AdaptiveAvgPool2d(0), ValueError, "AdaptiveAvgPool2d: output_size"),
        (lambda: nn.AdaptiveAvgPool2d((1, 2, 3)), TypeError, "AdaptiveAvgPool2d: output_size"),
        (lambda: nn.AdaptiveAvgPool2d(1)(np.zeros((1, 1, 2, 2))), TypeError, "must be a Tensor"),
        (lambda: nn.AdaptiveAvgPool2d(2)(tensor(np.zeros((2, 2)))), ValueError, "4-D"),
        (lambda: nn.LeakyReLU(float("nan")), ValueError, "LeakyReLU: negative_slope"),
        (lambda: tg.functional.leaky_relu(Tensor([1.0]), "0.1"), TypeError, "leaky_relu"),
    ],
)
def test_new_layer_argument_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 7), st.integers(1, 7)),
    data=st.data(),
)
def test_adaptive_avg_pool_matches_its_window_rule_and_finite_differences(shape, data):
    oh = data.draw(st.integers(1, shape[2]), label="oh")
    ow = data.draw(st.integers(1, shape[3]), label="ow")
    a = np.random.default_rng(sum(shape)).standard_normal(shape)
    x = tensor(a, requires_grad=True)
    y = tg.functional.adaptive_avg_pool2d(x, (oh, ow))
    want = np.empty((*shape[:2], oh, ow))
    for i in range(oh):
        for j in range(ow):
            rows = slice(i * shape[2] // oh, -(-(i + 1) * shape[2] // oh))
            cols = slice(j * shape[3] // ow, -(-(j + 1) * shape[3] // ow))
            want[:, :, i, j] = a[:, :, rows, cols].mean(axis=(2, 3))
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda t: tg.functional.adaptive_avg_pool2d(t, (oh, ow)), [x])


@pytest.mark.parametrize("bad", [None, 3, "weights.npz", [("weight", np.zeros((2, 2)))]])
def test_load_state_dict_refuses_what_is_not_a_mapping_and_changes_nothing(bad):
    lin = nn.Linear(2, 2)
    before = {k: v.numpy().copy() for k, v in lin.state_dict().items()}
    with pytest.raises(TypeError, match="load_state_dict for Linear: state_dict must be a mapping"):
        lin.load_state_dict(bad)
    for k, v in lin.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_parameters_are_named_by_the_path_modules_registered_them_under():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.Linear(2, 2)))
    assert [p.name for p in net.parameters()] == [n for n, _ in net.named_parameters()]
    mine = nn.Parameter(np.zeros(2, np.float32))
    mine.name = "mine"
    holder = nn.Module()
    holder.w = mine
    assert mine.name == "mine"  # a name you gave stays
