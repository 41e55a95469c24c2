"""Tensor construction, properties, operators and argument errors."""

import numpy as np
import pytest

from tinygrad_cnn import Tensor, autograd, get_op
from tinygrad_cnn import functional as F


def test_python_numbers_and_lists_default_to_float32():
    assert Tensor(1.5).dtype == np.float32
    assert Tensor([[1, 2], [3, 4]]).dtype == np.float32
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64


def test_arrays_keep_their_dtype():
    assert Tensor(np.zeros(2, dtype=np.float64)).dtype == np.float64
    assert Tensor(np.zeros(2, dtype=np.float16)).dtype == np.float16
    assert Tensor(np.arange(3)).dtype == np.arange(3).dtype


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match=r"only floating tensors can require gradients.*int"):
        Tensor(np.arange(3), requires_grad=True)


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([object()]), "text", {"a": 1}])
def test_object_and_string_data_are_refused(bad):
    with pytest.raises(TypeError, match="Tensor"):
        Tensor(bad)


@pytest.mark.parametrize("bad", [None, [None, 1.0], [[1.0], [None]], "1.5", b"1", ["1.5"]])
def test_none_and_strings_are_refused_not_made_nan(bad):
    with pytest.raises(TypeError, match="Tensor"):
        Tensor(bad)
    with pytest.raises(TypeError, match="Tensor"):
        Tensor([1.0]) + bad


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself warns
def test_matrix_input_becomes_a_plain_array():
    x = Tensor(np.matrix([[1.0, 2.0], [3.0, 4.0]]))
    assert type(x.data) is np.ndarray
    np.testing.assert_array_equal((x * x).numpy(), [[1.0, 4.0], [9.0, 16.0]])  # not x @ x
    with pytest.raises(TypeError, match="masked array"):
        Tensor(np.ma.masked_array([1.0, 2.0], mask=[0, 1]))


def test_numpy_is_a_read_only_view_so_saved_values_cannot_change_behind_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()  # mul saved x
    view = x.numpy()
    assert np.shares_memory(view, x.data) and not view.flags.writeable
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
    t = Tensor(np.zeros((2, 3, 4)))
    assert (t.shape, t.ndim, t.size, len(t)) == ((2, 3, 4), 3, 24, 2)
    assert t.T.shape == (4, 3, 2)
    assert np.asarray(t).shape == (2, 3, 4)
    assert np.shares_memory(t.numpy(), t.data)
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
    ta, tb = Tensor(a), Tensor(b)
    np.testing.assert_allclose((ta + tb).data, a + b)
    np.testing.assert_allclose((ta - tb).data, a - b)
    np.testing.assert_allclose((ta * tb).data, a * b)
    np.testing.assert_allclose((tb / (ta + 1)).data, b / (a + 1))
    np.testing.assert_allclose((ta @ tb).data, a @ b)
    np.testing.assert_allclose((b @ ta.T).data, b @ a.T)  # reflected matmul from an ndarray
    np.testing.assert_allclose((b + ta).data, b + a)  # ndarray on the left defers to Tensor
    assert isinstance(b + ta, Tensor)


def test_comparisons_give_bool_tensors_without_grad():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal((x == 2.0).data, [False, True, False])
    assert {x: 1}[x] == 1  # still hashable


def test_matmul_cases():
    rng = np.random.default_rng(0)
    for sa, sb in [
        ((3,), (3,)),
        ((3,), (3, 2)),
        ((2, 3), (3,)),
        ((4, 2, 3), (3, 5)),
        ((2, 1, 2, 3), (4, 3, 2)),
    ]:
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        np.testing.assert_allclose((Tensor(a) @ Tensor(b)).data, a @ b)


def test_matmul_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) do not align"):
        Tensor(np.zeros((2, 3))) @ Tensor(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        F.matmul(Tensor(1.0), Tensor([1.0]))


def test_shape_functions():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(4, -1).shape == (4, 6)
    assert x.reshape((6, 4)).shape == (6, 4)
    assert x.permute(2, 0, 1).shape == (4, 2, 3)
    assert x.transpose().shape == (4, 3, 2)
    assert x.swapaxes(0, 2).shape == (4, 3, 2)
    assert x.flatten().shape == (24,)
    assert x.flatten(1).shape == (2, 12)
    assert x[:, :1].squeeze(1).shape == (2, 4)
    assert x[:, :1].squeeze().shape == (2, 4)
    assert x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x[:1].expand(5, -1, -1).shape == (5, 3, 4)
    assert F.concatenate([x, x], axis=-1).shape == (2, 3, 8)
    assert F.stack([x, x], axis=1).shape == (2, 2, 3, 4)
    np.testing.assert_array_equal(x.pad((1, 2)).data[0, 0], [0, 0, 1, 2, 3, 0, 0])
    assert x.pad((1, 1, 2, 2)).shape == (2, 7, 6)


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda x: x.reshape(5, 5),
            ValueError,
            r"reshape: cannot reshape .* \(2, 3, 4\) into \(5, 5\)",
        ),
        (lambda x: x.sum(axis=3), ValueError, r"sum: axis 3 is out of range .* 3 dimensions"),
        (lambda x: x.max(axis=(0, 0)), ValueError, "max: axis .* repeats"),
        (lambda x: x.transpose(0, 1), ValueError, "transpose: axes"),
        (lambda x: x.transpose(0, 1, 5), ValueError, r"transpose: axes \(0, 1, 5\)"),
        (lambda x: x.permute(0, 1, -4), ValueError, "transpose: axes"),
        (lambda x: x.permute(0, 1, 2.0), TypeError, "transpose: axes must be an int or a seq"),
        (lambda x: x.reshape(2.7, 12), TypeError, r"reshape: shape .* got \(2.7, 12\)"),
        (lambda x: x.reshape("24"), TypeError, "reshape: shape"),
        (lambda x: x.pad((1.7, 1)), TypeError, r"pad: pad .* got \(1.7, 1\)"),
        (lambda x: x.pad((1, 1), value=None), TypeError, "pad: value must be a number"),
        (
            lambda x: x.expand(3, 3, 4),
            ValueError,
            r"broadcast_to: cannot broadcast shape \(2, 3, 4\)",
        ),
        (lambda x: x[5], IndexError, r"getitem: .*index 5 is out of bounds.*\(2, 3, 4\)"),
        (lambda x: x[0.5], IndexError, "getitem: unsupported index"),
        (
            lambda x: F.concatenate([x, x[:, :, :2].T]),
            ValueError,
            "concatenate: tensors must match",
        ),
        (lambda x: F.stack([x, x[0]]), ValueError, "stack: tensors must match"),
        (lambda x: x.pad((1,)), ValueError, "pad: expected an even number"),
        (lambda x: x.clip(), ValueError, "clip: at least one of min and max"),
        (lambda x: x.clip(2, 1), ValueError, "clip: min"),
        (lambda x: F.where(x, x, x), TypeError, "where: condition must be boolean"),
        (lambda x: x.max(axis=0)[:0].max(), ValueError, "max: cannot reduce over an empty axis"),
    ],
)
def test_bad_arguments_give_clear_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(Tensor(np.zeros((2, 3, 4))))


def test_integer_array_indexing_accumulates_repeated_indices():
    x = Tensor(np.arange(4.0), requires_grad=True)
    x[[0, 0, 3]].sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, 0.0, 1.0])


def test_boolean_mask_indexing():
    x = Tensor(np.arange(4.0), requires_grad=True)
    x[x.data > 1].sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.0, 1.0, 1.0])


def test_iteration_and_len():
    x = Tensor(np.arange(6.0).reshape(3, 2))
    assert [r.shape for r in x] == [(2,), (2,), (2,)]
    with pytest.raises(TypeError):
        len(Tensor(1.0))


def test_var_defaults_to_the_unbiased_estimate_like_torch():
    a = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(Tensor(a).var().item(), np.var(a, ddof=1))
    np.testing.assert_allclose(Tensor(a).var(correction=0).item(), np.var(a))


def test_var_keeps_dims_over_the_axes_given():
    a = np.arange(12.0).reshape(3, 4) ** 1.5
    y = Tensor(a).var(axis=1, keepdims=True)
    assert y.shape == (3, 1)
    np.testing.assert_allclose(y.numpy(), np.var(a, axis=1, ddof=1, keepdims=True))


def test_var_without_degrees_of_freedom_is_nan_or_inf_silently_like_torch():
    one = Tensor(np.array([3.0]), requires_grad=True)
    y = one.var()  # 0 / 0; the suite turns a RuntimeWarning into an error
    assert np.isnan(y.item())
    y.backward()
    assert np.isnan(one.grad.numpy()).all()
    assert Tensor(np.array([1.0, 2.0])).var(correction=2).item() == np.inf  # 0.5 / 0


def test_logsumexp_is_stable():
    x = Tensor(np.array([1000.0, 1000.0]))
    np.testing.assert_allclose(x.logsumexp().item(), 1000 + np.log(2))
    assert np.isfinite(Tensor(np.array([-1000.0, -2000.0])).logsumexp().item())


def test_logsumexp_shifts_each_row_by_its_own_maximum():
    a = np.array([[1000.0, 1000.0], [0.0, 0.0], [-np.inf, -np.inf], [np.inf, 0.0]])
    y = Tensor(a).logsumexp(axis=1)
    np.testing.assert_allclose(y.numpy(), [1000 + np.log(2), np.log(2), -np.inf, np.inf])


def test_pad_fills_with_the_value_given():
    y = F.pad(Tensor(np.ones((2, 2))), (1, 0), value=-1.5)
    np.testing.assert_array_equal(y.numpy(), [[-1.5, 1.0, 1.0], [-1.5, 1.0, 1.0]])
    np.testing.assert_array_equal(F.pad(Tensor(np.ones(1)), (0, 1)).numpy(), [1.0, 0.0])


def test_stack_and_concatenate_default_to_the_first_axis():
    a, b = np.ones((2, 3)), np.zeros((2, 3))
    assert F.stack([Tensor(a), Tensor(b)]).shape == (2, 2, 3)
    stacked = F.stack([Tensor(a), Tensor(b)], axis=2)
    np.testing.assert_array_equal(stacked.numpy(), np.stack([a, b], 2))


def test_leaky_relu_values_and_its_slope_at_zero():
    x = Tensor(np.array([-2.0, 0.0, 3.0]), requires_grad=True)
    y = F.leaky_relu(x, 0.1)
    np.testing.assert_allclose(y.numpy(), [-0.2, 0.0, 3.0])
    y.backward(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(x.grad.numpy(), [0.1, 0.1, 1.0])  # 0 counts as negative


def test_sigmoid_does_not_overflow():
    y = Tensor(np.array([-1000.0, 0.0, 1000.0])).sigmoid()
    np.testing.assert_allclose(y.data, [0.0, 0.5, 1.0])


def test_pow_with_a_tensor_exponent():
    a = Tensor(np.array([2.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 2.0]), requires_grad=True)
    (a**b).sum().backward()
    np.testing.assert_allclose(a.grad.data, [3 * 4.0, 2 * 3.0])
    np.testing.assert_allclose(b.grad.data, [8 * np.log(2), 9 * np.log(3)])


def test_pow_with_a_constant_exponent_works_for_negative_bases():
    a = Tensor(np.array([-2.0]), requires_grad=True)
    (a**2).sum().backward()
    np.testing.assert_allclose(a.grad.data, [-4.0])


def test_cast_returns_gradients_in_the_input_dtype():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])
    down = Tensor(np.array([1.0, 2.0]), requires_grad=True).astype(np.float32)
    assert down.dtype == np.float32


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
        "lifted scalar": autograd.lift_scalar(2.0, leaf),
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
    assert isinstance(t.data, np.ndarray) and isinstance(t._vc, list) and t._retain is False


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_op_apply_lifts_numbers_by_the_same_rule_as_the_operators(dtype):
    x = Tensor(np.ones(3, dtype))
    mul = get_op("mul")
    for a, b in ((x, 2.0), (2.0, x), (x, 2), (x, np.float64(2.0))):
        expected = F.mul(a, b)
        got = mul.apply(a, b)
        assert got.dtype == expected.dtype == dtype
        np.testing.assert_array_equal(got.data, expected.data)
    where = get_op("where").apply(np.array([True, False, True]), x, 0.5)
    assert where.dtype == dtype  # the first Tensor sets the dtype, wherever it stands


def test_numbers_next_to_integer_tensors_and_without_tensors():
    i = Tensor(np.arange(3))
    assert (i * 2).dtype == get_op("mul").apply(i, 2).dtype == i.dtype
    assert (i * 0.5).dtype == get_op("mul").apply(i, 0.5).dtype
    # no Tensor: the first operand converts (to float32), and the rest follow the same rule
    assert F.add(2.0, np.ones(2)).dtype == get_op("add").apply(2.0, np.ones(2)).dtype
    assert F.add(np.ones(2, np.float16), 2.0).dtype == np.float16
