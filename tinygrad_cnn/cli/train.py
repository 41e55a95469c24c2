"""The ``train`` command, built on the library's :func:`tinygrad_cnn.training.fit`.

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
import os

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import data, nn, optim
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
from tinygrad_cnn.cli.health import Watch, run_lr_find
from tinygrad_cnn.cli.report import progress, write_curves, write_graph
from tinygrad_cnn.cli.usage import UsageError, check_number
from tinygrad_cnn.data import augment as aug
from tinygrad_cnn.io import atomic_path
from tinygrad_cnn.random import manual_seed
from tinygrad_cnn.training import TrainingDiverged, accuracy, epoch_loader, fit

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


class Interrupted(KeyboardInterrupt):
    """Ctrl-C inside :func:`train`; ``epoch`` is the epoch whose end the checkpoint holds (None:
    interrupted while the first checkpoint was written, so there is none)."""

    def __init__(self, epoch: int | None) -> None:
        super().__init__(epoch)
        self.epoch = epoch


class Diverged(TrainingDiverged):
    """:class:`TrainingDiverged`, saying which epoch the checkpoint holds."""

    def __init__(self, error: TrainingDiverged, saved: int | None) -> None:
        super().__init__(error.epoch, error.step, error.loss)
        self.args = (f"{error} (the checkpoint holds epoch {saved})",)
        self.saved = saved


def train(
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
    watch: Watch | None = None,
) -> list[dict]:
    """The command's training: :func:`tinygrad_cnn.training.fit` with softmax cross-entropy on
    ``ds``, plus what makes a run resumable and visible. Returns the history, each epoch with
    its ``test_accuracy`` too.

    Each epoch's batch order (and ``augment``'s draw) depends only on ``(seed, epoch)``, so a
    run resumed from a ``checkpoint`` (written at the start and after every epoch, with
    ``config``, the run's settings, and the ``scheduler``'s state) ends exactly where an
    uninterrupted one would. Ctrl-C raises :class:`Interrupted`, naming the epoch the
    checkpoint holds; a NaN or Inf loss raises :class:`Diverged`. Prints a line per epoch and,
    with ``show_progress``, a progress bar; ``watch`` (``--monitor``) sees every step and epoch.
    """
    if not (_args.is_int(epochs) and epochs >= 1):
        raise ValueError(f"train: epochs must be a positive int, got {epochs!r}")
    train_set = ds.train
    _args.positive_int("train", "batch_size", batch_size)
    saved = None if checkpoint and start_epoch == 0 else start_epoch  # what the checkpoint holds
    bar = None

    def epoch_batches(epoch: int):
        nonlocal bar
        batches = epoch_loader(train_set, batch_size, seed, epoch)  # the same after a resume
        aug_rng = np.random.default_rng((seed, epoch, 1))  # and the same augmentation
        items = batches
        if show_progress:
            bar = progress(batches, f"epoch {epoch}/{epochs}")
            items = bar if bar is not None else batches
        for xb, yb in items:
            yield (xb if augment is None else augment(xb.numpy(), aug_rng)), yb

    def on_step(record: dict) -> None:
        if watch is not None:
            watch.on_step(record)
        if bar is not None:
            loss, acc = record["loss"], record["train_accuracy"]
            bar.set_postfix(loss=f"{loss:.4f}", acc=f"{acc:.3f}", refresh=False)

    def on_epoch(record: dict) -> None:
        nonlocal saved
        if bar is not None:
            bar.close()
        record["test_accuracy"] = accuracy(model, ds.x_test, ds.y_test)
        print(
            f"epoch {record['epoch']:>3}/{epochs}  loss {record['loss']:.4f}  train acc "
            f"{record['train_accuracy']:.4f}  test acc {record['test_accuracy']:.4f}  "
            f"({record['seconds']:.1f}s)"
        )
        if watch is not None:
            watch.on_epoch(record)
        if checkpoint:
            ckpt_file.save_checkpoint(
                checkpoint, model, opt, record["epoch"], history, config, scheduler
            )
        saved = record["epoch"]

    history = list(history or [])
    try:
        if saved is None:  # written first, so that a Ctrl-C from now on leaves one behind
            ckpt_file.save_checkpoint(checkpoint, model, opt, 0, history, config, scheduler)
            saved = 0
        # a diverging run overflows before its loss is NaN: the user gets the one line that
        # says so (Diverged), not NumPy's warnings first
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            fit(
                model,
                opt,
                epoch_batches,
                epochs,
                start_epoch=start_epoch,
                history=history,
                scheduler=scheduler,
                on_step=on_step,
                on_epoch=on_epoch,
            )
    except TrainingDiverged as e:
        raise Diverged(e, saved) from None
    except KeyboardInterrupt:
        # the checkpoint holds the end of the last completed epoch (written atomically, so an
        # interrupt during the write leaves the previous one): resuming repeats the interrupted
        # epoch from that state and ends exactly where an uninterrupted run would
        raise Interrupted(_held_epoch(checkpoint, saved)) from None
    finally:
        if bar is not None:
            bar.close()
    return history


def _held_epoch(checkpoint: str | None, saved: int | None) -> int | None:
    """The epoch the checkpoint on disk holds: read from the file, since an interrupt can land
    after its atomic write finished but before ``saved`` was updated (then it is one ahead)."""
    if not checkpoint or saved is None or not os.path.exists(checkpoint):
        return saved
    try:
        return int(ckpt_file.read_checkpoint(checkpoint)["meta/epoch"])
    except (OSError, ValueError, KeyError):
        return saved


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
    p.add_argument(
        "--monitor", action="store_true", help="watch each layer's health: health.png, health.json"
    )
    p.add_argument(
        "--lr-find",
        action="store_true",
        help="run the learning-rate range test (lr_find.png), exit",
    )


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
    if not args.lr_find:  # the range test writes lr_find.png only
        guard_out(args, ckpt)
    config = settings(args, None if saved is None else ckpt_file.checkpoint_config(saved))
    manual_seed(config["seed"])
    try:
        ds = load_dataset(config["dataset"], config["data"], args.download)
    except KeyboardInterrupt:
        print(
            "\ninterrupted while getting the dataset; a partial download is kept as <file>.part "
            "and continues where it stopped on the next --download"
        )
        raise SystemExit(130) from None
    model = make_model(config["model"], ds)
    params = model.parameters()
    opt = make_optimizer(config["optimizer"], params, config["lr"], config["weight_decay"])
    start, history, epochs = 0, [], config["epochs"]
    scheduler = make_scheduler(config["scheduler"], opt, epochs)
    if saved is not None:
        try:
            start, history = ckpt_file.restore(saved, model, opt, scheduler)
        except (KeyError, ValueError, RuntimeError) as e:
            raise UsageError(f"--resume {args.resume}: does not fit this model: {e}") from None
        if start > epochs:
            raise UsageError(
                f"the checkpoint has already trained {start} epochs; pass --epochs {start} or more"
            )
        print(f"resumed from {args.resume} after epoch {start} of {epochs}")
    if args.lr_find:
        return run_lr_find(model, opt, ds, config, args.out)
    os.makedirs(args.out, exist_ok=True)
    watch = Watch(model) if args.monitor else None
    if start < epochs:
        try:
            history = train(
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
                watch=watch,
            )
        except Diverged:
            if watch is not None:
                watch.write(args.out)
            raise
        except Interrupted as e:
            if watch is not None:  # what the monitor saw until the interrupt
                watch.write(args.out)
            if e.epoch is None:
                print("\ninterrupted before the first checkpoint was written: run it again")
            else:
                print(f"\ninterrupted: {ckpt} holds the state after epoch {e.epoch}")
                print(f"resume with: python -m tinygrad_cnn train {_resume_flags(args, ckpt)}")
            raise SystemExit(130) from None
    health = watch.write(args.out) if watch is not None else []
    try:
        return write_outputs(args.out, model, ds, history, config, health)
    except KeyboardInterrupt:
        print(f"\ninterrupted while writing the outputs; {ckpt} holds all {epochs} epochs")
        print(f"write them with: python -m tinygrad_cnn train {_resume_flags(args, ckpt)}")
        raise SystemExit(130) from None


def write_outputs(
    out: str, model: nn.Module, ds: data.Dataset, history: list, config: dict, also=()
):
    """model.npz, metrics.json, curves.png and the graph, each written whole or not at all
    (``also``: the names of other files the run wrote, for the last line)."""
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
        f"wrote model.npz, metrics.json, curves.png, {', '.join([*also, os.path.basename(graph)])} "
        f"to {out}"
    )
    return metrics


def _resume_flags(args: argparse.Namespace, ckpt: str) -> str:
    """The flags that continue this run (the checkpoint keeps its settings)."""
    return f"--resume {ckpt} --out {args.out}" + (f" --data {args.data}" if args.data else "")
