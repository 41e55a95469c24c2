"""``train --monitor`` and ``train --lr-find`` on the digits."""

import json

import numpy as np
import pytest

from tinygrad_cnn.cli import main

pytest.importorskip("matplotlib")


def test_monitor_writes_health_files_and_a_healthy_run_prints_no_finding(tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", "--epochs", "2", "--monitor", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "health: no problem found" in printed and "health.png, health.json" in printed
    saved = json.loads((out / "health.json").read_text())
    assert saved["findings"] == [] and saved["epoch_ends"] == [45, 90]
    assert len(saved["steps"]) == 90 and set(saved["layers"]) >= {"0", "1", "3", "4", "7"}
    assert (out / "health.png").read_bytes()[:4] == b"\x89PNG"


def test_monitor_prints_each_new_finding_once(tmp_path, capsys):
    main(["train", "--epochs", "1", "--lr", "1e-7", "--monitor", "--out", str(tmp_path)])
    lines = [s for s in capsys.readouterr().out.splitlines() if s.startswith("health:")]
    assert len(lines) == len(set(lines)) and any("updates too small" in s for s in lines)
    assert json.loads((tmp_path / "health.json").read_text())["findings"]


def test_lr_find_writes_its_plot_prints_a_rate_and_trains_nothing(tmp_path, capsys):
    main(["train", "--lr-find", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    rate = float(printed.split("suggested learning rate: ")[1].split()[0])
    assert 1e-6 < rate < 10 and "2/lambda" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr_find.png"]
    assert np.isfinite(rate)


def test_an_interrupted_monitored_run_still_writes_what_the_monitor_saw(tmp_path, monkeypatch):
    from tinygrad_cnn.cli import health

    calls = [0]
    real = health.Watch.on_epoch

    def on_epoch(self, record):  # Ctrl-C at the end of the second epoch
        calls[0] += 1
        real(self, record)
        if calls[0] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(health.Watch, "on_epoch", on_epoch)
    with pytest.raises(SystemExit) as e:
        main(["train", "--epochs", "3", "--monitor", "--out", str(tmp_path)])
    assert e.value.code == 130
    saved = json.loads((tmp_path / "health.json").read_text())
    assert saved["epoch_ends"] == [45, 90] and len(saved["steps"]) == 90
