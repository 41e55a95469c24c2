"""The explain command: four pictures from a trained model; user mistakes are one line, exit 2."""

import subprocess
import sys

import pytest

from tinygrad_cnn.cli import main

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def test_explain_writes_the_four_pictures(tmp_path):
    assert main(["train", "--epochs", "1", "--out", str(tmp_path)]) == 0
    out = tmp_path / "explain"
    main(["explain", "--model", str(tmp_path / "model.npz"), "--out", str(out), "--count", "3"])
    for name in ("filters", "feature_maps", "saliency", "gradcam"):
        png = (out / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000, name


def test_explain_draws_lenet5_and_refuses_the_resnet(tmp_path, capsys):
    assert main(["train", "--epochs", "1", "--model", "lenet5", "--out", str(tmp_path)]) == 0
    out = tmp_path / "explain"
    main(["explain", "--model", str(tmp_path / "model.npz"), "--out", str(out), "--count", "2"])
    assert (out / "gradcam.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["train", "--epochs", "1", "--model", "resnet", "--out", str(tmp_path / "r")]) == 0
    with pytest.raises(SystemExit) as e:
        main(["explain", "--model", str(tmp_path / "r" / "model.npz"), "--out", str(out)])
    assert e.value.code == 2 and "not --model resnet" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "missing.npz"], "--model missing.npz: checkpoint not found"),
        (["--model", "x.npz", "--count", "0"], "--count must be between 1 and 64, got 0"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(tmp_path, args, message):
    cmd = [sys.executable, "-m", "tinygrad_cnn", "explain", *args, "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert done.stderr.startswith("tinygrad-cnn explain: error:")
