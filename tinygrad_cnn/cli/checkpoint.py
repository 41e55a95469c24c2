"""The training checkpoint: model, optimizer state and progress in one ``.npz`` (no pickles).

Keys: ``model/<parameter name>``, ``optim/state/<index>/<name>``, ``optim/defaults/<name>``,
``meta/epoch`` (epochs completed) and ``meta/history`` (the per-epoch metrics, as JSON).
Written atomically (:func:`tinygrad_cnn.nn.save_npz`), so an interrupted write keeps the old one.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tinygrad_cnn import nn, optim


def save_checkpoint(
    path: str, model: nn.Module, opt: optim.Optimizer, epoch: int, history: list[dict]
) -> None:
    """Write the state after ``epoch`` completed epochs to ``path``."""
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
    """Load a checkpoint into ``model`` and ``opt``; returns (epochs completed, history)."""
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
