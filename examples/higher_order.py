"""Differentiate gradients: Newton's method, a Hessian-vector product, a gradient penalty on a
CNN, and the graph of a second derivative.

Run: python examples/higher_order.py [--out DIR]
Writes tanh_second_derivative.svg into DIR (or its .dot source when Graphviz's dot is missing).
"""

import argparse
import os

import numpy as np

import tinygrad_cnn as tg
from tinygrad_cnn import Tensor, nn, optim, tensor
from tinygrad_cnn import functional as F


def newton(x0: float, steps: int = 6) -> float:
    """Minimise f(x) = x^4 - 3x^2 + x with x <- x - f'(x) / f''(x), both by autograd."""
    x = Tensor([x0], requires_grad=True, dtype=np.float64)
    for step in range(steps):
        f = (x**4 - 3 * x**2 + x).sum()
        (d1,) = tg.grad(f, x, create_graph=True)  # f'(x), itself differentiable
        (d2,) = tg.grad(d1.sum(), x)  # f''(x)
        x = tensor(x.data - d1.data / d2.data, requires_grad=True)
        print(f"  newton step {step + 1}: x = {x.item():.12f}, f'(x) was {d1.item():+.3e}")
    return x.item()


def hvp_against_finite_differences() -> float:
    rng = np.random.default_rng(0)
    w0, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))

    def f(w):
        return (w.tanh() @ w.T).logsumexp(axis=1).sum()

    (hv,) = tg.hvp(f, tensor(w0, requires_grad=True), [v])
    eps = 1e-6
    plus, minus = (tensor(w0 + s * eps * v, requires_grad=True) for s in (1, -1))
    numeric = (tg.grad(f(plus), plus)[0].data - tg.grad(f(minus), minus)[0].data) / (2 * eps)
    return float(np.abs(hv.data - numeric).max())


def gradient_penalty_step() -> tuple[float, float]:
    """One SGD step on cross-entropy + 0.1 * |d loss / d input|^2 (input-gradient penalty)."""
    tg.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 10),
    )  # fmt: skip
    opt = optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    x = tensor(rng.random((8, 1, 8, 8), dtype=np.float32), requires_grad=True)
    y = rng.integers(0, 10, 8)
    loss = F.cross_entropy(model(x), y)
    (gx,) = tg.grad(loss, x, create_graph=True)  # a Tensor with a graph through conv and pool
    penalty = (gx * gx).sum()
    opt.zero_grad()
    (loss + 0.1 * penalty).backward()  # second derivatives flow into every parameter
    opt.step()
    return loss.item(), penalty.item()


def draw_second_derivative(out: str) -> str:
    x = Tensor([0.5], requires_grad=True)
    x.name = "x"
    (d1,) = tg.grad(x.tanh().sum(), x, create_graph=True)
    (d2,) = tg.grad(d1.sum(), x, create_graph=True)
    diagram = tg.draw_graph(d2, rankdir="LR")
    diagram.attr(label="d2/dx2 tanh(x): forward op grey, recorded backward ops pink")
    path = os.path.join(out, "tanh_second_derivative")
    return diagram.render(path) if diagram.dot_available() else diagram.save(path + ".dot")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=".")
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)

    print("1. Newton's method on f(x) = x^4 - 3x^2 + x, from x = 2")
    x = newton(2.0)
    slope = 4 * x**3 - 6 * x + 1
    verdict = "(converged)" if abs(slope) < 1e-9 else "FAILED"
    print(f"  minimum at x = {x:.10f}: f'(x) = {slope:.1e}", verdict)

    print("2. Hessian-vector product by double backward, against a difference of gradients")
    err = hvp_against_finite_differences()
    print(f"  largest difference {err:.1e}", "(agrees)" if err < 1e-6 else "FAILED")

    print("3. One CNN training step with an input-gradient penalty")
    loss, penalty = gradient_penalty_step()
    print(f"  cross-entropy {loss:.4f}, penalty |d loss / d x|^2 = {penalty:.3e}")

    print("4. The graph of a second derivative")
    print("  wrote", draw_second_derivative(out))


if __name__ == "__main__":
    main()
