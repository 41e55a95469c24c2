"""The backward engine: accumulation, reuse, freeing, grad mode, in-place safety, op contract."""

import gc
import threading
import weakref

import numpy as np
import pytest

from tinygrad_cnn import (
    Op,
    Tensor,
    enable_grad,
    gradgradcheck,
    is_grad_enabled,
    no_grad,
    register_op,
    tensor,
)
from tinygrad_cnn import functional as F
from tinygrad_cnn.ops.registry import REGISTRY


def leaf(values, dtype=np.float64):
    return tensor(np.array(values, dtype=dtype), requires_grad=True)


def test_gradients_accumulate_across_backward_calls_like_pytorch():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_a_tensor_used_many_times_gets_the_sum_of_its_gradients():
    x = leaf([2.0])
    y = x * x + x * 3 + x  # dy/dx = 2x + 4 = 8
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [8.0])


def test_shared_subexpression_is_differentiated_once_per_use():
    x = leaf([0.5, -1.0])
    h = x.tanh()
    y = (h * h + h).sum()  # d/dx = (2h + 1)(1 - h^2)
    y.backward()
    h0 = np.tanh([0.5, -1.0])
    np.testing.assert_allclose(x.grad.numpy(), (2 * h0 + 1) * (1 - h0**2))


def test_gradients_flow_only_to_tensors_that_require_them():
    x = leaf([1.0, 2.0])
    c = tensor(np.array([5.0, 6.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 6.0])


def test_non_leaf_gradients_only_when_retained():
    x = leaf([1.0, 2.0])
    h = x * 2
    k = (x * 3).retain_grad()
    (h + k).sum().backward()
    assert h.grad is None
    np.testing.assert_allclose(k.grad.numpy(), [1.0, 1.0])


def test_broadcast_gradients_are_summed_back_to_the_input_shape():
    a = leaf(np.ones((3, 1)))
    b = leaf(np.arange(4.0))
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), 6.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 3.0))


def test_a_chain_of_100000_ops_does_not_hit_the_recursion_limit():
    x = leaf([1.0])
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])
    del y  # tearing down a long (already freed) chain must not crash either


def test_a_long_unused_chain_is_freed_when_dropped():
    # an unused graph of 100,000 nodes is released (without a crash from deep recursion in
    # the deallocation), and with it every intermediate value
    x = leaf([1.0])
    y = x
    first = None
    for i in range(100_000):
        y = y + 0.0
        if i == 0:
            first = weakref.ref(y)
    last = weakref.ref(y)
    assert first() is not None
    del y
    gc.collect()
    assert first() is None and last() is None
    assert x.grad is None  # nothing ran backward


def test_non_scalar_output_needs_a_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"one-element output.*\(2,\)"):
        (x * 2).backward()


def test_explicit_gradient_for_non_scalar_output():
    x = leaf([1.0, 2.0])
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])


def test_gradient_of_the_wrong_shape_is_a_clear_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_a_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_second_backward_on_a_freed_graph_is_a_clear_error():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_through_a_freed_intermediate_is_a_clear_error():
    x = leaf([1.0, 2.0])
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="already freed"):
        (h * 2).sum().backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_the_graph_is_freed_after_backward():
    x = leaf(np.random.randn(50, 50))
    h = x.tanh()  # saves its output
    y = (h * h).sum()
    saved = weakref.ref(h._data)
    node = weakref.ref(h._node)
    del h
    gc.collect()
    assert saved() is not None  # the graph holds the intermediate until backward
    y.backward()
    gc.collect()
    assert saved() is None  # the activation is released by backward...
    assert node() is not None and node().freed  # ...the structure stays while the output lives
    del y
    gc.collect()
    assert node() is None


def test_retain_graph_keeps_the_saved_arrays():
    x = leaf(np.random.randn(5))
    h = x.tanh()
    y = (h * h).sum()
    saved = weakref.ref(h._data)
    del h
    y.backward(retain_graph=True)
    gc.collect()
    assert saved() is not None


# -- grad mode --------------------------------------------------------------------------------


def test_no_grad_records_nothing_and_enable_grad_turns_it_back_on():
    x = leaf([1.0])
    with no_grad():
        assert not is_grad_enabled()
        assert not (x * 2).requires_grad
        with enable_grad():
            assert (x * 2).requires_grad
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_grad_mode_decorators():
    x = leaf([1.0])

    @no_grad()
    def f(t):
        return t * 2

    @enable_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad
    with no_grad():
        assert g(x).requires_grad
    assert f.__name__ == "f"


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError
    assert is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = []
    inside = threading.Event()
    release = threading.Event()

    def worker():
        seen.append(is_grad_enabled())
        inside.set()
        release.wait(5)

    with no_grad():
        t = threading.Thread(target=worker)
        t.start()
        inside.wait(5)
        assert not is_grad_enabled()
        release.set()
        t.join()
    assert seen == [True]


# -- in-place safety ---------------------------------------------------------------------------


def test_in_place_on_a_tensor_that_requires_grad_raises():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match=r"\+=: a leaf tensor that requires grad"):
        x += 1


def test_in_place_under_no_grad_is_allowed_and_keeps_the_object():
    x = leaf([1.0])
    ref = x
    with no_grad():
        x -= 0.5
    assert x is ref
    np.testing.assert_allclose(x.numpy(), [0.5])


def test_modifying_a_saved_tensor_in_place_is_caught_at_backward():
    w = leaf([2.0, 3.0])
    x = tensor(np.array([1.0, 1.0]))  # saved by mul for w's gradient
    y = (x * w).sum()
    x *= 10
    with pytest.raises(RuntimeError, match=r"'mul': input 0 .* modified in\s+place"):
        y.backward()


def test_modifying_a_saved_output_in_place_is_caught_at_backward():
    x = leaf([0.0, 1.0])
    h = x.exp()  # exp saves its output
    y = h.sum()
    with no_grad():
        h += 1
    with pytest.raises(
        RuntimeError, match=r"'exp': its output was saved for backward and then modified"
    ):
        y.backward()


def test_modifying_an_input_that_was_not_saved_is_fine():
    x = tensor(np.array([1.0, 2.0]))
    w = leaf([1.0, 1.0])
    y = (x + w).sum()  # add saves nothing
    x += 5
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 1.0])


def test_in_place_with_a_shape_that_does_not_fit_is_a_clear_error():
    x = tensor(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match=r"\+=: .*shape \(4,\).*\(2, 3\)"):
        x += np.ones(4)


# -- the op contract ---------------------------------------------------------------------------


def _op(name, vjp_result, *, forward=lambda ctx, a: a * 2):
    class Custom(Op):
        pass

    Custom.name = name
    Custom.forward = staticmethod(forward)
    Custom.vjp = staticmethod(lambda ctx, g: vjp_result(g))
    return Custom


def test_vjp_returning_the_wrong_shape_names_the_op():
    bad = _op("bad_shape", lambda g: (np.ones(7),))
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"op 'bad_shape'.*shape \(7,\).*shape \(2,\)"):
        bad.apply(x).sum().backward()


def test_vjp_returning_the_wrong_dtype_names_the_op():
    bad = _op("bad_dtype", lambda g: (g.astype(np.float64),))
    x = leaf([1.0, 2.0], dtype=np.float32)
    with pytest.raises(RuntimeError, match=r"op 'bad_dtype'.*dtype float64.*float32"):
        bad.apply(x).sum().backward()


def test_vjp_returning_the_wrong_number_of_gradients_names_the_op():
    bad = _op("bad_count", lambda g: (g, g))
    with pytest.raises(RuntimeError, match=r"op 'bad_count'.*2 gradients for 1 inputs"):
        bad.apply(leaf([1.0])).sum().backward()


def test_mixed_dtypes_give_each_input_a_gradient_of_its_own_dtype():
    a = leaf([1.0, 2.0], dtype=np.float32)
    b = leaf([3.0, 4.0], dtype=np.float64)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_register_op_requires_a_name_and_both_methods_and_refuses_duplicates():
    with pytest.raises(ValueError, match="name"):
        register_op(_op("", lambda g: (g,)))
    with pytest.raises(ValueError, match="already registered"):
        register_op(_op("add", lambda g: (g,)))

    class NoVjp(Op):
        name = "no_vjp"

        @staticmethod
        def forward(ctx, a):
            return a

    with pytest.raises(TypeError, match="forward and vjp"):
        register_op(NoVjp)


def test_a_user_op_registers_and_runs_through_the_engine():
    @register_op(strategy=lambda: None, higher_order=True, replace=True)
    class Cube(Op):
        name = "test_cube"

        @staticmethod
        def forward(ctx, a):
            ctx.a = a
            return a**3

        @staticmethod
        def vjp(ctx, g):
            return (3 * ctx.a**2 * g,)  # operators only: recordable, as declared

    try:
        x = leaf([1.0, 2.0])
        Cube.apply(x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
        assert gradgradcheck(Cube.apply, [leaf([0.5, -1.2])])
    finally:
        del REGISTRY["test_cube"]


def test_numpy_errors_inside_an_op_name_the_op_and_the_shapes():
    with pytest.raises(ValueError, match=r"add: .*input shapes: \(2, 3\), \(4,\)"):
        F.add(tensor(np.zeros((2, 3))), tensor(np.zeros(4)))


def test_the_module_scope_stack_is_per_thread():
    from tinygrad_cnn import engine, nn

    seen = {}
    inside = threading.Event()
    release = threading.Event()

    class Blocking(nn.Module):
        def forward(self, x):
            inside.set()  # this thread is inside the module's forward now
            release.wait(5)
            return x * 2

    def worker():
        seen["worker"] = Blocking()(leaf([1.0]))._node.scope

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main, meanwhile"] = (leaf([1.0]) * 2)._node.scope
    assert engine.scope_stack() == []
    release.set()
    t.join()
    assert seen == {"worker": (("Blocking", "Blocking"),), "main, meanwhile": None}
