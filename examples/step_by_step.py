"""The classic "Convolutional Neural Networks: Step by Step" walk-through, next to the fast ops.

Run: python examples/step_by_step.py
Each step uses tinygrad_cnn.reference (loops, NHWC, the assignment's conventions) and then checks
the same numbers with the vectorized framework (NCHW, autograd).
"""

import numpy as np

from tinygrad_cnn import functional as F
from tinygrad_cnn import reference, tensor


def nchw(a):
    return tensor(a.transpose(0, 3, 1, 2), requires_grad=True)


def check(name, ours, theirs):
    ok = np.allclose(ours, theirs, atol=1e-10)
    print(f"  {name:<38} {'matches' if ok else 'DIFFERS'}")
    return ok


def main() -> bool:
    np.random.seed(1)
    ok = True

    print("1. zero_pad")
    x = np.random.randn(4, 3, 3, 2)
    x_pad = reference.zero_pad(x, 3)
    print("  x.shape =", x.shape, " x_pad.shape =", x_pad.shape)
    ok &= check("zero_pad == F.pad", x_pad, F.pad(tensor(x), (0, 0, 3, 3, 3, 3)).numpy())

    print("2. conv_single_step")
    a_slice_prev = np.random.randn(4, 4, 3)
    W = np.random.randn(4, 4, 3)
    b = np.random.randn(1, 1, 1)
    Z = reference.conv_single_step(a_slice_prev, W, b)
    print(f"  Z = {Z:.10f}")

    print("3. conv_forward")
    A_prev = np.random.randn(2, 5, 7, 4)
    W = np.random.randn(3, 3, 4, 8)
    b = np.random.randn(1, 1, 1, 8)
    hparameters = {"pad": 1, "stride": 2}
    Z, cache_conv = reference.conv_forward(A_prev, W, b, hparameters)
    print(f"  Z.shape = {Z.shape}, Z's mean = {np.mean(Z):.10f}")
    print("  Z[0, 2, 1] =", np.round(Z[0, 2, 1], 6))
    x_t, w_t = nchw(A_prev), tensor(W.transpose(3, 2, 0, 1), requires_grad=True)
    b_t = tensor(b.ravel(), requires_grad=True)
    y = F.conv2d(x_t, w_t, b_t, stride=2, padding=1)
    ok &= check("conv_forward == F.conv2d", Z, y.numpy().transpose(0, 2, 3, 1))

    print("4. pool_forward")
    A_prev = np.random.randn(2, 5, 5, 3)
    hparameters = {"stride": 1, "f": 3}
    for mode in ("max", "average"):
        A, _ = reference.pool_forward(A_prev, hparameters, mode=mode)
        print(f"  mode = {mode}: A.shape = {A.shape}, A[1, 1] =", np.round(A[1, 1], 6))
        fast = F.pool2d(tensor(A_prev.transpose(0, 3, 1, 2)), 3, 1, mode=mode)
        ok &= check(f"pool_forward({mode}) == F.pool2d", A, fast.numpy().transpose(0, 2, 3, 1))

    print("5. conv_backward")
    dZ = np.random.default_rng(0).standard_normal(Z.shape)
    dA, dW, db = reference.conv_backward(dZ, cache_conv)
    means = f"dA_mean = {np.mean(dA):.10f}, dW_mean = {np.mean(dW):.10f}"
    print(f"  {means}, db_mean = {np.mean(db):.10f}")
    y.backward(dZ.transpose(0, 3, 1, 2))
    ok &= check("dA_prev == x.grad", dA, x_t.grad.numpy().transpose(0, 2, 3, 1))
    ok &= check("dW == w.grad", dW, w_t.grad.numpy().transpose(2, 3, 1, 0))
    ok &= check("db == b.grad", db.ravel(), b_t.grad.numpy())

    print("6. create_mask_from_window and distribute_value")
    x = np.random.randn(2, 3)
    print("  x =", np.round(x, 4).tolist())
    print("  mask =", reference.create_mask_from_window(x).tolist())
    print("  distribute_value(2, (2, 2)) =", reference.distribute_value(2, (2, 2)).tolist())

    print("7. pool_backward")
    A_prev = np.random.randn(5, 5, 3, 2)
    hparameters = {"stride": 1, "f": 2}
    dA = np.random.randn(5, 4, 2, 2)
    for mode in ("max", "average"):
        A, cache = reference.pool_forward(A_prev, hparameters, mode=mode)
        dA_prev = reference.pool_backward(dA, cache, mode=mode)
        print(
            f"  mode = {mode}: mean of dA = {np.mean(dA):.10f}, dA_prev[1, 1] =",
            np.round(dA_prev[1, 1], 6).tolist(),
        )
        xt = nchw(A_prev)
        F.pool2d(xt, 2, 1, mode=mode).backward(dA.transpose(0, 3, 1, 2))
        ok &= check(
            f"pool_backward({mode}) == x.grad", dA_prev, xt.grad.numpy().transpose(0, 2, 3, 1)
        )

    print("all steps match the fast ops" if ok else "SOME STEPS DIFFER")
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
