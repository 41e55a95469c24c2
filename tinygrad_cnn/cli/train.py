"""Training: :func:`fit`, a library function, and the ``train`` and ``graph`` commands around it.

``python -m tinygrad_cnn train`` (or ``tinygrad-cnn train``) trains
:func:`tinygrad_cnn.models.default_model` on the embedded 8x8 digits (default) or on MNIST IDX
files, and writes into ``--out``:

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
import time

import numpy as np

from tinygrad_cnn import data, nn, optim
from tinygrad_cnn import functional as F
from tinygrad_cnn.autograd import no_grad
from tinygrad_cnn.cli.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_cnn.cli.report import progress, write_curves, write_graph
from tinygrad_cnn.models import default_model
from tinygrad_cnn.random import manual_seed
from tinygrad_cnn.tensor import Tensor

DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3}


class Interrupted(KeyboardInterrupt):
    """Ctrl-C inside :func:`fit`; ``epoch`` is the epoch whose end the checkpoint holds."""

    def __init__(self, epoch: int) -> None:
        super().__init__(epoch)
        self.epoch = epoch


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


def fit(
    model: nn.Module,
    opt: optim.Optimizer,
    ds: data.Dataset,
    epochs: int,
    *,
    batch_size: int = 32,
    seed: int = 0,
    checkpoint: str | None = None,
    start_epoch: int = 0,
    history: list[dict] | None = None,
    show_progress: bool = False,
) -> list[dict]:
    """Train with softmax cross-entropy for epochs ``start_epoch + 1 .. epochs``; returns the
    history, one dict per epoch (``epoch``, ``loss``, ``train_accuracy``, ``test_accuracy``,
    ``seconds``), ``history`` first when resuming.

    Each epoch's batch order depends only on ``(seed, epoch)``, so a run resumed from a
    ``checkpoint`` (written at the start and after every epoch) ends exactly where an
    uninterrupted one would. Ctrl-C raises :class:`Interrupted`, naming the epoch it holds.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"fit: epochs and batch_size must be positive, got {epochs}, {batch_size}")
    history = list(history or [])
    if checkpoint and start_epoch == 0:
        save_checkpoint(checkpoint, model, opt, 0, history)  # so Ctrl-C always leaves one behind
    saved = start_epoch  # the epoch that the checkpoint holds
    batches = data.Batches(ds.x_train, ds.y_train, batch_size, shuffle=True, seed=seed)
    try:
        for epoch in range(start_epoch + 1, epochs + 1):
            batches.rng = np.random.default_rng((seed, epoch))  # same order after a resume
            t0 = time.perf_counter()
            model.train()
            bar = progress(batches, f"epoch {epoch}/{epochs}") if show_progress else None
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
                f"epoch {epoch:>3}/{epochs}  loss {total_loss / seen:.4f}  "
                f"train acc {correct / seen:.4f}  test acc {test_acc:.4f}  ({seconds:.1f}s)"
            )
            if checkpoint:
                save_checkpoint(checkpoint, model, opt, epoch, history)
            saved = epoch
    except KeyboardInterrupt:
        # the checkpoint holds the end of the last completed epoch (written atomically, so an
        # interrupt during the write leaves the previous one): resuming repeats the interrupted
        # epoch from that state and ends exactly where an uninterrupted run would
        raise Interrupted(saved) from None
    return history


# -- the commands -----------------------------------------------------------------------------


def load_dataset(name: str, path: str | None) -> data.Dataset:
    """The dataset ``--dataset`` names (``--data`` is the MNIST folder)."""
    if name == "digits":
        return data.load_digits()
    if name == "mnist":
        if not path:
            raise SystemExit("--dataset mnist needs --data DIR (the folder with the IDX files)")
        return data.load_mnist(path)
    raise SystemExit(f"unknown dataset {name!r}; choose digits or mnist")


def make_optimizer(name: str, params, lr: float) -> optim.Optimizer:
    """``--optimizer``: SGD with momentum 0.9, or Adam."""
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose sgd or adam")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``train`` command's options."""
    p.add_argument("--dataset", choices=["digits", "mnist"], default="digits")
    p.add_argument("--data", metavar="DIR", help="folder with the MNIST IDX files (for mnist)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="default: 0.05 (sgd), 0.001 (adam)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="DIR", default=os.path.join("runs", "latest"))
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue from a checkpoint.npz")


def run(args: argparse.Namespace) -> dict:
    """The ``train`` command: train as the command line says; returns what metrics.json holds."""
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
    try:
        history = fit(
            model,
            opt,
            ds,
            args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            checkpoint=ckpt,
            start_epoch=start,
            history=history,
            show_progress=True,
        )
    except Interrupted as e:
        print(f"\ninterrupted: {ckpt} holds the state after epoch {e.epoch}")
        print("resume with: python -m tinygrad_cnn train --resume " + ckpt + " " + _flags(args))
        raise SystemExit(130) from None

    train_seconds = sum(h.get("seconds", 0.0) for h in history)
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


def graph_command(args: argparse.Namespace) -> str:
    """The ``graph`` command: the default CNN's training step on a seeded batch of 8x8 images."""
    manual_seed(args.seed)
    model = default_model((1, 8, 8), 10)
    rng = np.random.default_rng(args.seed)
    x = rng.random((4, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 10, 4)
    os.makedirs(args.out, exist_ok=True)
    path = write_graph(args.out, model, x, y)
    print(f"wrote {path}")
    return path
