"""Speed of conv2d, pooling and a LeNet-style training step, against this machine's own roof.

``python benchmarks/bench_conv.py [--repeat N] [--quick]`` (or ``python -m tinygrad_cnn bench``,
which runs this file from the source checkout) prints one table.
Everything is float32 and measured in one run, side by side:

- the roof: NumPy's float32 matmul GFLOP/s on large square matrices;
- each workload's median and min time (forward + backward), GFLOP/s and fraction of the roof;
- for each conv, its three matrix products alone (forward, weight gradient, input gradient) on
  the im2col operands: the part of the time that is BLAS, and the best any im2col
  implementation could do here;
- PyTorch's time on the same shapes when it happens to be installed (it is never a dependency),
  with ``torch.set_num_threads`` matching NumPy's threads; our runs and its alternate, so machine
  noise hits both alike;
- the training step against the :mod:`tinygrad_cnn.reference` loops, timed on a reduced batch
  and scaled per sample;
- a training step of the small ResNet (batch 64, 3x32x32, Adam), a LeNet step with an
  input-gradient penalty (a ``create_graph`` backward), and the peak memory of the ResNet step:
  how much the resident set grows over a few steps, each framework in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import tinygrad_cnn as tg
from tinygrad_cnn import Tensor, models, optim, reference
from tinygrad_cnn import functional as F
from tinygrad_cnn.ops import conv
from tinygrad_cnn.ops.affinity import cpus_allowed
from tinygrad_cnn.ops.geometry import Geometry

CONV_WORKLOADS = [  # (x shape, weight shape, stride, padding)
    ((64, 1, 28, 28), (8, 1, 5, 5), 1, 2),
    ((64, 8, 14, 14), (16, 8, 5, 5), 1, 2),
    ((32, 64, 32, 32), (64, 64, 3, 3), 1, 1),
    ((8, 3, 64, 64), (8, 3, 4, 4), 2, 1),
    ((128, 16, 8, 8), (32, 16, 3, 3), 1, 1),
]
POOL_WORKLOADS = [  # (x shape, mode, kernel, stride)
    ((64, 8, 28, 28), "max", 2, 2),
    ((32, 64, 32, 32), "max", 2, 2),
    ((32, 64, 32, 32), "average", 3, 1),
]


def numpy_threads() -> int:
    for var in ("TINYGRAD_CNN_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var):
            return int(os.environ[var])
    return cpus_allowed()  # what the library's copy threads use


def measure(
    fns: dict[str, Callable[[], object]], repeat: int, block: int = 5, pause: float = 0.2
) -> dict[str, list[float]]:
    """Time each function ``repeat`` times, in alternating blocks of ``block`` calls.

    Blocks, not single calls, with a ``pause`` before each: BLAS and OpenMP worker threads spin
    for a while after a call, and would steal cores from the other library if calls alternated
    one by one. The first call of each block only warms up and is not timed.
    """
    times: dict[str, list[float]] = {k: [] for k in fns}
    while min(len(t) for t in times.values()) < repeat:
        for k, f in fns.items():
            time.sleep(pause)  # let the other library's spinning worker threads go to sleep
            f()
            for _ in range(block):
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
    return times


def matmul_roof(n: int = 2048, repeat: int = 5) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    t = measure({"mm": lambda: a @ b}, repeat)["mm"]
    return 2 * n**3 / min(t) / 1e9


def blas_kernel() -> str:
    """NumPy's BLAS and the kernel it picked for this CPU, as threadpoolctl reports them."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS: unknown (no threadpoolctl)"
    libs = [i for i in threadpool_info() if i["user_api"] == "blas"]
    return ", ".join(
        f"{i['internal_api']} {i.get('version')} ({i.get('architecture')} kernels)" for i in libs
    )


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(numpy_threads())
    return torch


# -- workloads --------------------------------------------------------------------------------


def conv_case(xs, ws, stride, padding, torch=None):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32) * 0.1
    b = np.zeros(ws[0], np.float32)
    X, W, B = (Tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(X, W, B, stride, padding)
    g = rng.standard_normal(y.shape, dtype=np.float32)

    def ours():
        X.grad = W.grad = B.grad = None
        F.conv2d(X, W, B, stride, padding).backward(g)

    geo = Geometry.from_args(ws[2:], stride, padding)
    cols, _, _, _ = conv.im2col(x, geo)  # (N, K, Ho*width), its own memory
    k = cols.shape[1]
    cols = np.ascontiguousarray(cols.transpose(1, 0, 2)).reshape(k, -1)  # (K, N*Ho*width)
    w2 = w.reshape(ws[0], k)
    g2 = rng.standard_normal((ws[0], cols.shape[1]), dtype=np.float32)

    def gemms():  # the three products of the im2col formulation on the whole batch, nothing else
        w2 @ cols
        g2 @ cols.T
        w2.T @ g2

    fns = {"ours": ours, "gemms": gemms}
    if torch is not None:
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        tg = torch.tensor(g)

        def theirs():
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.conv2d(tx, tw, tb, stride, padding).backward(tg)

        fns["torch"] = theirs
    flops = 3 * 2 * y.numel() * int(np.prod(ws[1:]))  # forward, input grad, weight grad
    return fns, flops


def pool_case(xs, mode, k, s, torch=None):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=np.float32)
    X = Tensor(x, requires_grad=True)
    y = F.pool2d(X, k, s, mode=mode)
    g = rng.standard_normal(y.shape, dtype=np.float32)

    def ours():
        X.grad = None
        F.pool2d(X, k, s, mode=mode).backward(g)

    fns = {"ours": ours}
    if torch is not None:
        tx, tg = torch.tensor(x, requires_grad=True), torch.tensor(g)
        tf = torch.nn.functional.max_pool2d if mode == "max" else torch.nn.functional.avg_pool2d

        def theirs():
            tx.grad = None
            tf(tx, k, s).backward(tg)

        fns["torch"] = theirs
    return fns, 0


def lenet_params(rng):
    def uniform(shape, fan_in):
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    return {
        "w1": uniform((8, 1, 5, 5), 25),
        "b1": uniform((8,), 25),
        "w2": uniform((16, 8, 5, 5), 200),
        "b2": uniform((16,), 200),
        "w3": uniform((784, 10), 784),
        "b3": uniform((10,), 784),
    }


def lenet_step(
    params: dict[str, Tensor], x: Tensor, y: np.ndarray, lr: float = 0.05, functional=F
) -> float:
    """conv 1->8 k5 p2, relu, maxpool 2, conv 8->16 k5 p2, relu, maxpool 2, flatten,
    linear 784->10, softmax cross-entropy, SGD. ``functional``: another tree's, for ab_calls."""
    p, f = params, functional
    h = f.max_pool2d(f.relu(f.conv2d(x, p["w1"], p["b1"], padding=2)), 2)
    h = f.max_pool2d(f.relu(f.conv2d(h, p["w2"], p["b2"], padding=2)), 2)
    loss = f.cross_entropy(h.flatten(1) @ p["w3"] + p["b3"], y)
    for t in p.values():
        t.grad = None
    loss.backward()
    for t in p.values():
        t.data -= lr * t.grad.data
    return loss.item()


def lenet_torch_step(torch, params, x, y, lr=0.05):
    tf = torch.nn.functional
    p = params
    h = tf.max_pool2d(tf.relu(tf.conv2d(x, p["w1"], p["b1"], padding=2)), 2)
    h = tf.max_pool2d(tf.relu(tf.conv2d(h, p["w2"], p["b2"], padding=2)), 2)
    loss = tf.cross_entropy(h.flatten(1) @ p["w3"] + p["b3"], y)
    for t in p.values():
        t.grad = None
    loss.backward()
    with torch.no_grad():
        for t in p.values():
            t -= lr * t.grad
    return loss.item()


def lenet_reference_step(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, lr=0.05):
    """The same step with the step-by-step loops (NHWC), dense layer and loss in NumPy."""
    r = reference
    p = params
    a0 = x.transpose(0, 2, 3, 1)
    w1 = p["w1"].transpose(2, 3, 1, 0)
    w2 = p["w2"].transpose(2, 3, 1, 0)
    z1, c1 = r.conv_forward(a0, w1, p["b1"].reshape(1, 1, 1, -1), {"stride": 1, "pad": 2})
    a1 = np.maximum(z1, 0)
    p1, cp1 = r.pool_forward(a1, {"f": 2, "stride": 2})
    z2, c2 = r.conv_forward(p1, w2, p["b2"].reshape(1, 1, 1, -1), {"stride": 1, "pad": 2})
    a2 = np.maximum(z2, 0)
    p2, cp2 = r.pool_forward(a2, {"f": 2, "stride": 2})
    flat = p2.transpose(0, 3, 1, 2).reshape(len(x), -1)
    logits = flat @ p["w3"] + p["b3"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    dlogits = probs
    dlogits[np.arange(len(y)), y] -= 1
    dlogits /= len(y)
    dw3, db3 = flat.T @ dlogits, dlogits.sum(axis=0)
    dp2 = (dlogits @ p["w3"].T).reshape(len(x), 16, 7, 7).transpose(0, 2, 3, 1)
    da2 = r.pool_backward(dp2, cp2) * (z2 > 0)
    dp1, dw2, db2 = r.conv_backward(da2, c2)
    da1 = r.pool_backward(dp1, cp1) * (z1 > 0)
    _, dw1, db1 = r.conv_backward(da1, c1)
    grads = {
        "w1": dw1.transpose(3, 2, 0, 1),
        "b1": db1.ravel(),
        "w2": dw2.transpose(3, 2, 0, 1),
        "b2": db2.ravel(),
        "w3": dw3,
        "b3": db3,
    }
    for k in p:
        p[k] -= lr * grads[k].astype(np.float32)


def lenet_case(torch=None, batch=64):
    rng = np.random.default_rng(0)
    init = lenet_params(rng)
    x = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    params = {k: Tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    X = Tensor(x)
    fns = {"ours": lambda: lenet_step(params, X, y)}
    if torch is not None:
        tp = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
        tx, ty = torch.tensor(x), torch.tensor(y)
        fns["torch"] = lambda: lenet_torch_step(torch, tp, tx, ty)
    flops = 0
    for xs, ws in (((batch, 1, 28, 28), (8, 1, 5, 5)), ((batch, 8, 14, 14), (16, 8, 5, 5))):
        flops += 3 * 2 * xs[0] * ws[0] * xs[2] * xs[3] * int(np.prod(ws[1:]))
    flops += 3 * 2 * batch * 784 * 10
    return fns, flops, (init, x, y)


def logits(fn, p, x):
    """The LeNet of :func:`lenet_step` up to its logits, in ``fn`` (ours or torch's functional)."""
    h = fn.max_pool2d(fn.relu(fn.conv2d(x, p["w1"], p["b1"], padding=2)), 2)
    h = fn.max_pool2d(fn.relu(fn.conv2d(h, p["w2"], p["b2"], padding=2)), 2)
    return h.flatten(1) @ p["w3"] + p["b3"]


def penalty_steps(init, x0, y, torch=None):
    """Forward + backward of the LeNet, plain and with the input-gradient penalty
    ``0.1 * |d loss / d x|^2`` (a recorded backward, then backward through both): ours, and
    torch's when it is given."""
    p = {k: Tensor(v.copy(), requires_grad=True) for k, v in init.items()}

    def plain():
        F.cross_entropy(logits(F, p, Tensor(x0)), y).backward()

    def penalty():
        x = Tensor(x0, requires_grad=True)
        loss = F.cross_entropy(logits(F, p, x), y)
        (gx,) = tg.grad(loss, x, create_graph=True)
        (loss + 0.1 * (gx * gx).sum()).backward()

    fns = {"ours plain": plain, "ours penalty": penalty}
    if torch is not None:
        tf = torch.nn.functional
        tp = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
        ty = torch.tensor(y)

        def torch_plain():
            tf.cross_entropy(logits(tf, tp, torch.tensor(x0)), ty).backward()

        def torch_penalty():
            x = torch.tensor(x0, requires_grad=True)
            loss = tf.cross_entropy(logits(tf, tp, x), ty)
            (gx,) = torch.autograd.grad(loss, x, create_graph=True)
            (loss + 0.1 * (gx * gx).sum()).backward()

        fns.update({"torch plain": torch_plain, "torch penalty": torch_penalty})
    return fns


def penalty_case(torch=None, batch=64):
    rng = np.random.default_rng(0)
    init = lenet_params(rng)
    x0 = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    fns = penalty_steps(init, x0, rng.integers(0, 10, batch), torch)
    return {k.split()[0]: f for k, f in fns.items() if k.endswith("penalty")}, 0


def _torch_resnet(torch):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_models import torch_resnet  # the same architecture, written with torch.nn

    return torch_resnet(torch, 3, 10)


def resnet_steps(torch=None, batch=64):
    """One training step of the small ResNet (cross-entropy, Adam) on a fixed batch: ours, and
    torch's on the same architecture when it is given."""
    rng = np.random.default_rng(0)
    x = rng.random((batch, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    tg.manual_seed(0)
    model = models.resnet(3)
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def ours():
        loss = F.cross_entropy(model(Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    fns = {"ours": ours}
    if torch is not None:
        torch.manual_seed(0)
        tmodel = _torch_resnet(torch)
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def theirs():
            loss = torch.nn.functional.cross_entropy(tmodel(tx), ty)
            topt.zero_grad()
            loss.backward()
            topt.step()

        fns["torch"] = theirs
    return fns, 0


def _status_mb(field: str) -> float:
    """A size from /proc/self/status in MB (Linux): VmRSS now, VmHWM the peak of this process
    (getrusage's peak would be the parent's: it survives fork and exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"bench: no {field} in /proc/self/status")


def peak_memory(who: str, steps: int = 3) -> dict:
    """In this process: the resident set before the first ResNet step and its peak after
    ``steps`` steps, in MB (``who``: "ours" or "torch")."""
    torch = _torch() if who == "torch" else None
    step = resnet_steps(torch)[0][who]
    before = _status_mb("VmRSS")
    for _ in range(steps):
        step()
    peak = _status_mb("VmHWM")
    return {"before_mb": before, "peak_mb": peak, "growth_mb": peak - before}


def peak_memory_in_subprocess(who: str) -> dict:
    """:func:`peak_memory` in a fresh process, so that neither framework's peak is the other's."""
    root = str(Path(__file__).resolve().parents[1])  # this checkout's tinygrad_cnn first
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run(
        [sys.executable, __file__, "--peak-memory", who],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.splitlines()[-1])


def reference_seconds_per_sample(init, x, y, samples: int = 2) -> float:
    params = {k: v.copy() for k, v in init.items()}
    t0 = time.perf_counter()
    lenet_reference_step(params, x[:samples], y[:samples])
    return (time.perf_counter() - t0) / samples


# -- report -----------------------------------------------------------------------------------


def run(repeat: int = 15, quick: bool = False) -> list[dict]:
    torch = _torch()
    roof = matmul_roof(1024 if quick else 2048)
    threads = numpy_threads()
    print(f"float32, {threads} thread(s); NumPy matmul roof {roof:.0f} GFLOP/s; {blas_kernel()}")
    print("PyTorch: " + (f"{torch.__version__}" if torch else "not installed (no comparison)"))
    rows = []
    cases = [
        (f"conv {xs} * {ws} s{s} p{p}", conv_case(xs, ws, s, p, torch))
        for xs, ws, s, p in CONV_WORKLOADS
    ]
    cases += [
        (f"{m}-pool {k}x{k} s{s} {xs}", pool_case(xs, m, k, s, torch))
        for xs, m, k, s in POOL_WORKLOADS
    ]
    lenet_fns, lenet_flops, ref_args = lenet_case(torch)
    cases.append(("LeNet training step, batch 64", (lenet_fns, lenet_flops)))
    if quick:
        cases = cases[:1] + cases[-1:]
    else:
        cases.append(("LeNet step, input-gradient penalty (create_graph)", penalty_case(torch)))
        cases.append(("ResNet training step, batch 64 (Adam)", resnet_steps(torch)))
    head = (
        f"{'workload (forward + backward)':<52}{'median ms':>10}{'min ms':>9}{'GFLOP/s':>9}"
        f"{'roof':>6}{'GEMMs ms':>9}{'roof':>6}"
    ) + (f"{'torch ms':>10}{'x torch':>8}" if torch else "")
    print(head)
    for name, (fns, flops) in cases:
        t = measure(fns, repeat)
        ours = np.array(t["ours"])
        row = {"name": name, "median_ms": 1e3 * np.median(ours), "min_ms": 1e3 * ours.min()}
        gf = flops / ours.min() / 1e9 if flops else None
        row["gflops"], row["roof_fraction"] = gf, (gf / roof if gf else None)
        gemm = None
        if "gemms" in t:
            row["gemms_ms"] = gemm = 1e3 * min(t["gemms"])
            row["gemms_roof_fraction"] = flops / gemm * 1e3 / 1e9 / roof
        if "torch" in t:
            row["torch_ms"] = 1e3 * np.median(t["torch"])
            row["vs_torch"] = np.median(ours) / np.median(t["torch"])
        rows.append(row)
        print(
            f"{name:<52}{row['median_ms']:>10.2f}{row['min_ms']:>9.2f}"
            + (f"{gf:>9.1f}{gf / roof:>6.0%}" if gf else f"{'':>9}{'':>6}")
            + (f"{gemm:>9.2f}{row['gemms_roof_fraction']:>6.0%}" if gemm else f"{'':>9}{'':>6}")
            + (f"{row['torch_ms']:>10.2f}{row['vs_torch']:>7.2f}x" if "torch_ms" in row else "")
        )
    if not quick:
        memory = {"ours": peak_memory_in_subprocess("ours")}
        if torch is not None:
            memory["torch"] = peak_memory_in_subprocess("torch")
        line = "ResNet step, resident set growth over 3 steps: " + ", ".join(
            f"{who} {m['growth_mb']:.0f} MB (peak {m['peak_mb']:.0f} MB)"
            for who, m in memory.items()
        )
        if "torch" in memory:
            line += f": {memory['ours']['growth_mb'] / memory['torch']['growth_mb']:.2f}x torch"
        print(line)
        rows.append({"name": "ResNet step memory", **{k: v for k, v in memory.items()}})
    lenet = next(r for r in rows if r["name"].startswith("LeNet training step"))
    per_sample_ref = reference_seconds_per_sample(*ref_args)
    per_sample_ours = lenet["median_ms"] / 1e3 / 64
    speedup = per_sample_ref / per_sample_ours
    print(
        f"reference loops: {per_sample_ref * 1e3:.0f} ms per sample for the training step; "
        f"ours {per_sample_ours * 1e3:.3f} ms per sample: {speedup:.0f}x faster"
    )
    rows.append({"name": "speedup over reference loops", "value": speedup})
    return rows


if __name__ == "__main__":  # the same options as `python -m tinygrad_cnn bench`
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per workload")
    parser.add_argument("--quick", action="store_true", help="two workloads only (a smoke test)")
    parser.add_argument("--peak-memory", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_memory:  # the child process of peak_memory_in_subprocess
        print(json.dumps(peak_memory(args.peak_memory)))
    else:
        run(args.repeat, args.quick)
