"""Per-op overhead of the engine on tiny tensors, where Python cost dominates.

Run: python benchmarks/bench_engine.py
Reports microseconds per op (forward alone, and forward plus its share of backward) next to the
raw NumPy call, so the framework's own cost per op is the difference.
"""

from __future__ import annotations

import timeit

import numpy as np

from tinygrad_cnn import Tensor, no_grad


def per_call(fn, number: int) -> float:
    """Best of 5 repeats, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    a_np = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    b_np = np.random.default_rng(1).standard_normal((4, 4)).astype(np.float32)
    a = Tensor(a_np, requires_grad=True)
    b = Tensor(b_np, requires_grad=True)
    n = 20_000
    rows = []
    for name, raw, op in [
        ("add", lambda: a_np + b_np, lambda: a + b),
        ("mul", lambda: a_np * b_np, lambda: a * b),
        ("matmul", lambda: a_np @ b_np, lambda: a @ b),
        ("tanh", lambda: np.tanh(a_np), lambda: a.tanh()),
        ("sum", lambda: a_np.sum(), lambda: a.sum()),
        ("mul scalar", lambda: a_np * 2.0, lambda: a * 2.0),
    ]:
        t_np = per_call(raw, n)
        t_fwd = per_call(op, n)
        with no_grad():
            t_nog = per_call(op, n)
        rows.append((name, t_np, t_nog, t_fwd))

    def chain():  # 50 recorded muls, then backward: the cost per op of forward + backward
        y = a
        for _ in range(50):
            y = y * b
        y.sum().backward()
        a.grad = b.grad = None

    t_chain = per_call(chain, 200) / 51
    print(f"{'op':<12}{'numpy us':>10}{'no_grad us':>12}{'recorded us':>13}{'overhead us':>13}")
    for name, t_np, t_nog, t_fwd in rows:
        print(f"{name:<12}{t_np:>10.2f}{t_nog:>12.2f}{t_fwd:>13.2f}{t_fwd - t_np:>13.2f}")
    print(f"chain of 50 muls, forward + backward: {t_chain:.2f} us per op")


if __name__ == "__main__":
    main()
