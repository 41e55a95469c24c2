"""gradcheck: passes on right gradients, reports where it disagrees on wrong ones."""

import numpy as np
import pytest

from tinygrad_cnn import GradcheckError, Op, Tensor, gradcheck, tensor


class WrongAtOne(Op):  # not registered: a deliberately broken VJP
    name = "wrong_at_one"

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return a * a

    @staticmethod
    def vjp(ctx, g):
        grad = 2 * ctx.a * g
        grad.reshape(-1)[1] += 0.5  # wrong at flat index 1
        return (grad,)


def test_gradcheck_passes_on_a_correct_function():
    x = tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda x: (x.exp() * x).sum(axis=0), [x])


def test_gradcheck_reports_the_input_the_index_and_both_values():
    x = tensor(np.arange(4.0).reshape(2, 2), requires_grad=True)
    with pytest.raises(
        GradcheckError,
        match=r"input 0 \(shape \(2, 2\)\) disagrees at index \(0, 1\): analytic .* numeric",
    ):
        gradcheck(WrongAtOne.apply, [x])
    assert gradcheck(WrongAtOne.apply, [x], raise_exception=False) is False


def test_fast_mode_catches_a_wrong_gradient_too():
    x = tensor(np.arange(4.0).reshape(2, 2), requires_grad=True)
    with pytest.raises(GradcheckError, match="directional derivative"):
        gradcheck(WrongAtOne.apply, [x], fast_mode=True)


def test_gradcheck_checks_only_inputs_that_require_grad_and_works_in_float64():
    a = tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = tensor(np.full(3, 2.0, dtype=np.float32))
    seen = []

    def f(a, b):
        seen.append((a.dtype, b.requires_grad))
        return a * b

    assert gradcheck(f, [a, b])
    assert seen[0] == (np.float64, False)
    assert a.grad is None  # the caller's tensors are left alone


def test_gradcheck_needs_a_tensor_output():
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda x: 1.0, [Tensor([1.0])])


def test_gradcheck_fails_on_non_finite_values_instead_of_passing_them():
    # NaN compares False with any tolerance: a check written as `error > tol` would pass it
    x = tensor(np.array([-1.0, 4.0]), requires_grad=True)
    with np.errstate(invalid="ignore"), pytest.raises(GradcheckError, match="NaN or Inf"):
        gradcheck(lambda x: x.log(), [x])
    y = tensor(np.array([0.0, 4.0]), requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        with pytest.raises(GradcheckError, match="index"):
            gradcheck(lambda t: t.abs().sqrt(), [y])
