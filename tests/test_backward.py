"""The reverse pass: grad(), create_graph and higher derivatives, hvp, hooks, the graph kept
after backward."""

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given

import tinygrad_cnn as tg
from tests.ops.test_properties import programs, run_program
from tinygrad_cnn import Op, Tensor, grad, gradgradcheck, hvp, nn, tensor, testing
from tinygrad_cnn.graph import FreedTensor


def leaf(values):
    return tensor(np.array(values, dtype=np.float64), requires_grad=True)


# -- grad() -------------------------------------------------------------------------------------


def test_grad_returns_gradients_and_touches_no_grad_attribute():
    x, w = leaf([1.0, 2.0]), leaf([3.0, -1.0])
    h = (x * w).retain_grad()
    gx, gw = grad((h * h).sum(), [x, w])
    np.testing.assert_allclose(gx.numpy(), 2 * x.numpy() * w.numpy() ** 2)
    np.testing.assert_allclose(gw.numpy(), 2 * w.numpy() * x.numpy() ** 2)
    assert x.grad is None and w.grad is None and h.grad is None
    assert not gx.requires_grad  # no create_graph: plain values


def test_grad_with_respect_to_an_intermediate_and_several_outputs():
    x = leaf([1.0, 2.0])
    h = x * 3
    (gh,) = grad([(h * h).sum(), h.sum()], h)
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy() + 1)


def test_grad_outputs_weight_each_output():
    x = leaf([1.0, 2.0])
    (gx,) = grad(x * x, x, grad_outputs=np.array([1.0, 10.0]))
    np.testing.assert_allclose(gx.numpy(), [2.0, 40.0])


def test_unused_inputs_are_an_error_unless_allowed():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match=r"inputs\[1\] \(shape \(1,\)\) was not used"):
        grad((x * 2).sum(), [x, unused])
    gx, gu = grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.numpy().tolist() == [2.0]


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda x: grad(x * 2, x), RuntimeError, r"one-element output.*outputs\[0\] has shape"),
        (lambda x: grad(x.sum(), Tensor([1.0])), RuntimeError, r"inputs\[0\].*not require"),
        (lambda x: grad(x.sum(), [x, 3.0]), TypeError, r"grad: inputs\[1\] must be a Tensor"),
        (lambda x: grad(x.sum(), x, [None, None]), ValueError, "2 grad_outputs for 1 outputs"),
        (lambda x: grad(x.sum(), x, np.ones(3)), RuntimeError, r"gradient has shape \(3,\)"),
    ],
)
def test_grad_argument_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(leaf([1.0, 2.0]))


# -- create_graph -------------------------------------------------------------------------------


def test_third_derivative_of_tanh_matches_its_formula():
    x = leaf(np.linspace(-2, 2, 9))
    (d1,) = grad(x.tanh().sum(), x, create_graph=True)
    (d2,) = grad(d1.sum(), x, create_graph=True)
    (d3,) = grad(d2.sum(), x)
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(d1.numpy(), 1 - t**2, atol=1e-12)
    np.testing.assert_allclose(d2.numpy(), -2 * t * (1 - t**2), atol=1e-12)
    np.testing.assert_allclose(d3.numpy(), (1 - t**2) * (6 * t**2 - 2), atol=1e-12)


def test_backward_with_create_graph_leaves_differentiable_grads_and_keeps_the_graph():
    x = leaf([2.0])
    y = (x**3).sum()
    y.backward(create_graph=True)  # x.grad = 3x^2, with a graph
    assert x.grad.requires_grad and x.grad.numpy().tolist() == [12.0]
    g = x.grad
    x.grad = None
    g.sum().backward()  # d(3x^2)/dx = 6x
    assert x.grad.numpy().tolist() == [12.0]
    y.backward()  # retain_graph defaulted to create_graph: the first graph is still there
    assert x.grad.numpy().tolist() == [24.0]


def test_the_backward_nodes_are_marked():
    x = leaf([0.5])
    (g,) = grad(x.tanh().sum(), x, create_graph=True)
    assert g._node.backward and not x.tanh()._node.backward


def test_hvp_matches_a_finite_difference_of_the_gradient():
    rng = np.random.default_rng(0)
    a, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))

    def f(t):
        return (t.tanh() @ t.T).logsumexp(axis=1).sum() + (t * t * t).mean()

    (h,) = hvp(f, tensor(a, requires_grad=True), [v])
    eps = 1e-6
    gp = grad(f(x := tensor(a + eps * v, requires_grad=True)), x)[0].numpy()
    gm = grad(f(y := tensor(a - eps * v, requires_grad=True)), y)[0].numpy()
    np.testing.assert_allclose(h.numpy(), (gp - gm) / (2 * eps), atol=1e-6)


@given(program=programs())
def test_random_programs_pass_gradgradcheck(program):
    leaves, steps = program
    inputs = [tensor(x, requires_grad=True) for x in leaves]
    assert gradgradcheck(lambda *xs: run_program(steps, *xs), inputs, fast_mode=True)


def test_an_op_without_second_order_refuses_and_gradgradcheck_catches_a_wrong_one():
    class Square(Op):  # a correct first derivative, written with NumPy on the saved array
        name = "square_np"

        @staticmethod
        def forward(ctx, a):
            ctx.a = a
            return a * a

        @staticmethod
        def vjp(ctx, g):
            return (g * 2 * np.asarray(ctx.a),)  # np.asarray: a constant under create_graph

    x = leaf([1.5, -0.5])
    with pytest.raises(RuntimeError, match="op 'square_np' does not support create_graph"):
        gradgradcheck(Square.apply, [x])
    testing.check_refuses_create_graph(Square, testing.OpCase((np.array([1.5, -0.5]),)))
    Square.higher_order = True  # declared, but its VJP is not recordable: caught
    with pytest.raises(tg.GradcheckError):
        gradgradcheck(Square.apply, [x])


# -- hooks --------------------------------------------------------------------------------------


def test_tensor_hooks_see_the_full_gradient_in_order_and_may_replace_it():
    x = leaf([1.0, 2.0])
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(("first", g.numpy().tolist())))
    handle = h.register_hook(lambda g: g * 10)
    h.register_hook(lambda g: seen.append(("third", g.numpy().tolist())))
    (h * h + h).sum().backward(retain_graph=True)  # h used three times: the hook sees the sum
    assert seen == [("first", [7.0, 13.0]), ("third", [70.0, 130.0])]
    np.testing.assert_allclose(x.grad.numpy(), [210.0, 390.0])
    handle.remove()
    handle.remove()  # twice is harmless
    x.grad = None
    (h * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_a_leaf_hook_runs_before_accumulation_and_needs_requires_grad():
    x = leaf([1.0])
    x.register_hook(lambda g: g * 0)
    (x * 5).sum().backward()
    assert x.grad.numpy().tolist() == [0.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).register_hook(print)
    with pytest.raises(RuntimeError, match=r"returned a gradient of shape \(3,\)"):
        y = leaf([1.0])
        y.register_hook(lambda g: np.ones(3))
        (y * 2).sum().backward()


def test_module_forward_hooks_and_pre_hooks():
    tg.manual_seed(0)
    layer = nn.Linear(2, 2)
    calls = []
    pre = layer.register_forward_pre_hook(lambda m, args: calls.append("pre") or (args[0] * 0,))
    post = layer.register_forward_hook(lambda m, args, out: calls.append("post") or out + 1)
    out = layer(tensor(np.ones((1, 2), np.float32)))
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(out.numpy(), layer.bias.numpy()[None] + 1, rtol=1e-6)
    pre.remove()
    post.remove()
    out = layer(tensor(np.ones((1, 2), np.float32)))
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(
        out.numpy(), layer.weight.numpy().sum(1)[None] + layer.bias.numpy(), 1e-6
    )
    with pytest.raises(TypeError, match="hook must be callable"):
        layer.register_forward_hook(3)


# -- the graph after backward --------------------------------------------------------------------


def test_backward_keeps_the_structure_and_releases_the_activations():
    x = leaf(np.random.default_rng(0).standard_normal((20, 20)))
    h = x.exp()
    y = (h * h).sum()
    values = weakref.ref(h.numpy())
    del h
    y.backward()
    gc.collect()
    assert values() is None
    mul = y._node.inputs[0]._node
    ghost = mul.inputs[0]
    assert isinstance(ghost, FreedTensor) and mul.inputs[1] is ghost
    assert ghost.shape == (20, 20) and ghost.op == "exp" and ghost._node.freed
    assert ghost._node.inputs[0] is x  # leaves stay as they are
    with pytest.raises(RuntimeError, match="already freed, at op 'sum'"):
        y.backward()


@pytest.mark.parametrize("gradient", ["x", None, [None, 1.0], {"a": 1}])
def test_a_gradient_that_is_not_numbers_is_refused_naming_the_shape(gradient):
    x = tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    if gradient is None:  # no gradient for a 2-element output: the message says to pass one
        with pytest.raises(RuntimeError, match=r"pass gradient= of that shape"):
            y.backward(gradient)
        return
    with pytest.raises(
        TypeError, match=r"backward: gradient must be a Tensor or array of .*\(2,\)"
    ):
        y.backward(gradient)
    assert x.grad is None
