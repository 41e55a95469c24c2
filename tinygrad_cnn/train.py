"""The ``train`` command: the classic CNN trained end to end, with metrics, curves and a diagram.

``python -m tinygrad_cnn train`` (or ``tinygrad-cnn train``) trains
CONV2D -> RELU -> MAXPOOL -> CONV2D -> RELU -> MAXPOOL -> FLATTEN -> FULLY CONNECTED on the
embedded 8x8 digits (default) or on MNIST IDX files, and writes into ``--out``:

- ``model.npz``: the trained parameters (``Module.load`` reads it back);
- ``checkpoint.npz``: model, optimizer state and epoch, written atomically at the start and after
  every epoch, for ``--resume``. Ctrl-C stops at once and keeps it: a resumed run repeats the
  interrupted epoch and ends exactly where an uninterrupted one would;
- ``metrics.json``: ``test_accuracy``, ``train_accuracy``, ``epochs``, ``train_seconds`` and the
  per-epoch ``history``;
- ``curves.png``: loss and accuracy per epoch (matplotlib);
- ``graph.svg``: the graph of one training step with gradient norms (``graph.dot`` and an install
  hint when Graphviz's ``dot`` is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

from tinygrad_cnn import data, nn, optim
from tinygrad_cnn import functional as F
from tinygrad_cnn.autograd import no_grad
from tinygrad_cnn.random import manual_seed
from tinygrad_cnn.tensor import Tensor

DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3}


def default_model(in_shape: tuple[int, int, int], num_classes: int) -> nn.Sequential:
    """The classic CNN, sized for (C, H, W) inputs: 3x3 kernels for small images, 5x5 otherwise.

    >>> default_model((1, 8, 8), 10)[0]
    Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    """
    c, h, w = in_shape
    if h < 4 or w < 4:
        raise ValueError(f"default_model: images of {h}x{w} are too small for two 2x2 poolings")
    k = 3 if min(h, w) <= 16 else 5
    c1, c2 = (16, 32) if k == 3 else (8, 16)
    flat = c2 * (h // 2 // 2) * (w // 2 // 2)
    return nn.Sequential(
        nn.Conv2d(c, c1, k, padding=k // 2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, k, padding=k // 2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, num_classes),
    )


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """Fraction of correct predictions, in eval mode and without recording."""
    was_training = model.training
    model.eval()
    correct = 0
    with no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(Tensor(x[i : i + batch_size]))
            correct += int((logits.data.argmax(axis=1) == y[i : i + batch_size]).sum())
    model.train(was_training)
    return correct / len(x)


def make_optimizer(name: str, params, lr: float) -> optim.Optimizer:
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose sgd or adam")


# -- checkpoints: model, optimizer and progress in one .npz -----------------------------------


def save_checkpoint(path: str, model: nn.Module, opt: optim.Optimizer, epoch: int, history):
    arrays: dict[str, Any] = {f"model/{k}": v for k, v in model.state_dict().items()}
    sd = opt.state_dict()
    for i, s in sd["state"].items():
        for k, v in s.items():
            arrays[f"optim/state/{i}/{k}"] = np.asarray(v)
    for k, v in sd["defaults"].items():
        arrays[f"optim/defaults/{k}"] = np.asarray(v)
    arrays["meta/epoch"] = np.asarray(epoch)
    arrays["meta/history"] = np.asarray(json.dumps(history))
    nn.save_npz(path, arrays)


def load_checkpoint(path: str, model: nn.Module, opt: optim.Optimizer) -> tuple[int, list]:
    arrays = nn.load_npz(path)
    if "meta/epoch" not in arrays:
        raise ValueError(f"{path}: not a training checkpoint (no meta/epoch); model.npz is not one")
    model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model/")})
    state: dict[int, dict[str, Any]] = {}
    defaults: dict[str, Any] = {}
    for k, v in arrays.items():
        parts = k.split("/")
        if parts[:2] == ["optim", "state"]:
            state.setdefault(int(parts[2]), {})[parts[3]] = v if v.ndim else v.item()
        elif parts[:2] == ["optim", "defaults"]:
            defaults[parts[2]] = tuple(v.tolist()) if v.ndim else v.item()
    opt.load_state_dict({"state": state, "defaults": defaults})
    return int(arrays["meta/epoch"]), json.loads(str(arrays["meta/history"]))


# -- outputs ----------------------------------------------------------------------------------


def write_curves(path: str, history: list[dict]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is missing, so curves.png was not drawn (pip install matplotlib)")
        return False
    epochs = [h["epoch"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    a1.plot(epochs, [h["loss"] for h in history], marker="o")
    a1.set(xlabel="epoch", ylabel="training loss", title="loss")
    a2.plot(epochs, [h["train_accuracy"] for h in history], marker="o", label="train")
    a2.plot(epochs, [h["test_accuracy"] for h in history], marker="o", label="test")
    a2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    a2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_graph(out: str, model: nn.Module, x: np.ndarray, y: np.ndarray) -> str:
    """Draw one training step (forward, loss, backward) with gradient norms; returns the file."""
    from tinygrad_cnn.viz import draw_graph, retain_grads

    model.zero_grad()
    loss = F.cross_entropy(model(Tensor(x)), y)
    retain_grads(loss)
    loss.backward(retain_graph=True)
    diagram = draw_graph(loss, params=dict(model.named_parameters()), show_grads=True)
    model.zero_grad()
    if diagram.dot_available():
        return diagram.render(os.path.join(out, "graph"), format="svg")
    path = diagram.save(os.path.join(out, "graph.dot"))
    print(f"wrote {path} (DOT source): install Graphviz to get graph.svg: apt-get install graphviz")
    return path


def _progress(batches, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    # disable=None: no bar when stderr is not a terminal (logs, CI)
    return tqdm(batches, desc=desc, unit="batch", leave=False, dynamic_ncols=True, disable=None)


# -- the command ------------------------------------------------------------------------------


def load_dataset(name: str, path: str | None) -> data.Dataset:
    if name == "digits":
        return data.load_digits()
    if name == "mnist":
        if not path:
            raise SystemExit("--dataset mnist needs --data DIR (the folder with the IDX files)")
        return data.load_mnist(path)
    raise SystemExit(f"unknown dataset {name!r}; choose digits or mnist")


def train(args: argparse.Namespace) -> dict:
    """Train as the command line says; returns the metrics written to metrics.json."""
    if args.epochs < 1 or args.batch_size < 1:
        raise SystemExit("--epochs and --batch-size must be positive")
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    manual_seed(args.seed)
    ds = load_dataset(args.dataset, args.data)
    model = default_model(ds.x_train.shape[1:], ds.num_classes)
    opt = make_optimizer(args.optimizer, model.parameters(), lr)
    os.makedirs(args.out, exist_ok=True)
    ckpt = os.path.join(args.out, "checkpoint.npz")
    start, history = 0, []
    if args.resume:
        start, history = load_checkpoint(args.resume, model, opt)
        if start >= args.epochs:
            raise SystemExit(
                f"the checkpoint has already trained {start} epochs; pass --epochs larger than "
                f"{start} to train further"
            )
        print(f"resumed from {args.resume} after epoch {start}")
    else:
        save_checkpoint(ckpt, model, opt, 0, history)  # so Ctrl-C always leaves one behind
    saved = start  # the epoch that checkpoint.npz holds
    batches = data.Batches(ds.x_train, ds.y_train, args.batch_size, shuffle=True, seed=args.seed)
    train_seconds = sum(h.get("seconds", 0.0) for h in history)
    try:
        for epoch in range(start + 1, args.epochs + 1):
            batches.rng = np.random.default_rng((args.seed, epoch))  # same order after a resume
            t0 = time.perf_counter()
            model.train()
            bar = _progress(batches, f"epoch {epoch}/{args.epochs}")
            total_loss, correct, seen = 0.0, 0, 0
            for xb, yb in bar if bar is not None else batches:
                logits = model(Tensor(xb))
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total_loss += loss.item() * len(yb)
                correct += int((logits.data.argmax(axis=1) == yb).sum())
                seen += len(yb)
                if bar is not None:
                    bar.set_postfix(
                        loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}", refresh=False
                    )
            if bar is not None:
                bar.close()
            seconds = time.perf_counter() - t0
            train_seconds += seconds
            test_acc = accuracy(model, ds.x_test, ds.y_test)
            history.append(
                {
                    "epoch": epoch,
                    "loss": total_loss / seen,
                    "train_accuracy": correct / seen,
                    "test_accuracy": test_acc,
                    "seconds": seconds,
                }
            )
            print(
                f"epoch {epoch:>3}/{args.epochs}  loss {total_loss / seen:.4f}  "
                f"train acc {correct / seen:.4f}  test acc {test_acc:.4f}  ({seconds:.1f}s)"
            )
            save_checkpoint(ckpt, model, opt, epoch, history)
            saved = epoch
    except KeyboardInterrupt:
        # checkpoint.npz holds the end of the last completed epoch (written atomically, so an
        # interrupt during the write leaves the previous one): resuming repeats the interrupted
        # epoch from that state and ends exactly where an uninterrupted run would
        print(f"\ninterrupted: {ckpt} holds the state after epoch {saved}")
        print("resume with: python -m tinygrad_cnn train --resume " + ckpt + " " + _flags(args))
        raise SystemExit(130) from None

    model.save(os.path.join(args.out, "model.npz"))
    metrics = {
        "dataset": args.dataset,
        "test_accuracy": accuracy(model, ds.x_test, ds.y_test),
        "train_accuracy": accuracy(model, ds.x_train, ds.y_train),
        "epochs": args.epochs,
        "train_seconds": round(train_seconds, 3),
        "optimizer": args.optimizer,
        "lr": lr,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "history": history,
    }
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    write_curves(os.path.join(args.out, "curves.png"), history)
    graph = write_graph(args.out, model, ds.x_train[:4], ds.y_train[:4])
    print(
        f"done: test accuracy {metrics['test_accuracy']:.4f}, train accuracy "
        f"{metrics['train_accuracy']:.4f}, {args.epochs} epochs in {train_seconds:.1f}s; "
        f"wrote model.npz, metrics.json, curves.png, {os.path.basename(graph)} to {args.out}"
    )
    return metrics


def _flags(args: argparse.Namespace) -> str:
    """The options of this run, to repeat them on resume."""
    flags = f"--dataset {args.dataset} --epochs {args.epochs} --batch-size {args.batch_size} "
    flags += f"--optimizer {args.optimizer} --seed {args.seed} --out {args.out}"
    flags += f" --lr {args.lr}" if args.lr is not None else ""
    return flags + (f" --data {args.data}" if args.data else "")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=["digits", "mnist"], default="digits")
    p.add_argument("--data", metavar="DIR", help="folder with the MNIST IDX files (for mnist)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="default: 0.05 (sgd), 0.001 (adam)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="DIR", default=os.path.join("runs", "latest"))
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue from a checkpoint.npz")


def graph_command(args: argparse.Namespace) -> str:
    """Draw the default CNN's training step on a small seeded batch of 8x8 images."""
    manual_seed(args.seed)
    model = default_model((1, 8, 8), 10)
    rng = np.random.default_rng(args.seed)
    x = rng.random((4, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 10, 4)
    os.makedirs(args.out, exist_ok=True)
    path = write_graph(args.out, model, x, y)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m tinygrad_cnn train")
