"""A catalogue of bad inputs: every public function, layer, optimizer, data reader, checkpoint
reader and command, fed wrong types and values, must raise a typed error (ValueError, TypeError,
RuntimeError, IndexError, KeyError or OSError; exit status 2 on the command line) whose message
names the function or the argument, and must leave its inputs as they were.

``CATALOGUE`` is explicit, one case per (target, bad value); a hypothesis test then draws more bad
values of each kind at random.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tinygrad_cnn import Tensor, data, nn, optim, tensor
from tinygrad_cnn import functional as F
from tinygrad_cnn.args import is_real
from tinygrad_cnn.cli import main
from tinygrad_cnn.utils.data import DataLoader, TensorDataset

ERRORS = (ValueError, TypeError, RuntimeError, IndexError, KeyError, OSError)
NAN, INF = float("nan"), float("inf")

# Bad values by the kind of argument they are wrong for
BAD = {
    "pos_pair": [
        None,
        "2",
        b"2",
        1.5,
        2.0,
        0,
        -1,
        True,
        (1,),
        (1, 2, 3),
        (1.5, 1),
        (0, 1),
        [],
        NAN,
        INF,
        object(),
        1j,
        {"k": 1},
    ],
    "nonneg_pair": [None, "1", 0.5, 1.0, -1, (1,), (1, 2, 3), (-1, 0), (0.5, 0), NAN, object()],
    "pos_int": [None, "3", 1.5, 3.0, 0, -2, True, NAN, INF, (3,), object()],
    "number": ["1", b"1", object(), [1.0], (1, 2), 1j],  # None is a default (pad's value)
    "axis": [1.5, "0", 7, -9, (0, 0), (0, 1.5), object(), [[0]]],
    "shape": [2.7, "12", None, (2.5, 12), (24.0,), object(), (5, 5), (-2, -12), (1, -1, -1)],
    "tensor": [None, [1.0, 2.0], np.ones((2, 3, 4, 4), np.float32), "x", 3.0],
    "data": [
        None,
        "1.5",
        b"1",
        [None, 1.0],
        [[1.0], [None]],
        object(),
        {"a": 1},
        ["1", 2],
        np.array(["a"]),
        np.array([object()]),
        np.array([1j]),
        {1, 2},
    ],
    "hyper": [-1, -0.5, NAN, INF, -INF, "0.1", None, [0.1], object(), 1j],
    "prob": [-0.1, 1.5, NAN, INF, "0.5", None, [0.5]],
    "betas": [
        0.9,
        (0.9,),
        (0.9, 0.99, 0.1),
        (1.0, 0.9),
        (NAN, 0.9),
        (-0.1, 0.9),
        "ab",
        None,
        (0.9, "0.99"),
    ],
    "choice": ["maximum", None, 1, "", "MEAN", b"mean"],
}


def x4():
    return tensor(np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32))


def w4():
    return tensor(np.random.default_rng(1).random((4, 3, 3, 3), dtype=np.float32))


def x3():
    return tensor(np.arange(24.0).reshape(2, 3, 4))


def param():
    return tensor(np.ones(3), requires_grad=True)


# (name shown in the test id, kind of the bad value, call with the bad value, names to find)
TARGETS = [
    ("conv2d.stride", "pos_pair", lambda v: F.conv2d(x4(), w4(), stride=v), ("conv2d", "stride")),
    ("conv2d.dilation", "pos_pair", lambda v: F.conv2d(x4(), w4(), dilation=v), ("dilation",)),
    ("conv2d.padding", "nonneg_pair", lambda v: F.conv2d(x4(), w4(), padding=v), ("padding",)),
    ("conv2d.groups", "pos_int", lambda v: F.conv2d(x4(), w4(), groups=v), ("groups",)),
    ("conv2d.input", "data", lambda v: F.conv2d(v, w4()), ("conv2d", "Tensor")),
    (
        "conv_transpose2d.stride",
        "pos_pair",
        lambda v: F.conv_transpose2d(x4(), tensor(np.ones((3, 2, 3, 3), np.float32)), stride=v),
        ("conv_transpose2d",),
    ),
    (
        "conv_transpose2d.padding",
        "nonneg_pair",
        lambda v: F.conv_transpose2d(x4(), tensor(np.ones((3, 2, 3, 3), np.float32)), padding=v),
        ("conv_transpose2d",),
    ),
    ("max_pool2d.kernel_size", "pos_pair", lambda v: F.max_pool2d(x4(), v), ("max_pool2d",)),
    ("max_pool2d.stride", "pos_pair", lambda v: F.max_pool2d(x4(), 2, v), ("max_pool2d",)),
    ("avg_pool2d.kernel_size", "pos_pair", lambda v: F.avg_pool2d(x4(), v), ("avg_pool2d",)),
    ("avg_pool2d.padding", "nonneg_pair", lambda v: F.avg_pool2d(x4(), 3, 1, v), ("avg_pool2d",)),
    ("pool2d.mode", "choice", lambda v: F.pool2d(x4(), 2, mode=v), ("pool2d", "mode")),
    ("sum.axis", "axis", lambda v: x3().sum(axis=v), ("sum", "axis")),
    ("mean.axis", "axis", lambda v: F.mean(x3(), v), ("mean", "axis")),
    ("max.axis", "axis", lambda v: x3().max(axis=v), ("max", "axis")),
    ("softmax.axis", "axis", lambda v: F.softmax(x3(), v), ("softmax", "axis")),
    ("flatten.start_dim", "axis", lambda v: x3().flatten(v), ("flatten", "axis")),
    ("reshape.shape", "shape", lambda v: x3().reshape(v), ("reshape", "shape")),
    ("transpose.axes", "shape", lambda v: x3().transpose(v), ("transpose", "axes")),
    ("pad.pad", "shape", lambda v: x3().pad(v), ("pad",)),
    ("pad.value", "number", lambda v: x3().pad((1, 1), value=v), ("pad", "value")),
    ("Tensor", "data", lambda v: Tensor(v), ("Tensor",)),
    ("tensor", "data", lambda v: tensor(v), ("tensor",)),
    ("add.other", "data", lambda v: x3() + v, ("Tensor",)),
    (
        "cross_entropy.reduction",
        "choice",
        lambda v: F.cross_entropy(tensor(np.ones((2, 3))), np.array([0, 1]), reduction=v),
        ("cross_entropy", "reduction"),
    ),
    (
        "cross_entropy.input",
        "data",
        lambda v: F.cross_entropy(v, np.array([0, 1])),
        ("cross_entropy", "Tensor"),
    ),
    ("Linear.in_features", "pos_int", lambda v: nn.Linear(v, 2), ("Linear", "in_features")),
    ("Linear.out_features", "pos_int", lambda v: nn.Linear(2, v), ("Linear", "out_features")),
    ("Linear.input", "tensor", lambda v: nn.Linear(3, 2)(v), ("Linear", "input")),
    ("Conv2d.in_channels", "pos_int", lambda v: nn.Conv2d(v, 2, 3), ("Conv2d", "in_channels")),
    ("Conv2d.kernel_size", "pos_pair", lambda v: nn.Conv2d(1, 2, v), ("Conv2d", "kernel_size")),
    ("Conv2d.stride", "pos_pair", lambda v: nn.Conv2d(1, 2, 3, stride=v), ("Conv2d", "stride")),
    ("Conv2d.padding", "nonneg_pair", lambda v: nn.Conv2d(1, 2, 3, padding=v), ("Conv2d",)),
    ("Conv2d.input", "tensor", lambda v: nn.Conv2d(3, 2, 3)(v), ("Conv2d", "input")),
    ("MaxPool2d.kernel_size", "pos_pair", lambda v: nn.MaxPool2d(v), ("MaxPool2d",)),
    ("AvgPool2d.kernel_size", "pos_pair", lambda v: nn.AvgPool2d(v), ("AvgPool2d",)),
    ("MaxPool2d.input", "tensor", lambda v: nn.MaxPool2d(2)(v), ("MaxPool2d", "input")),
    ("BatchNorm2d.num_features", "pos_int", lambda v: nn.BatchNorm2d(v), ("BatchNorm2d",)),
    ("BatchNorm2d.momentum", "prob", lambda v: nn.BatchNorm2d(3, momentum=v), ("momentum",)),
    ("BatchNorm2d.input", "tensor", lambda v: nn.BatchNorm2d(3)(v), ("BatchNorm2d", "input")),
    ("Dropout.p", "prob", lambda v: nn.Dropout(v), ("Dropout", "p")),
    ("Dropout.input", "tensor", lambda v: nn.Dropout()(v), ("Dropout", "input")),
    ("ReLU.input", "tensor", lambda v: nn.ReLU()(v), ("ReLU", "input")),
    ("Flatten.input", "tensor", lambda v: nn.Flatten()(v), ("Flatten", "input")),
    ("SGD.lr", "hyper", lambda v: optim.SGD([param()], lr=v), ("SGD", "lr")),
    ("SGD.momentum", "hyper", lambda v: optim.SGD([param()], 0.1, momentum=v), ("momentum",)),
    (
        "SGD.weight_decay",
        "hyper",
        lambda v: optim.SGD([param()], 0.1, weight_decay=v),
        ("weight_decay",),
    ),
    ("Adam.lr", "hyper", lambda v: optim.Adam([param()], lr=v), ("Adam", "lr")),
    ("Adam.eps", "hyper", lambda v: optim.Adam([param()], eps=v), ("Adam", "eps")),
    ("Adam.betas", "betas", lambda v: optim.Adam([param()], betas=v), ("Adam", "betas")),
    (
        "DataLoader.batch_size",
        "pos_int",
        lambda v: DataLoader(TensorDataset(np.zeros(4)), batch_size=v),
        ("DataLoader", "batch_size"),
    ),
]

# values of a kind that this one argument accepts
VALID = {
    "max_pool2d.stride": [None],
    "transpose.axes": [None],
    "pad.pad": [(5, 5)],
    "DataLoader.batch_size": [None],  # no batching, as PyTorch
}


def valid(name, value):
    return any(value is v or value == v for v in VALID.get(name, []))


def _id(value):
    """The value in a test id, the same in every process (an object's repr has its address)."""
    text = repr(value)
    return re.sub(r" at 0x[0-9a-f]+", "", text)


CATALOGUE = [
    pytest.param(call, value, names, id=f"{name}={_id(value)}"[:60])
    for name, kind, call, names in TARGETS
    for value in BAD[kind]
    if not valid(name, value)
]


def expect_clear_error(call, value, names):
    with pytest.raises(ERRORS) as e:
        call(value)
    assert any(n in str(e.value) for n in names), f"{type(e.value).__name__}: {e.value}"


@pytest.mark.parametrize("call, value, names", CATALOGUE)
def test_the_catalogue_of_bad_inputs(call, value, names):
    expect_clear_error(call, value, names)


def test_the_catalogue_is_large():
    assert len(CATALOGUE) >= 400


# -- hypothesis: more bad values of each kind, drawn at random --------------------------------

NOT_INTS = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not float(f).is_integer()),
    st.complex_numbers(max_magnitude=5).filter(lambda z: z.imag != 0),
    st.binary(max_size=3),
)
BAD_DRAWS = {
    "pos_pair": st.one_of(
        NOT_INTS,
        st.integers(max_value=0),
        st.tuples(st.integers(1, 3), NOT_INTS),
        st.lists(st.integers(1, 3), min_size=3, max_size=5).map(tuple),
    ),
    "nonneg_pair": st.one_of(
        NOT_INTS, st.integers(max_value=-1), st.tuples(st.integers(max_value=-1), st.integers(0, 1))
    ),
    "pos_int": st.one_of(NOT_INTS, st.integers(max_value=0)),
    "hyper": st.one_of(
        st.floats(max_value=-1e-9), st.just(NAN), st.just(INF), st.text(max_size=3), st.none()
    ),
    "prob": st.one_of(
        st.floats(min_value=1.0001), st.floats(max_value=-1e-9), st.just(NAN), st.text(max_size=3)
    ),
    "axis": st.one_of(
        st.integers(min_value=3),
        st.integers(max_value=-4),
        st.floats(allow_nan=False).filter(lambda f: not f.is_integer()),
    ),
    "data": st.one_of(
        st.none(),
        st.text(max_size=4),
        st.lists(st.one_of(st.none(), st.text(min_size=1, max_size=2)), min_size=1, max_size=3),
    ),
}
DRAWN = [t for t in TARGETS if t[1] in BAD_DRAWS]


@given(st.sampled_from(DRAWN).flatmap(lambda t: st.tuples(st.just(t), BAD_DRAWS[t[1]])))
def test_random_bad_inputs_get_clear_errors(case):
    (name, kind, call, names), value = case
    assume(not valid(name, value))
    if kind == "data" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = [*value, None]  # strings alone could be numbers ("1"): make it surely bad
    if kind == "axis" and name == "flatten.start_dim" and isinstance(value, float):
        return  # flatten checks its axes too; floats are covered by the catalogue
    expect_clear_error(call, value, names)


def test_inputs_are_left_as_they_were():
    x, w = x4(), w4()
    before = x.numpy().copy(), w.numpy().copy()
    for stride in BAD["pos_pair"]:
        with pytest.raises(ERRORS):
            F.conv2d(x, w, stride=stride)
    np.testing.assert_array_equal(x.numpy(), before[0])
    np.testing.assert_array_equal(w.numpy(), before[1])
    p = param()
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    for lr in BAD["hyper"]:
        if is_real(lr) and np.isfinite(lr):
            continue  # a group's rate may go below 0 (a schedule's last step can)
        with pytest.raises(ERRORS):
            opt.param_groups[0]["lr"] = lr
    assert opt.param_groups[0]["lr"] == 0.1


# -- files: checkpoints, .npy, IDX (plain and gzip) ---------------------------------------------


def damaged_files(tmp_path):
    good = tmp_path / "good.npz"
    nn.save_npz(good, {"a": np.ones(100)})
    raw = good.read_bytes()
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0xFF
    idx = tmp_path / "good-idx.gz"
    data.write_idx(idx, np.ones((3, 4), np.uint8))
    gz = idx.read_bytes()
    gz_flipped = bytearray(gz)
    gz_flipped[-6] ^= 0xFF  # in the CRC-32 of the data
    files = {
        "truncated.npz": raw[: len(raw) // 2],
        "flipped.npz": bytes(flipped),
        "empty.npz": b"",
        "text.npz": b"hello world",
        "truncated.gz": gz[:-6],
        "flipped.gz": bytes(gz_flipped),
        "badmagic": b"\x01\x02\x08\x01" + b"\x00" * 8,
        "overflow": bytes([0, 0, 8, 3]) + np.array([2**31, 2**31, 4], ">u4").tobytes(),
        "short": bytes([0, 0, 8, 2]) + np.array([3, 4], ">u4").tobytes() + b"\x00" * 5,
        "header": bytes([0, 0, 8, 3, 0, 0]),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    np.save(tmp_path / "array.npy", np.ones(3))
    return tmp_path


@pytest.mark.parametrize(
    "name",
    ["truncated.npz", "flipped.npz", "empty.npz", "text.npz", "array.npy", "missing.npz", "."],
)
def test_damaged_checkpoints_are_named(tmp_path, name):
    path = damaged_files(tmp_path) / name
    with pytest.raises(ERRORS) as e:
        nn.load_npz(path)
    assert str(path) in str(e.value)
    model = nn.Linear(2, 2)
    before = model.weight.numpy().copy()
    with pytest.raises(ERRORS):
        model.load(path)
    np.testing.assert_array_equal(model.weight.numpy(), before)


@pytest.mark.parametrize(
    "name", ["truncated.gz", "flipped.gz", "badmagic", "overflow", "short", "header", "missing"]
)
def test_damaged_idx_files_are_named(tmp_path, name):
    path = damaged_files(tmp_path) / name
    with pytest.raises(ERRORS) as e:
        data.read_idx(path)
    assert str(path) in str(e.value)


# -- the command line: a user mistake is exit status 2 -----------------------------------------

CLI = (
    [["train", "--lr", v] for v in ("-1", "0", "nan", "inf", "-inf")]
    + [["train", "--epochs", v] for v in ("0", "-3")]
    + [["train", "--batch-size", v] for v in ("0", "-1")]
    + [
        ["train", "--seed", "-1"],
        ["train", "--dataset", "cifar"],
        ["train", "--optimizer", "rmsprop"],
        ["train", "--epochs", "1.5"],
        ["train", "--lr", "fast"],
        ["train", "--resume", "nowhere.npz"],
        ["train", "--dataset", "mnist"],
        ["train", "--dataset", "mnist", "--data", "nowhere"],
        ["explain", "--model", "nowhere.npz"],
        ["explain", "--model", "nowhere.npz", "--count", "0"],
        ["bench", "--repeat", "0"],
        ["bench", "--repeat", "-2"],
        ["graph", "--seed", "-1"],
        ["frobnicate"],
        [],
    ]
)


@pytest.mark.parametrize("argv", CLI, ids=lambda a: " ".join(a) or "(nothing)")
def test_command_line_mistakes_exit_with_status_2(tmp_path, monkeypatch, capsys, argv):
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    out = ["--out", str(tmp_path / "o")] if argv[:1] in (["train"], ["graph"]) else []
    with pytest.raises(SystemExit) as e:
        main([*argv, *out])
    assert e.value.code == 2
    assert "error:" in capsys.readouterr().err
