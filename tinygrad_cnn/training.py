"""A training loop as a library function: :func:`fit` trains, measures and calls you back; it
prints nothing and writes nothing (the ``train`` command builds its progress bar, checkpoints
and report on it).

>>> import numpy as np
>>> from tinygrad_cnn import nn, optim
>>> from tinygrad_cnn.training import fit
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((64, 4)).astype(np.float32)
>>> y = (x[:, 0] > 0).astype(np.int64)
>>> model = nn.Sequential(nn.Linear(4, 2))
>>> opt = optim.SGD(model.parameters(), lr=0.5)
>>> batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
>>> history = fit(model, opt, batches, 20)
>>> len(history), history[-1]["train_accuracy"] > 0.9
(20, True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import functional as F
from tinygrad_cnn import nn, optim
from tinygrad_cnn.data import Dataset
from tinygrad_cnn.data.loader import DataLoader
from tinygrad_cnn.engine import no_grad
from tinygrad_cnn.tensor import Tensor

Data = Iterable[tuple[Any, Any]]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf: training stops before that step changes the parameters."""

    def __init__(self, epoch: int, step: int, loss: float) -> None:
        super().__init__(
            f"the loss became {loss} at epoch {epoch}, step {step}; training stopped before that "
            "step; a smaller learning rate may help"
        )
        self.epoch, self.step, self.loss = epoch, step, loss


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """Fraction of correct predictions (argmax of the outputs), in eval mode, not recorded."""
    was_training = model.training
    model.eval()
    correct = 0
    with no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(Tensor(x[i : i + batch_size]))
            correct += int((logits._data.argmax(axis=1) == y[i : i + batch_size]).sum())
    model.train(was_training)
    return correct / len(x)


def fit(
    model: nn.Module,
    optimizer: optim.Optimizer,
    data: Dataset | Data | Callable[[int], Data],
    epochs: int,
    *,
    batch_size: int = 32,
    seed: int = 0,
    loss_fn: Callable[[Tensor, Any], Tensor] = F.cross_entropy,
    start_epoch: int = 0,
    history: list[dict] | None = None,
    scheduler: Any = None,
    on_step: Callable[[dict], Any] | None = None,
    on_epoch: Callable[[dict], Any] | None = None,
) -> list[dict]:
    """Train ``model`` for epochs ``start_epoch + 1 .. epochs``; returns the history.

    ``data`` gives (inputs, targets) batches of Tensors or arrays: an iterable (a
    :class:`~tinygrad_cnn.utils.data.DataLoader`, a list), gone through once per epoch,
    or a function of the epoch number returning one (to seed each epoch's order, say). A
    :class:`~tinygrad_cnn.data.Dataset` trains on its training split in shuffled batches of
    ``batch_size`` (each epoch's order seeded by ``(seed, epoch)``), and adds each epoch's
    ``test_accuracy`` on its test split to the record.

    Each step: ``loss_fn(model(inputs), targets)``, zero_grad, backward, ``optimizer.step()``.
    A NaN or Inf loss raises :class:`TrainingDiverged` before its step changes anything. After
    each epoch ``scheduler.step()`` runs (if given) and the epoch's record, ``{"epoch", "loss",
    "train_accuracy", "seconds"}`` (mean loss and accuracy over the epoch's samples), is
    appended to the history and passed to ``on_epoch``, which may add to it. ``history`` holds
    the earlier epochs' records when resuming: fit appends to that list and returns it (a new
    list without it). ``on_step`` gets the running record after each step, with ``"step"``
    and the step's own ``"batch_loss"``.
    """
    if not (_args.is_int(epochs) and epochs >= 1):
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    if not (_args.is_int(start_epoch) and 0 <= start_epoch <= epochs):
        raise ValueError(f"fit: start_epoch must be an int in [0, {epochs}], got {start_epoch!r}")
    history = [] if history is None else history
    if isinstance(data, Dataset):
        data, on_epoch = _dataset_epochs(model, data, batch_size, seed, on_epoch)
    for epoch in range(start_epoch + 1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        record = {"epoch": epoch, "step": 0, "loss": 0.0, "train_accuracy": 0.0}
        total_loss, correct, seen = 0.0, 0, 0
        for step, batch in enumerate(data(epoch) if callable(data) else data, 1):
            xb, yb = pair("fit", "data", batch)
            logits = model(Tensor(xb))
            loss = loss_fn(logits, yb)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(epoch, step, value)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += value * len(yb)
            correct += int((logits._data.argmax(axis=1) == np.asarray(yb)).sum())
            seen += len(yb)
            if on_step is not None:
                record.update(
                    step=step,
                    loss=total_loss / seen,
                    train_accuracy=correct / seen,
                    batch_loss=value,
                )
                on_step(record)
        if seen == 0:
            raise ValueError(f"fit: data gave no batches in epoch {epoch}")
        if scheduler is not None:
            scheduler.step()
        record = {
            "epoch": epoch,
            "loss": total_loss / seen,
            "train_accuracy": correct / seen,
            "seconds": time.perf_counter() - t0,
        }
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return history


def pair(fn: str, name: str, batch: Any) -> tuple[Any, Any]:
    """``batch`` as (inputs, targets); TypeError naming ``fn`` and where it came from."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        what = f"a {type(batch).__name__}" + (
            f" of {len(batch)}" if hasattr(batch, "__len__") else ""
        )
        raise TypeError(f"{fn}: {name} must give (inputs, targets) pairs, got {what}")
    return batch[0], batch[1]


def epoch_loader(dataset: Any, batch_size: int, seed: int, epoch: int) -> DataLoader:
    """Epoch ``epoch``'s shuffled batches of ``dataset``: the order depends only on
    ``(seed, epoch)``, so a run resumed at any epoch sees the batches an uninterrupted one
    would."""
    order = np.random.default_rng((seed, epoch))
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=order)


def _dataset_epochs(model: nn.Module, ds: Dataset, batch_size: int, seed: int, on_epoch: Any):
    """fit's ``data`` and ``on_epoch`` for a Dataset: a DataLoader over its training split, each
    epoch shuffled by a generator seeded with ``(seed, epoch)``, and the test accuracy in each
    epoch's record."""
    train_set = ds.train

    def epoch_batches(epoch: int) -> DataLoader:
        return epoch_loader(train_set, batch_size, seed, epoch)

    def with_test_accuracy(record: dict) -> None:
        record["test_accuracy"] = accuracy(model, ds.x_test, ds.y_test)
        if on_epoch is not None:
            on_epoch(record)

    return epoch_batches, with_test_accuracy
