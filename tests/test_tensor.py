"""Tensor construction, properties, operators and argument errors."""

import numpy as np
import pytest

from tinygrad_cnn import Tensor, engine, get_op, no_grad, tensor
from tinygrad_cnn import functional as F


def test_python_numbers_and_lists_default_to_float32():
    assert tensor(1.5).dtype == np.float32
    assert Tensor([[1, 2], [3, 4]]).dtype == np.float32
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64


def test_arrays_keep_their_dtype():
    assert tensor(np.zeros(2, dtype=np.float64)).dtype == np.float64
    assert tensor(np.zeros(2, dtype=np.float16)).dtype == np.float16
    assert tensor(np.arange(3)).dtype == np.arange(3).dtype


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match=r"only floating tensors can require gradients.*int"):
        tensor(np.arange(3), requires_grad=True)


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([object()]), "text", {"a": 1}])
def test_object_and_string_data_are_refused(bad):
    with pytest.raises(TypeError, match="^Tensor"):
        Tensor(bad)
    with pytest.raises(TypeError, match="^tensor"):
        tensor(bad)


@pytest.mark.parametrize("bad", [None, [None, 1.0], [[1.0], [None]], "1.5", b"1", ["1.5"]])
def test_none_and_strings_are_refused_not_made_nan(bad):
    with pytest.raises(TypeError, match="^tensor"):
        tensor(bad)
    with pytest.raises(TypeError, match="Tensor"):
        Tensor([1.0]) + bad


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself warns
def test_matrix_input_becomes_a_plain_array():
    x = tensor(np.matrix([[1.0, 2.0], [3.0, 4.0]]))
    assert type(x.numpy()) is np.ndarray
    np.testing.assert_array_equal((x * x).numpy(), [[1.0, 4.0], [9.0, 16.0]])  # not x @ x
    with pytest.raises(TypeError, match="masked array"):
        tensor(np.ma.masked_array([1.0, 2.0], mask=[0, 1]))


def test_numpy_is_a_read_only_view_so_saved_values_cannot_change_behind_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()  # mul saved x
    view = x.numpy()
    assert np.shares_memory(view, x.numpy()) and not view.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(x)[0] = 5.0
    mine = x.numpy().copy()  # an array of one's own may change freely
    mine[0] = 5.0
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert np.array(x).flags.writeable  # np.array copies


def test_properties():
    t = tensor(np.zeros((2, 3, 4)))
    assert (t.shape, t.ndim, t.numel(), len(t)) == ((2, 3, 4), 3, 24, 2)
    assert (t.size(), t.size(1), t.size(-1), t.dim()) == ((2, 3, 4), 3, 4, 3)
    assert t.T.shape == (4, 3, 2)
    assert np.asarray(t).shape == (2, 3, 4)
    assert np.shares_memory(t.numpy(), t.numpy())
    assert Tensor([[3.5]]).item() == 3.5
    with pytest.raises(ValueError, match=r"item.*\(2,\)"):
        Tensor([1.0, 2.0]).item()


def test_repr_shows_values_dtype_and_op():
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "Tensor([1., 2.], dtype=float32, requires_grad=True)"
    assert repr(x * 2) == "Tensor([2., 4.], dtype=float32, op=mul)"


def test_detach_cuts_the_graph_and_shares_data():
    x = Tensor([1.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf


def test_python_scalars_keep_the_tensor_dtype():
    x = Tensor([1.0, 2.0])
    for y in (x + 1, 2 * x, x / 3, 1 - x, x**2, 2.0**x, -x, x - np.float64(1.0)):
        assert y.dtype == np.float32


def test_operators_broadcast_like_numpy():
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(3.0)
    ta, tb = tensor(a), tensor(b)
    np.testing.assert_allclose((ta + tb).numpy(), a + b)
    np.testing.assert_allclose((ta - tb).numpy(), a - b)
    np.testing.assert_allclose((ta * tb).numpy(), a * b)
    np.testing.assert_allclose((tb / (ta + 1)).numpy(), b / (a + 1))
    np.testing.assert_allclose((ta @ tb).numpy(), a @ b)
    np.testing.assert_allclose((b @ ta.T).numpy(), b @ a.T)  # reflected matmul from an ndarray
    np.testing.assert_allclose((b + ta).numpy(), b + a)  # ndarray on the left defers to Tensor
    assert isinstance(b + ta, Tensor)


def test_comparisons_give_bool_tensors_without_grad():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal((x == 2.0).numpy(), [False, True, False])
    assert {x: 1}[x] == 1  # still hashable


def test_iteration_and_len():
    x = tensor(np.arange(6.0).reshape(3, 2))
    assert [r.shape for r in x] == [(2,), (2,), (2,)]
    with pytest.raises(TypeError):
        len(tensor(1.0))


# -- one way to build a Tensor, one rule for lifting numbers ------------------------------------

SLOTS = [s for s in Tensor.__slots__ if s != "__weakref__"]


def _made_every_way():
    """A Tensor from every place that makes one: the constructor, the engine's fast path, an op
    (recorded and not), a gradient, a constant lifted from a number, a comparison, detach."""
    from tinygrad_cnn import nn, no_grad

    leaf = Tensor([1.0, 2.0], requires_grad=True)
    out = leaf * 2.0
    out.sum().backward()
    with no_grad():
        unrecorded = leaf * leaf
    return {
        "constructor": Tensor([1.0]),
        "parameter": nn.Parameter(np.zeros(2, np.float32)),
        "_wrap": Tensor._wrap(np.zeros(2), False),
        "recorded op": out,
        "unrecorded op": unrecorded,
        "gradient": leaf.grad,
        "lifted scalar": engine.lift_scalar(2.0, leaf),
        "comparison": leaf > 1,
        "detach": out.detach(),
    }


@pytest.mark.parametrize("how", list(_made_every_way()))
def test_every_place_that_makes_a_tensor_sets_exactly_its_slots(how):
    t = _made_every_way()[how]
    assert isinstance(t, Tensor)
    unset = [s for s in SLOTS if not hasattr(t, s)]
    assert not unset, f"a Tensor made by {how} leaves {unset} unset"
    assert not hasattr(t, "__dict__")  # slots only: nothing else can be set
    assert isinstance(t.numpy(), np.ndarray) and isinstance(t._vc, list) and t._retain is False


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_op_apply_lifts_numbers_by_the_same_rule_as_the_operators(dtype):
    x = tensor(np.ones(3, dtype))
    mul = get_op("mul")
    for a, b in ((x, 2.0), (2.0, x), (x, 2), (x, np.float64(2.0))):
        expected = F.mul(a, b)
        got = mul.apply(a, b)
        assert got.dtype == expected.dtype == dtype
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    where = get_op("where").apply(np.array([True, False, True]), x, 0.5)
    assert where.dtype == dtype  # the first Tensor sets the dtype, wherever it stands


def test_numbers_next_to_integer_tensors_and_without_tensors():
    i = tensor(np.arange(3))
    assert (i * 2).dtype == get_op("mul").apply(i, 2).dtype == i.dtype
    assert (i * 0.5).dtype == np.float32  # PyTorch's rule: a float next to integers
    assert get_op("mul").apply(i, 0.5)._node is None  # Op.apply lifts the number alone
    # no Tensor: the first operand converts (to float32), and the rest follow the same rule
    assert F.add(2.0, np.ones(2)).dtype == get_op("add").apply(2.0, np.ones(2)).dtype
    assert F.add(np.ones(2, np.float16), 2.0).dtype == np.float16


def test_fill_and_zero_change_every_element_in_place_and_bump_the_version():
    x = tensor(np.arange(6.0).reshape(2, 3))
    data, version = x._data, x._version
    assert x.fill_(2.5) is x and x._data is data  # the same storage, changed
    np.testing.assert_array_equal(x.numpy(), np.full((2, 3), 2.5))
    assert x.zero_() is x and x._data is data
    np.testing.assert_array_equal(x.numpy(), np.zeros((2, 3)))
    assert x._version == version + 2
    i = tensor(np.ones(3, np.int64))
    assert i.fill_(7).dtype == np.int64 and i.tolist() == [7, 7, 7]


def test_fill_and_zero_refuse_a_tensor_that_requires_grad_unless_not_recording():
    w = Tensor([1.0, 2.0], requires_grad=True)
    for call in (lambda: w.fill_(0.0), w.zero_):
        with pytest.raises(RuntimeError, match="a leaf tensor that requires grad"):
            call()
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])  # left as it was
    with no_grad():
        w.zero_()
    np.testing.assert_array_equal(w.numpy(), [0.0, 0.0])


def test_a_saved_tensor_filled_in_place_makes_backward_refuse():
    w = Tensor([1.0, 2.0], requires_grad=True)
    x = Tensor([3.0, 4.0])
    y = (w * x).sum()
    x.fill_(0.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
