"""The generic property tests: every registered op, drawn from its own strategy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_cnn import REGISTRY, Op, gradcheck, tensor, testing
from tinygrad_cnn.testing.builtin import STRATEGIES

OPS = sorted(REGISTRY)


def op_cases(name):
    return testing.strategy_for(REGISTRY[name])


def test_every_registered_op_has_a_strategy():
    missing = [n for n, op in REGISTRY.items() if op.strategy is None and n not in STRATEGIES]
    assert not missing, f"ops registered without a strategy: {missing}"


def test_every_built_in_strategy_names_a_registered_op():
    unknown = sorted(set(STRATEGIES) - set(REGISTRY))
    assert not unknown, f"strategies for ops that are not registered: {unknown}"


def test_ops_name_no_strategy_and_a_missing_one_is_a_clear_error():
    assert all(REGISTRY[n].strategy is None for n in STRATEGIES)  # the ops know nothing of tests

    class Orphan(Op):
        name = "orphan"

    with pytest.raises(LookupError, match="op 'orphan' has no hypothesis strategy"):
        testing.strategy_for(Orphan)


def test_registry_holds_the_core_ops():
    core = {
        "add",
        "sub",
        "mul",
        "div",
        "neg",
        "pow",
        "matmul",
        "exp",
        "log",
        "sqrt",
        "abs",
        "relu",
        "sigmoid",
        "tanh",
        "maximum",
        "minimum",
        "clip",
        "where",
        "sum",
        "mean",
        "max",
        "min",
        "logsumexp",
        "var",
        "reshape",
        "transpose",
        "broadcast_to",
        "getitem",
        "concatenate",
        "stack",
        "pad",
    }
    assert core <= set(REGISTRY)


@pytest.mark.parametrize("name", OPS)
@given(data=st.data())
def test_vjp_matches_finite_differences(name, data):
    op = REGISTRY[name]
    testing.check_vjp(op, data.draw(op_cases(name), label="case"))


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].linear_in])
@given(data=st.data())
def test_linear_ops_pass_the_adjoint_test(name, data):
    op = REGISTRY[name]
    testing.check_adjoint(op, data.draw(op_cases(name), label="case"))


@pytest.mark.parametrize("name", OPS)
@given(data=st.data())
def test_op_invariants(name, data):
    op = REGISTRY[name]
    testing.check_invariants(op, data.draw(op_cases(name), label="case"))


# Structural properties (what is computed or recorded, not how accurately): a third of the
# profile's examples (10 under ci) find what they can find.
STRUCTURAL = settings(max_examples=max(10, settings.default.max_examples // 3))


@pytest.mark.parametrize("name", OPS)
@STRUCTURAL
@given(data=st.data())
def test_vjp_skips_the_gradients_nobody_needs(name, data):
    op = REGISTRY[name]
    testing.check_skips_unneeded(op, data.draw(op_cases(name), label="case"))


def test_the_skip_check_catches_a_vjp_that_computes_everything():
    class Eager(Op):  # not registered: a correct product whose vjp ignores needs_input_grad
        name = "eager_mul"

        @staticmethod
        def forward(ctx, a, b):
            ctx.a, ctx.b = a, b
            return a * b

        @staticmethod
        def vjp(ctx, g):
            return g * ctx.b, g * ctx.a

    case = testing.OpCase((np.arange(1.0, 4.0), np.arange(2.0, 5.0)))
    testing.check_vjp(Eager, case)
    with pytest.raises(AssertionError, match="also computed gradients for inputs \\[1\\]"):
        testing.check_skips_unneeded(Eager, case)


# -- second order: every op either records its VJP correctly or refuses create_graph clearly ---


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].higher_order])
@given(data=st.data())
def test_second_order_matches_finite_differences(name, data):
    op = REGISTRY[name]
    testing.check_double_vjp(op, data.draw(op_cases(name), label="case"))


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].higher_order])
@given(data=st.data())
def test_the_recorded_vjp_is_linear_in_the_upstream_gradient(name, data):
    op = REGISTRY[name]
    testing.check_vjp_adjoint(op, data.draw(op_cases(name), label="case"))


def test_every_built_in_op_has_second_order():
    # an op without it must refuse create_graph naming itself (tests/test_backward.py checks
    # that refusal on a user's op); none of the built-ins needs to
    assert [n for n in STRATEGIES if not REGISTRY[n].higher_order] == []


@pytest.mark.parametrize("name", OPS)
@STRUCTURAL
@given(data=st.data())
def test_forward_records_nothing_under_no_grad(name, data):
    from tinygrad_cnn import no_grad

    op = REGISTRY[name]
    case = data.draw(op_cases(name), label="case")
    xs = [tensor(a, requires_grad=a.dtype.kind == "f") for a in case.args]
    with no_grad():
        out = op.apply(*xs, **case.attrs)
    assert not out.requires_grad and out.is_leaf


def test_the_adjoint_check_catches_a_wrong_vjp():
    class Wrong(Op):  # not registered: a scaled forward with an unscaled vjp
        name = "wrong_scale"
        linear_in = (0,)

        @staticmethod
        def forward(ctx, a):
            return 2 * a

        @staticmethod
        def vjp(ctx, g):
            return (g,)

    case = testing.OpCase((np.arange(1.0, 4.0),))
    with pytest.raises(AssertionError, match="adjoint"):
        testing.check_adjoint(Wrong, case)
    with pytest.raises(AssertionError, match="input 0"):
        testing.check_vjp(Wrong, case)


# -- the random-direction check <v, J u> on inputs too big for elementwise differences ----------


@given(seed=st.integers(0, 2**32 - 1))
def test_directional_check_on_big_inputs(seed):
    rng = np.random.default_rng(seed)
    a = tensor(rng.standard_normal((40, 60)), requires_grad=True)
    b = tensor(rng.standard_normal((60, 30)), requires_grad=True)
    c = tensor(rng.standard_normal((30,)), requires_grad=True)

    def f(a, b, c):
        h = (a @ b + c).tanh()
        return (h * h).logsumexp(axis=1) + h.mean(axis=1) + h.var(axis=1)

    assert gradcheck(f, [a, b, c], fast_mode=True, seed=seed, eps=1e-5)


# -- random compositions: these test the engine, not just the ops -------------------------------

UNARY = [
    lambda x: x.tanh(),
    lambda x: x.sigmoid(),
    lambda x: -x,
    lambda x: x * x,
    lambda x: (x * 0.5).exp(),
    lambda x: (x * x + 1.0).sqrt(),
    lambda x: (x * x + 1.0).log(),
    lambda x: x.sum(axis=0, keepdims=True),
    lambda x: x.mean(axis=1, keepdims=True),
    lambda x: x.logsumexp(axis=-1, keepdims=True),
    lambda x: x.T.T,
    lambda x: x.reshape(-1).reshape(x.shape),
    lambda x: x[::-1],
    lambda x: x.pad((1, 1))[..., 1:-1],
    lambda x: x.expand(3, 4) * 0.5,
]
BINARY = [
    lambda x, y: x + y,
    lambda x, y: x - y,
    lambda x, y: x * y,
    lambda x, y: x / (y * y + 1.0),
    lambda x, y: (x.expand(3, 4) @ y.expand(3, 4).T) @ x.expand(3, 4) * 0.1,  # (3, 4)
]
SHAPES = [(3, 4), (1, 4), (3, 1), (1, 1)]


@st.composite
def programs(draw):
    n_leaves = draw(st.integers(1, 3))
    leaf_shapes = [draw(st.sampled_from(SHAPES)) for _ in range(n_leaves)]
    steps = draw(
        st.lists(
            st.tuples(st.booleans(), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)),
            min_size=1,
            max_size=8,
        )
    )
    leaves = [draw(testing.floats(s, -1.0, 1.0)) for s in leaf_shapes]
    return leaves, steps


def run_program(steps, *leaves):
    values = list(leaves)
    for binary, k, i, j in steps:
        x = values[i % len(values)]  # earlier values are reused: shared subexpressions
        if binary:
            y = values[j % len(values)]
            v = BINARY[k % len(BINARY)](x, y)
        else:
            v = UNARY[k % len(UNARY)](x)
        values.append(v)
    return sum(v.sum() for v in values[len(leaves) - 1 :])  # the last leaf and every step


@given(program=programs())
def test_random_compositions_match_finite_differences(program):
    leaves, steps = program
    inputs = [tensor(x, requires_grad=True) for x in leaves]
    assert gradcheck(lambda *xs: run_program(steps, *xs), inputs)
