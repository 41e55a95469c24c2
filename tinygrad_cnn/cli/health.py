"""``train --monitor`` and ``train --lr-find``: the training health monitor and the learning-rate
range test of :mod:`tinygrad_cnn.monitor`, as the command runs them."""

from __future__ import annotations

import os

from tinygrad_cnn import data, nn, optim
from tinygrad_cnn import functional as F
from tinygrad_cnn.monitor import Monitor, lr_find
from tinygrad_cnn.training import epoch_loader


class Watch:
    """A :class:`~tinygrad_cnn.monitor.Monitor` on the model while ``train`` runs: each epoch ends
    its window and prints each finding the first time it appears (``health: ...``)."""

    def __init__(self, model: nn.Module) -> None:
        self.monitor = Monitor(model)
        self.shown: set[tuple[str, str]] = set()

    def on_step(self, record: dict) -> None:
        self.monitor.log_loss(record["batch_loss"])

    def on_epoch(self, record: dict) -> None:
        self.monitor.end_epoch()
        for finding in self.monitor.report():
            if (finding.kind, finding.layer) not in self.shown:
                self.shown.add((finding.kind, finding.layer))
                print(f"health: {finding}")

    def write(self, out: str) -> list[str]:
        """health.png (when matplotlib is there) and health.json in ``out``; takes the hooks off.
        Returns the names written."""
        self.monitor.remove()
        if not self.monitor.steps:
            return []
        written = [os.path.basename(self.monitor.save(os.path.join(out, "health.json")))]
        try:
            self.monitor.plot(os.path.join(out, "health.png"))
        except ImportError:
            print(
                "note: matplotlib is missing, so health.png was not drawn (pip install matplotlib)"
            )
        else:
            written.insert(0, "health.png")
        if not self.shown:
            print("health: no problem found (thresholds: tinygrad_cnn.monitor.Thresholds)")
        return written


def run_lr_find(model: nn.Module, opt: optim.Optimizer, ds: data.Dataset, config: dict,
                out: str) -> dict:  # fmt: skip
    """The range test on the training split's first epoch of batches; writes lr_find.png and
    prints the suggested rate. The model and optimizer are left as they were."""
    loader = epoch_loader(ds.train, config["batch_size"], config["seed"], 1)
    result = lr_find(model, F.cross_entropy, loader, opt)
    os.makedirs(out, exist_ok=True)
    try:
        path = result.plot(os.path.join(out, "lr_find.png"))
    except ImportError:
        path = None
        print("note: matplotlib is missing, so lr_find.png was not drawn (pip install matplotlib)")
    if result.suggestion is None:
        print("lr_find: the loss did not fall over the sweep, so there is no suggestion")
    else:
        print(
            f"suggested learning rate: {result.suggestion:.3g} (the smaller of "
            f"{result.steepest:.3g}, where the loss falls fastest, and a tenth of "
            f"{result.lowest:.3g}, where it is lowest)"
        )
    limit = result.stability_limit
    if limit is not None:
        print(f"sharpness at the start: {result.sharpness:.4g}, so plain gradient descent is "
              f"unstable above 2/lambda = {limit:.3g}")  # fmt: skip
    if path:
        print(f"wrote {path}")
    return {"lr_find": {"suggestion": result.suggestion, "steepest": result.steepest,
                        "lowest": result.lowest, "sharpness": result.sharpness,
                        "lrs": result.lrs, "losses": result.losses}}  # fmt: skip
