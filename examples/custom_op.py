"""Write your own op: a forward on NumPy arrays, its VJP beside it, registered and gradchecked.

Run: python examples/custom_op.py
"""

import numpy as np

from tinygrad_cnn import Op, Tensor, gradcheck, register_op, tensor


def softplus_inputs():
    """A hypothesis strategy of valid inputs, so the property tests can check this op too."""
    from tinygrad_cnn import testing

    return testing.unary_inputs()


@register_op(strategy=softplus_inputs, replace=True)
class Softplus(Op):
    """softplus(x) = log(1 + exp(x)); its derivative is sigmoid(x)."""

    name = "softplus"

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return np.logaddexp(0, x)  # log(exp(0) + exp(x)), without overflow

    @staticmethod
    def vjp(ctx, g):
        return (g * 0.5 * (1 + np.tanh(0.5 * ctx.x)),)  # g * sigmoid(x)


def softplus(x: Tensor) -> Tensor:
    return Softplus.apply(x)


def main() -> None:
    x = tensor(np.linspace(-3, 3, 7), requires_grad=True)
    y = softplus(x).sum()
    y.backward()
    print("x            ", np.round(x.data, 2))
    print("softplus(x)  ", np.round(softplus(x).data, 4))
    print("d/dx (VJP)   ", np.round(x.grad.data, 4))
    ok = gradcheck(
        lambda t: softplus(t * t), [tensor(np.random.default_rng(0).standard_normal((3, 4)))]
    )
    print("gradcheck against finite differences:", "passed" if ok else "FAILED")


if __name__ == "__main__":
    main()
