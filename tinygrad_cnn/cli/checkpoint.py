"""The training checkpoint: model, optimizer state and progress in one ``.npz`` (no pickles).

Keys: ``model/<parameter name>``, ``optim/state/<index>/<name>``, ``optim/param_groups`` (the
groups' hyperparameters and parameter indices, as JSON; checkpoints from before parameter
groups have ``optim/defaults/<name>`` instead, still read), ``meta/epoch`` (epochs completed),
``meta/history`` (the per-epoch metrics, as JSON), ``meta/config`` (the run's settings, as
JSON: what ``--resume`` continues with) and ``meta/scheduler`` (the learning-rate schedule's
``state_dict``, as JSON, when there is one).
Written atomically (:func:`tinygrad_cnn.nn.save_npz`), so an interrupted write keeps the old one.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tinygrad_cnn import nn, optim


def save_checkpoint(
    path: str,
    model: nn.Module,
    opt: optim.Optimizer,
    epoch: int,
    history: list[dict],
    config: dict | None = None,
    scheduler: optim.lr_scheduler.LRScheduler | None = None,
) -> None:
    """Write the state after ``epoch`` completed epochs to ``path``."""
    arrays: dict[str, Any] = {f"model/{k}": v for k, v in model.state_dict().items()}
    sd = opt.state_dict()
    for i, s in sd["state"].items():
        for k, v in s.items():
            arrays[f"optim/state/{i}/{k}"] = v.numpy()
    arrays["optim/param_groups"] = np.asarray(json.dumps(sd["param_groups"]))
    arrays["meta/epoch"] = np.asarray(epoch)
    arrays["meta/history"] = np.asarray(json.dumps(history))
    if config is not None:
        arrays["meta/config"] = np.asarray(json.dumps(config))
    if scheduler is not None:
        arrays["meta/scheduler"] = np.asarray(json.dumps(scheduler.state_dict()))
    nn.save_npz(path, arrays)


def read_checkpoint(path: str) -> dict[str, np.ndarray]:
    """The arrays of a checkpoint file; ValueError naming the file if it is not one."""
    arrays = nn.load_npz(path)
    if "meta/epoch" not in arrays:
        raise ValueError(f"{path}: not a training checkpoint (no meta/epoch); model.npz is not one")
    return arrays


def checkpoint_config(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The run's settings; for a checkpoint written before they were stored, what its optimizer
    state tells (the optimizer and the learning rate)."""
    if "meta/config" in arrays:
        return json.loads(str(arrays["meta/config"]))
    if "optim/param_groups" in arrays:
        group = json.loads(str(arrays["optim/param_groups"]))[0]
        kind = "sgd" if "betas" not in group else "adam"
        return {
            "optimizer": "adamw" if group.get("decoupled_weight_decay") else kind,
            "lr": float(group.get("initial_lr", group["lr"])),
        }
    return {
        "optimizer": "adam" if "optim/defaults/betas" in arrays else "sgd",
        "lr": float(arrays["optim/defaults/lr"]),
    }


def restore(
    arrays: dict[str, np.ndarray],
    model: nn.Module,
    opt: optim.Optimizer,
    scheduler: optim.lr_scheduler.LRScheduler | None = None,
):
    """Load checkpoint arrays into ``model``, ``opt`` and ``scheduler``; returns (epochs
    completed, history). ValueError when the checkpoint and the scheduler disagree."""
    if (scheduler is None) != ("meta/scheduler" not in arrays):
        raise ValueError(
            "the checkpoint has a learning-rate schedule and this run none, or the other way round"
        )
    model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model/")})
    state: dict[int, dict[str, Any]] = {}
    defaults: dict[str, Any] = {}
    for k, v in arrays.items():
        parts = k.split("/")
        if parts[:2] == ["optim", "state"]:
            state.setdefault(int(parts[2]), {})[parts[3]] = v if v.ndim else v.item()
        elif parts[:2] == ["optim", "defaults"]:
            defaults[parts[2]] = tuple(v.tolist()) if v.ndim else v.item()
    if "optim/param_groups" in arrays:
        groups = json.loads(str(arrays["optim/param_groups"]))
    else:  # written before parameter groups: one group of every parameter
        count = sum(len(g["params"]) for g in opt.param_groups)
        groups = [{**opt.defaults, **defaults, "params": list(range(count))}]
    opt.load_state_dict({"state": state, "param_groups": groups})
    if scheduler is not None:
        scheduler.load_state_dict(json.loads(str(arrays["meta/scheduler"])))
    return int(arrays["meta/epoch"]), json.loads(str(arrays["meta/history"]))


def load_checkpoint(path: str, model: nn.Module, opt: optim.Optimizer) -> tuple[int, list]:
    """Load a checkpoint into ``model`` and ``opt``; returns (epochs completed, history)."""
    return restore(read_checkpoint(path), model, opt)
