"""Dtypes, promotion, devices and factories as PyTorch has them, without PyTorch installed (the
comparisons with PyTorch itself are in test_torch_api.py)."""

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import nn


@pytest.mark.parametrize(
    "make, dtype",
    [
        (lambda: tg.tensor([1, 2]) * 0.5, "float32"),
        (lambda: tg.tensor([True]) + 1, "int64"),
        (lambda: tg.tensor([1], dtype=tg.int32) + 1, "int32"),
        (lambda: tg.tensor([1]) + tg.tensor([1.0]), "float32"),
        (lambda: tg.tensor([1.0]) + tg.tensor(2.0, dtype=tg.float64), "float32"),
        (lambda: tg.tensor([1]) + tg.tensor(2.0, dtype=tg.float64), "float64"),
        (lambda: tg.tensor([1.0], dtype=tg.float16) * 2.0, "float16"),
        (lambda: tg.Tensor(np.zeros(2)), "float32"),
        (lambda: tg.tensor(np.zeros(2)), "float64"),
        (lambda: tg.Tensor([1, 2]), "float32"),
        (lambda: tg.tensor([1, 2]), "int64"),
        (lambda: tg.arange(3), "int64"),
        (lambda: tg.arange(0.0, 1.0, 0.5), "float32"),
        (lambda: tg.full((2,), True), "bool"),
        (lambda: tg.tensor([1, 2], dtype=tg.int32).sum(), "int64"),
        (lambda: tg.functional.mse_loss(tg.ones(2), tg.tensor([1, 2])), "float32"),
    ],
)
def test_dtypes_are_pytorchs(make, dtype):
    assert make().dtype == np.dtype(dtype) and str(make().dtype) == dtype


def test_the_dtype_objects_are_numpys_and_the_default_can_change():
    assert tg.float32 == np.float32 and tg.long == tg.int64 and tg.double == np.float64
    assert tg.get_default_dtype() == tg.float32
    tg.set_default_dtype(tg.float64)
    try:
        assert tg.tensor([1.5]).dtype == tg.float64 and tg.zeros(2).dtype == tg.float64
    finally:
        tg.set_default_dtype(tg.float32)
    with pytest.raises(TypeError, match="set_default_dtype: only floating dtypes"):
        tg.set_default_dtype(tg.int64)
    with pytest.raises(TypeError, match="to: dtype must be a dtype such as float32, got 'banana'"):
        tg.ones(2).to("banana")


def test_the_cpu_is_the_only_device_and_other_devices_are_refused_clearly():
    assert tg.device("cpu") == "cpu" and str(tg.ones(1).device) == "cpu"
    assert not tg.cuda.is_available() and not tg.accelerator.is_available()
    t = tg.ones(2)
    assert t.to("cpu") is t and t.cpu() is t and t.to(tg.device("cpu")) is t
    for call in (lambda: tg.device("cuda"), t.cuda, lambda: t.to("cuda:0"),
                 lambda: tg.zeros(2, device="cuda")):  # fmt: skip
        with pytest.raises(RuntimeError, match="runs on the CPU only"):
            call()


def test_module_to_converts_floating_parameters_and_buffers_in_place():
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm2d(3))
    w = m[0].weight
    assert m.to("cpu") is m and m.to(tg.float64) is m
    assert m[0].weight is w and w.dtype == tg.float64 and m[1].running_var.dtype == tg.float64
    assert m[1].num_batches_tracked.dtype == tg.int64  # integers stay integers
    assert m.float()[0].weight.dtype == tg.float32
    with pytest.raises(RuntimeError, match="Module.to: device 'cuda'"):
        m.cuda()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: tg.zeros(2, -1), ValueError, "zeros: sizes must be non-negative"),
        (lambda: tg.zeros(2.5), TypeError, "zeros: size must be an int or a sequence"),
        (lambda: tg.arange(0, 1, 0), ValueError, "arange: step must be nonzero"),
        (lambda: tg.randint(3, 3, (2,)), ValueError, "randint: low must be less than high"),
        (lambda: tg.full((2,), "x"), TypeError, "full: fill_value must be a number"),
        (lambda: tg.tensor([1.0], dtype="banana"), TypeError, "tensor: dtype must be a dtype"),
        (lambda: tg.from_numpy([1.0]), TypeError, "from_numpy: expected an np.ndarray"),
        (lambda: tg.zeros_like([1.0]), TypeError, "zeros_like: input must be a Tensor"),
    ],
)
def test_factories_refuse_bad_arguments_naming_them(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_factories_make_what_they_say():
    assert tg.zeros(2, 3).tolist() == [[0.0] * 3] * 2 and tg.ones((2,)).tolist() == [1.0, 1.0]
    assert tg.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert tg.linspace(0, 1, 3).tolist() == [0.0, 0.5, 1.0]
    assert tg.arange(1, 7, 2).tolist() == [1, 3, 5]
    a = np.arange(3.0)
    t = tg.from_numpy(a)
    a[0] = 9
    assert t.tolist()[0] == 9.0  # shares memory
    assert tg.tensor(a).tolist()[0] == 9.0 and tg.tensor(a)._data is not a  # copies
    tg.manual_seed(1)
    r = tg.randint(0, 4, (100,))
    assert r.dtype == tg.int64 and 0 <= r.min().item() and r.max().item() < 4
    x = tg.zeros(3, requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.grad_fn is None


@pytest.mark.parametrize(
    "call, fn",
    [
        (lambda: tg.Tensor([1.0], dtype="banana"), "Tensor"),
        (lambda: tg.Tensor(np.ones(2), dtype="banana"), "Tensor"),
        (lambda: tg.functional.cast(tg.ones(2), "banana"), "cast"),
        (lambda: tg.ones(2).type("banana"), "type"),
        (lambda: tg.zeros(2, dtype="banana"), "zeros"),
    ],
)
def test_an_unknown_dtype_is_refused_naming_the_function_and_the_value(call, fn):
    with pytest.raises(
        TypeError, match=f"^{fn}: dtype must be a dtype such as float32, got 'banana'"
    ):
        call()
