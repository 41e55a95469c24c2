"""The train command's loop (cli.train.train, on the library's fit) and the train and graph
commands: outputs, determinism, resume, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.cli.mistakes import user_mistake
from tinygrad_cnn import data, nn, optim
from tinygrad_cnn import manual_seed as tg_seed
from tinygrad_cnn.cli import main
from tinygrad_cnn.cli.checkpoint import load_checkpoint
from tinygrad_cnn.cli.train import Interrupted, train
from tinygrad_cnn.models import default_model

pytest.importorskip("sklearn")


def run(tmp_path, *extra):
    out = str(tmp_path)
    assert main(["train", "--epochs", "2", "--out", out, *extra]) == 0
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def test_train_writes_every_output(tmp_path):
    m = run(tmp_path)
    for key in ("test_accuracy", "train_accuracy", "epochs", "train_seconds", "history"):
        assert key in m
    assert m["epochs"] == 2 and len(m["history"]) == 2 and m["test_accuracy"] > 0.8
    names = sorted(os.listdir(tmp_path))
    assert {"model.npz", "metrics.json", "checkpoint.npz", "curves.png"} <= set(names)
    assert "graph.svg" in names or "graph.dot" in names
    model = default_model((1, 8, 8), 10).load(tmp_path / "model.npz")
    assert isinstance(model, nn.Sequential)


def test_train_is_deterministic_for_a_seed(tmp_path):
    a = run(tmp_path / "a", "--seed", "3")
    b = run(tmp_path / "b", "--seed", "3")
    for ha, hb in zip(a["history"], b["history"]):
        assert ha["loss"] == hb["loss"] and ha["test_accuracy"] == hb["test_accuracy"]
    wa = np.load(tmp_path / "a" / "model.npz")
    wb = np.load(tmp_path / "b" / "model.npz")
    assert all(np.array_equal(wa[k], wb[k]) for k in wa.files)


def test_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
    straight = run(tmp_path / "straight", "--epochs", "3", "--optimizer", "adam")
    run(tmp_path / "split", "--epochs", "1", "--optimizer", "adam")
    ckpt = str(tmp_path / "split" / "checkpoint.npz")
    resumed = run(tmp_path / "split", "--epochs", "3", "--optimizer", "adam", "--resume", ckpt)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in straight["history"]]
    wa = np.load(tmp_path / "straight" / "model.npz")
    wb = np.load(tmp_path / "split" / "model.npz")
    assert all(np.array_equal(wa[k], wb[k]) for k in wa.files)


def test_resume_cannot_go_back_to_fewer_epochs(tmp_path, capsys):
    run(tmp_path, "--epochs", "2")
    ckpt = str(tmp_path / "checkpoint.npz")
    argv = ["train", "--epochs", "1", "--resume", ckpt, "--out", str(tmp_path)]
    user_mistake(capsys, argv, "already trained 2 epochs; pass --epochs 2 or more")


def test_model_npz_is_not_a_checkpoint(tmp_path, capsys):
    run(tmp_path, "--epochs", "1")
    argv = ["train", "--resume", str(tmp_path / "model.npz"), "--out", str(tmp_path / "o")]
    user_mistake(capsys, argv, "model.npz: not a training checkpoint")


def test_ctrl_c_keeps_a_checkpoint_and_exits_130(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "tinygrad_cnn", "train", "--epochs", "500", "--out", str(tmp_path)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    for line in proc.stdout:  # wait until two epochs are done, then press Ctrl-C
        if line.startswith("epoch   2/"):
            proc.send_signal(signal.SIGINT)
            break
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130
    assert "interrupted" in out and f"--resume {tmp_path / 'checkpoint.npz'}" in out
    model = default_model((1, 8, 8), 10)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    epoch, history = load_checkpoint(str(tmp_path / "checkpoint.npz"), model, opt)
    # the signal may land while epoch 2's checkpoint is being written: then epoch 1's stays
    assert epoch >= 1 and len(history) == epoch
    assert f"holds the state after epoch {epoch}" in out


def test_graph_command(tmp_path):
    assert main(["graph", "--out", str(tmp_path)]) == 0
    files = os.listdir(tmp_path)
    assert "graph.svg" in files or "graph.dot" in files


def test_default_model_is_sized_for_the_input():
    assert default_model((1, 28, 28), 10)[-1].in_features == 16 * 7 * 7
    with pytest.raises(ValueError, match="too small"):
        default_model((1, 3, 3), 10)


def test_train_on_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for stem, n in (("train", 8), ("t10k", 4)):
        data.write_idx(
            folder / f"{stem}-images-idx3-ubyte.gz",
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        )
        data.write_idx(
            folder / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8)
        )
    m = run(tmp_path / "out", "--dataset", "mnist", "--data", str(folder), "--batch-size", "4")
    assert m["dataset"] == "mnist" and len(m["history"]) == 2


def test_mnist_without_its_folder_is_a_user_mistake(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(tmp_path / "cache"))
    argv = ["train", "--dataset", "mnist", "--out", str(tmp_path)]
    user_mistake(capsys, argv, "cache/mnist is not a directory; pass download=True \\(--download")
    argv = ["train", "--dataset", "mnist", "--data", str(tmp_path / "none"), "--out", str(tmp_path)]
    user_mistake(capsys, argv, "is not a directory")


def test_the_commands_loop_resumes_exactly(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 3, 40)
    ds = data.Dataset(x[:32], y[:32], x[32:], y[32:])

    def model_and_opt():
        tg_seed(0)
        model = default_model((1, 8, 8), 3)
        return model, optim.Adam(model.parameters(), lr=1e-3)

    model, opt = model_and_opt()
    straight = train(model, opt, ds, 3, batch_size=8, seed=1)
    assert [h["epoch"] for h in straight] == [1, 2, 3]

    ckpt = str(tmp_path / "ckpt.npz")
    model2, opt2 = model_and_opt()
    train(model2, opt2, ds, 1, batch_size=8, seed=1, checkpoint=ckpt)
    model3, opt3 = model_and_opt()
    start, history = load_checkpoint(ckpt, model3, opt3)
    resumed = train(model3, opt3, ds, 3, batch_size=8, seed=1, start_epoch=start, history=history)
    assert [h["loss"] for h in resumed] == [h["loss"] for h in straight]
    for (k, a), (_, b) in zip(model.state_dict().items(), model3.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)


def test_the_commands_loop_refuses_bad_arguments_and_names_the_saved_epoch(tmp_path, monkeypatch):
    ds = data.Dataset(*(np.zeros((4, 1, 8, 8), np.float32), np.zeros(4, np.int64)) * 2)
    model = default_model((1, 8, 8), 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="train: epochs must be a positive int, got 0"):
        train(model, opt, ds, 0)
    with pytest.raises(ValueError, match="train: batch_size must be a positive int, got 0"):
        train(model, opt, ds, 1, batch_size=0)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(opt, "step", interrupt)
    with pytest.raises(Interrupted) as e:
        train(model, opt, ds, 2, checkpoint=str(tmp_path / "c.npz"))
    assert e.value.epoch == 0 and isinstance(e.value, KeyboardInterrupt)
