"""Training: :func:`fit`, a library function, and the ``train`` and ``graph`` commands around it.

``python -m tinygrad_cnn train`` (or ``tinygrad-cnn train``) trains a model of
:mod:`tinygrad_cnn.models` (``--model default|lenet5|resnet``) on the embedded 8x8 digits (default),
MNIST, Fashion-MNIST or CIFAR-10 (``--download`` fetches them), with optional augmentation, a
learning-rate schedule and weight decay, and writes into ``--out``:

- ``model.npz``: the trained parameters (``Module.load`` reads it back);
- ``checkpoint.npz``: model, optimizer and schedule state, epoch and the run's settings (the
  batch order and the augmentation draw from generators seeded by (seed, epoch)), written
  atomically at the start and after every epoch, for ``--resume``. Ctrl-C stops at once and
  keeps it: a resumed run repeats the interrupted epoch and ends exactly where an uninterrupted
  one would; resuming a finished run writes its outputs. A folder that holds a checkpoint is
  never started over without ``--overwrite``;
- ``metrics.json``: ``test_accuracy``, ``train_accuracy``, ``epochs``, ``train_seconds`` and the
  per-epoch ``history``;
- ``curves.png``: loss and accuracy per epoch (matplotlib);
- ``graph.svg``: the graph of one training step with gradient norms (``graph.dot`` and an install
  hint when Graphviz's ``dot`` is missing).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

from tinygrad_cnn import data, nn, optim
from tinygrad_cnn import functional as F
from tinygrad_cnn.autograd import no_grad
from tinygrad_cnn.cli import checkpoint as ckpt_file
from tinygrad_cnn.cli.components import (
    DEFAULT_LR,
    DEFAULT_WEIGHT_DECAY,
    load_dataset,
    make_augment,
    make_model,
    make_optimizer,
    make_scheduler,
)
from tinygrad_cnn.cli.report import progress, write_curves, write_graph
from tinygrad_cnn.cli.usage import UsageError, check_number
from tinygrad_cnn.data import augment as aug
from tinygrad_cnn.models import default_model
from tinygrad_cnn.nn.module import atomic_path
from tinygrad_cnn.random import manual_seed
from tinygrad_cnn.tensor import Tensor

# A run's settings: kept in its checkpoint, so --resume continues with them
DEFAULTS = {
    "dataset": "digits",
    "model": "default",
    "optimizer": "sgd",
    "lr": None,
    "weight_decay": None,
    "scheduler": "none",
    "augment": False,
    "batch_size": 32,
    "seed": 0,
}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf: training stops before that step changes the parameters."""

    def __init__(self, epoch: int, step: int, loss: float, saved: int) -> None:
        super().__init__(
            f"the loss became {loss} at epoch {epoch}, step {step}; training stopped before that "
            f"step (the checkpoint holds epoch {saved}); a smaller learning rate may help"
        )
        self.epoch, self.step, self.loss, self.saved = epoch, step, loss, saved


class Interrupted(KeyboardInterrupt):
    """Ctrl-C inside :func:`fit`; ``epoch`` is the epoch whose end the checkpoint holds (None:
    interrupted while the first checkpoint was written, so there is none)."""

    def __init__(self, epoch: int | None) -> None:
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
    config: dict | None = None,
    augment: aug.Augment | None = None,
    scheduler: optim.lr_scheduler.LRScheduler | None = None,
) -> list[dict]:
    """Train with softmax cross-entropy for epochs ``start_epoch + 1 .. epochs``; returns the
    history, one dict per epoch (``epoch``, ``loss``, ``train_accuracy``, ``test_accuracy``,
    ``seconds``), ``history`` first when resuming.

    Each epoch's batch order depends only on ``(seed, epoch)``, so a run resumed from a
    ``checkpoint`` (written at the start and after every epoch) ends exactly where an
    uninterrupted one would. Ctrl-C raises :class:`Interrupted`, naming the epoch it holds; a
    NaN or Inf loss raises :class:`TrainingDiverged` before its step changes anything.
    ``config`` (the run's settings) is stored in the checkpoint. ``augment`` transforms each
    training batch, drawing from a generator seeded by ``(seed, epoch)``; ``scheduler`` steps
    after each epoch and its state is checkpointed too.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"fit: epochs and batch_size must be positive, got {epochs}, {batch_size}")
    history = list(history or [])
    saved = None if checkpoint and start_epoch == 0 else start_epoch  # what the checkpoint holds
    batches = data.Batches(ds.x_train, ds.y_train, batch_size, shuffle=True, seed=seed)
    try:
        if saved is None:  # written first, so that a Ctrl-C from now on leaves one behind
            ckpt_file.save_checkpoint(checkpoint, model, opt, 0, history, config, scheduler)
            saved = 0
        for epoch in range(start_epoch + 1, epochs + 1):
            batches.rng = np.random.default_rng((seed, epoch))  # same order after a resume
            aug_rng = np.random.default_rng((seed, epoch, 1))  # and the same augmentation
            t0 = time.perf_counter()
            model.train()
            bar = progress(batches, f"epoch {epoch}/{epochs}") if show_progress else None
            total_loss, correct, seen = 0.0, 0, 0
            for step, (xb, yb) in enumerate(bar if bar is not None else batches, 1):
                if augment is not None:
                    xb = augment(xb, aug_rng)
                logits = model(Tensor(xb))
                loss = F.cross_entropy(logits, yb)
                value = loss.item()
                if not math.isfinite(value):
                    raise TrainingDiverged(epoch, step, value, saved)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total_loss += value * len(yb)
                correct += int((logits.data.argmax(axis=1) == yb).sum())
                seen += len(yb)
                if bar is not None:
                    bar.set_postfix(
                        loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}", refresh=False
                    )
            if bar is not None:
                bar.close()
            if scheduler is not None:
                scheduler.step()
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
                ckpt_file.save_checkpoint(checkpoint, model, opt, epoch, history, config, scheduler)
            saved = epoch
    except KeyboardInterrupt:
        # the checkpoint holds the end of the last completed epoch (written atomically, so an
        # interrupt during the write leaves the previous one): resuming repeats the interrupted
        # epoch from that state and ends exactly where an uninterrupted run would
        raise Interrupted(saved) from None
    return history


# -- the commands -----------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``train`` command's options (unset ones come from --resume's run, then defaults)."""
    p.add_argument(
        "--dataset", choices=["digits", "mnist", "fashion-mnist", "cifar10"], help="default: digits"
    )
    p.add_argument("--data", metavar="DIR", help="the dataset's folder (default: under ~/.cache)")
    p.add_argument("--download", action="store_true", help="fetch the dataset if it is missing")
    p.add_argument("--model", choices=["default", "lenet5", "resnet"], help="default: default")
    p.add_argument("--epochs", type=int, help="epochs in all (default: 20, or the resumed run's)")
    p.add_argument("--batch-size", type=int, help="default: 32")
    p.add_argument("--lr", type=float, help="default: 0.05 (sgd), 0.001 (adam, adamw)")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], help="default: sgd")
    p.add_argument("--weight-decay", type=float, help="default: 0 (sgd, adam), 0.01 (adamw)")
    p.add_argument("--scheduler", choices=["none", "step", "cosine"], help="default: none")
    p.add_argument(
        "--augment", action="store_true", default=None, help="random shifts (and flips) of batches"
    )
    p.add_argument("--seed", type=int, help="default: 0")
    p.add_argument("--out", metavar="DIR", default=os.path.join("runs", "latest"))
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue from a checkpoint.npz")
    p.add_argument("--overwrite", action="store_true", help="start over a run already in --out")


def settings(args: argparse.Namespace, saved: dict | None) -> dict:
    """The run's settings: the flags, else the resumed run's, else the defaults. A flag that
    contradicts the checkpoint is refused: what the run records is what it used."""
    check_number("--epochs", args.epochs, 1)
    check_number("--batch-size", args.batch_size, 1)
    check_number("--lr", args.lr, 0, strict=True)
    check_number("--seed", args.seed, 0)
    check_number("--weight-decay", args.weight_decay, 0)
    config = {}
    for key, default in DEFAULTS.items():
        flag, kept = getattr(args, key), (saved or {}).get(key)
        if flag is not None and kept is not None and flag != kept:
            name = "--" + key.replace("_", "-")
            raise UsageError(
                f"{name} {flag} conflicts with the checkpoint, whose run used {name} {kept}; "
                f"leave {name} out to continue that run, or start a new one in another --out"
            )
        config[key] = next((v for v in (flag, kept, default) if v is not None), None)
    config["lr"] = DEFAULT_LR[config["optimizer"]] if config["lr"] is None else config["lr"]
    if config["weight_decay"] is None:
        config["weight_decay"] = DEFAULT_WEIGHT_DECAY[config["optimizer"]]
    config["epochs"] = args.epochs or (saved or {}).get("epochs") or 20
    config["data"] = args.data or (saved or {}).get("data")
    return config


def guard_out(args: argparse.Namespace, ckpt: str) -> None:
    """Never start over a run that --out holds unless asked to (--overwrite)."""
    if not os.path.exists(ckpt) or args.overwrite:
        return
    if args.resume and os.path.exists(args.resume) and os.path.samefile(args.resume, ckpt):
        return
    raise UsageError(
        f"{ckpt} exists (a run trained there): continue it with --resume {ckpt}, or pass "
        "--overwrite to start over and replace it"
    )


def run(args: argparse.Namespace) -> dict:
    """The ``train`` command: train as the command line says; returns what metrics.json holds."""
    saved = None
    if args.resume:
        try:
            saved = ckpt_file.read_checkpoint(args.resume)
        except (OSError, ValueError) as e:
            raise UsageError(f"--resume {args.resume}: {e}") from None
    ckpt = os.path.join(args.out, "checkpoint.npz")
    guard_out(args, ckpt)
    config = settings(args, None if saved is None else ckpt_file.checkpoint_config(saved))
    manual_seed(config["seed"])
    try:
        ds = load_dataset(config["dataset"], config["data"], args.download)
    except KeyboardInterrupt:
        print("\ninterrupted while getting the dataset; a partial download is kept as <file>.part "
              "and continues where it stopped on the next --download")
        raise SystemExit(130) from None
    model = make_model(config["model"], ds)
    params = model.parameters()
    opt = make_optimizer(config["optimizer"], params, config["lr"], config["weight_decay"])
    start, history, epochs = 0, [], config["epochs"]
    scheduler = make_scheduler(config["scheduler"], opt, epochs)
    if saved is not None:
        try:
            start, history = ckpt_file.restore(saved, model, opt, scheduler)
        except (KeyError, ValueError) as e:
            raise UsageError(f"--resume {args.resume}: does not fit this model: {e}") from None
        if start > epochs:
            raise UsageError(
                f"the checkpoint has already trained {start} epochs; pass --epochs {start} or more"
            )
        print(f"resumed from {args.resume} after epoch {start} of {epochs}")
    os.makedirs(args.out, exist_ok=True)
    if start < epochs:
        try:
            history = fit(
                model,
                opt,
                ds,
                epochs,
                batch_size=config["batch_size"],
                seed=config["seed"],
                checkpoint=ckpt,
                start_epoch=start,
                history=history,
                show_progress=True,
                config=config,
                augment=make_augment(config, ds),
                scheduler=scheduler,
            )
        except Interrupted as e:
            if e.epoch is None:
                print("\ninterrupted before the first checkpoint was written: run it again")
            else:
                print(f"\ninterrupted: {ckpt} holds the state after epoch {e.epoch}")
                print(f"resume with: python -m tinygrad_cnn train {_resume_flags(args, ckpt)}")
            raise SystemExit(130) from None
    try:
        return write_outputs(args.out, model, ds, history, config)
    except KeyboardInterrupt:
        print(f"\ninterrupted while writing the outputs; {ckpt} holds all {epochs} epochs")
        print(f"write them with: python -m tinygrad_cnn train {_resume_flags(args, ckpt)}")
        raise SystemExit(130) from None


def write_outputs(out: str, model: nn.Module, ds: data.Dataset, history: list, config: dict):
    """model.npz, metrics.json, curves.png and the graph, each written whole or not at all."""
    train_seconds = sum(h.get("seconds", 0.0) for h in history)
    model.save(os.path.join(out, "model.npz"))
    metrics = {
        "dataset": config["dataset"],
        "model": config["model"],
        "test_accuracy": accuracy(model, ds.x_test, ds.y_test),
        "train_accuracy": accuracy(model, ds.x_train, ds.y_train),
        "epochs": config["epochs"],
        "train_seconds": round(train_seconds, 3),
        "optimizer": config["optimizer"],
        "lr": config["lr"],
        "weight_decay": config["weight_decay"],
        "scheduler": config["scheduler"],
        "augment": config["augment"],
        "batch_size": config["batch_size"],
        "seed": config["seed"],
        "history": history,
    }
    with atomic_path(os.path.join(out, "metrics.json")) as tmp, open(tmp, "w") as f:
        json.dump(metrics, f, indent=2)
    write_curves(os.path.join(out, "curves.png"), history)
    graph = write_graph(out, model, ds.x_train[:4], ds.y_train[:4])
    print(
        f"done: test accuracy {metrics['test_accuracy']:.4f}, train accuracy "
        f"{metrics['train_accuracy']:.4f}, {config['epochs']} epochs in {train_seconds:.1f}s; "
        f"wrote model.npz, metrics.json, curves.png, {os.path.basename(graph)} to {out}"
    )
    return metrics


def _resume_flags(args: argparse.Namespace, ckpt: str) -> str:
    """The flags that continue this run (the checkpoint keeps its settings)."""
    return f"--resume {ckpt} --out {args.out}" + (f" --data {args.data}" if args.data else "")


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
