"""The explain command: four pictures from a trained model; user mistakes are one line, exit 2."""

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import explain
from tinygrad_cnn.cli import main
from tinygrad_cnn.models import default_model

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def test_explain_writes_the_four_pictures(tmp_path):
    assert main(["train", "--epochs", "1", "--out", str(tmp_path)]) == 0
    out = tmp_path / "explain"
    main(["explain", "--model", str(tmp_path / "model.npz"), "--out", str(out), "--count", "3"])
    for name in ("filters", "feature_maps", "saliency", "gradcam"):
        png = (out / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000, name


def test_explain_draws_any_cnn_finding_its_layers(tmp_path, capsys):
    # LeNet-5 and the ResNet (whose convolutions sit in blocks): layers found from the model
    for model in ("lenet5", "resnet"):
        run = tmp_path / model
        assert main(["train", "--epochs", "1", "--model", model, "--out", str(run)]) == 0
        out = run / "explain"
        main(["explain", "--model", str(run / "model.npz"), "--out", str(out), "--count", "2"])
        for name in ("filters", "feature_maps", "saliency", "gradcam"):
            assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG", (model, name)
    argv = ["explain", "--model", str(tmp_path / "resnet" / "model.npz"), "--out", str(out)]
    main([*argv, "--count", "1", "--layer", "layer1.0.conv1", "--maps", "conv1"])
    with pytest.raises(SystemExit) as e:
        main([*argv, "--layer", "nonsense"])
    err = capsys.readouterr().err
    assert (
        e.value.code == 2 and "--layer nonsense: no such layer; the convolutions are conv1" in err
    )


def test_grad_cam_defaults_to_the_last_convolution_and_takes_a_name():
    tg.manual_seed(0)
    model = default_model((1, 8, 8), 10)
    x = np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32)
    last_name, last = explain.conv_layers(model)[-1]
    by_default = explain.grad_cam(model, x=x)
    np.testing.assert_array_equal(by_default, explain.grad_cam(model, last, x))
    np.testing.assert_array_equal(by_default, explain.grad_cam(model, last_name, x))
    with pytest.raises(ValueError, match="grad_cam: no layer named 'nope'"):
        explain.grad_cam(model, "nope", x)


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
