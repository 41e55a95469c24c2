"""The train command with the model zoo, schedules, augmentation and the downloadable datasets."""

import json
import os

import numpy as np
import pytest

from tests.cli.mistakes import user_mistake
from tests.fakedata import Server, cifar10_tar, md5, mnist_files
from tinygrad_cnn import data
from tinygrad_cnn.cli import main
from tinygrad_cnn.cli.checkpoint import read_checkpoint
from tinygrad_cnn.data import download
from tinygrad_cnn.optim import lr_scheduler

pytest.importorskip("sklearn")


def run(out, *extra):
    assert main(["train", "--out", str(out), *extra]) == 0
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def test_lenet5_adamw_step_schedule_and_augmentation(tmp_path):
    m = run(
        tmp_path,
        "--model",
        "lenet5",
        "--optimizer",
        "adamw",
        "--weight-decay",
        "0.001",
        "--scheduler",
        "step",
        "--augment",
        "--epochs",
        "2",
        "--batch-size",
        "64",
    )
    assert (m["model"], m["optimizer"], m["scheduler"], m["augment"]) == (
        "lenet5",
        "adamw",
        "step",
        True,
    )
    assert m["weight_decay"] == 0.001 and len(m["history"]) == 2
    ckpt = read_checkpoint(str(tmp_path / "checkpoint.npz"))
    schedule = json.loads(str(ckpt["meta/scheduler"]))
    assert schedule["last_epoch"] == 2 and schedule["step_size"] == 1
    (group,) = json.loads(str(ckpt["optim/param_groups"]))
    assert group["lr"] == pytest.approx(1e-3 * 0.1**2) and group["initial_lr"] == 1e-3
    assert group["weight_decay"] == 0.001 and group["decoupled_weight_decay"] is True
    assert "model/7.weight" in ckpt  # LeNet-5's first fully connected layer


def test_adamw_defaults_to_pytorchs_weight_decay(tmp_path):
    m = run(tmp_path, "--optimizer", "adamw", "--epochs", "1")
    assert m["weight_decay"] == 0.01 and m["lr"] == 0.001


def test_an_interrupted_resnet_run_resumes_bit_identically(tmp_path, monkeypatch):
    flags = [
        "--model",
        "resnet",
        "--scheduler",
        "cosine",
        "--augment",
        "--epochs",
        "3",
        "--batch-size",
        "128",
        "--optimizer",
        "adam",
    ]
    straight = run(tmp_path / "straight", *flags)

    calls = []
    original = lr_scheduler.CosineAnnealingLR.step

    def step_then_stop(self):
        calls.append(1)
        if len(calls) == 3:  # 1: made; 2: after epoch 1; 3: after epoch 2, before its checkpoint
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(lr_scheduler.CosineAnnealingLR, "step", step_then_stop)
    with pytest.raises(SystemExit) as e:
        main(["train", "--out", str(tmp_path / "split"), *flags])
    assert e.value.code == 130
    monkeypatch.setattr(lr_scheduler.CosineAnnealingLR, "step", original)
    ckpt = str(tmp_path / "split" / "checkpoint.npz")
    assert int(read_checkpoint(ckpt)["meta/epoch"]) == 1
    resumed = run(tmp_path / "split", "--resume", ckpt)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in straight["history"]]
    a, b = np.load(tmp_path / "straight" / "model.npz"), np.load(tmp_path / "split" / "model.npz")
    assert "bn1.running_var" in a.files and "layer2.0.downsample.1.num_batches_tracked" in a.files
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_a_different_schedule_on_resume_is_refused(tmp_path, capsys):
    run(tmp_path, "--scheduler", "step", "--epochs", "1")
    ckpt = str(tmp_path / "checkpoint.npz")
    argv = [
        "train",
        "--out",
        str(tmp_path),
        "--resume",
        ckpt,
        "--epochs",
        "2",
        "--scheduler",
        "cosine",
    ]
    user_mistake(capsys, argv, "--scheduler cosine conflicts with the checkpoint")


def _write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (folder / name).write_bytes(blob)


def test_fashion_mnist_and_cifar10_from_their_folders(tmp_path):
    files, _ = mnist_files(n_train=16, n_test=8)
    _write(tmp_path / "fashion", files)
    m = run(
        tmp_path / "f",
        "--dataset",
        "fashion-mnist",
        "--data",
        str(tmp_path / "fashion"),
        "--model",
        "lenet5",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--augment",
    )
    assert m["dataset"] == "fashion-mnist"
    blob, _, _ = cifar10_tar(per_batch=4)
    _write(tmp_path / "cifar", {"cifar-10-binary.tar.gz": blob})
    m = run(
        tmp_path / "c",
        "--dataset",
        "cifar10",
        "--data",
        str(tmp_path / "cifar"),
        "--model",
        "resnet",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--augment",
    )
    assert m["dataset"] == "cifar10" and m["model"] == "resnet"


def test_download_fetches_from_the_mirror(tmp_path, monkeypatch):
    files, _ = mnist_files(n_train=16, n_test=8)
    with Server(files) as server:
        monkeypatch.setitem(
            data.RESOURCES, "mnist", ([server.url("down")], {k: md5(v) for k, v in files.items()})
        )
        monkeypatch.setenv(download.MIRROR_ENV, server.url("ok"))
        monkeypatch.setenv(download.DATA_ENV, str(tmp_path / "cache"))
        m = run(
            tmp_path / "out",
            "--dataset",
            "mnist",
            "--download",
            "--epochs",
            "1",
            "--batch-size",
            "8",
        )
    assert m["dataset"] == "mnist"
    assert sorted(os.listdir(tmp_path / "cache" / "mnist")) == sorted(files)
    assert {mode for mode, _, _ in server.log} == {"ok"}


def download_argv(tmp_path, *extra):
    out = ["--data", str(tmp_path / "d"), "--out", str(tmp_path / "out"), *extra]
    return ["train", "--dataset", "mnist", "--download", *out]


def test_a_failed_download_is_one_error_and_exit_status_1(tmp_path, monkeypatch, capsys):
    files, _ = mnist_files()
    with Server(files) as server:
        monkeypatch.setitem(
            data.RESOURCES, "mnist", ([server.url("down")], {k: md5(v) for k, v in files.items()})
        )
        monkeypatch.setenv(download.MIRROR_ENV, server.url("corrupt"))
        with pytest.raises(SystemExit) as e:
            main(download_argv(tmp_path))
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.startswith("tinygrad-cnn train: error: could not download")
    assert "checksum mismatch" in err and "HTTP 503" in err


def test_ctrl_c_during_a_download_keeps_the_part_and_the_next_run_continues(
    tmp_path, monkeypatch, capsys
):
    files, _ = mnist_files(n_train=16, n_test=8)
    name = "train-images-idx3-ubyte.gz"
    with Server(files) as server:
        sources = ([server.url("down")], {k: md5(v) for k, v in files.items()})
        monkeypatch.setitem(data.RESOURCES, "mnist", sources)
        monkeypatch.setenv(download.MIRROR_ENV, server.url("ok"))
        monkeypatch.setattr(download, "CHUNK", 100)
        written = []
        real_open = open

        def interrupting_open(path, mode="r", *args, **kwargs):
            f = real_open(path, mode, *args, **kwargs)
            if str(path).endswith(".part") and not written:
                written.append(path)
                real_write = f.write

                def write(block):
                    real_write(block)
                    if f.tell() >= 300:
                        raise KeyboardInterrupt
                    return len(block)

                f.write = write
            return f

        monkeypatch.setattr("builtins.open", interrupting_open)
        argv = download_argv(tmp_path, "--epochs", "1", "--batch-size", "8")
        with pytest.raises(SystemExit) as e:
            main(argv)
        monkeypatch.setattr("builtins.open", real_open)
        assert e.value.code == 130 and "partial download is kept" in capsys.readouterr().out
        part = tmp_path / "d" / (name + ".part")
        assert part.stat().st_size >= 300 and not (tmp_path / "d" / name).exists()
        assert main(argv) == 0
        assert any(
            m == "ok" and n == name and r and r.startswith("bytes=") for m, n, r in server.log
        )
    assert (tmp_path / "d" / name).read_bytes() == files[name]


@pytest.mark.parametrize(
    "flags, pattern",
    [
        (["--dataset", "cifar10"], "not found; pass download=True \\(--download"),
        (["--dataset", "fashion-mnist"], "--download"),
        (["--weight-decay", "-1"], "--weight-decay must be a finite number >= 0"),
        (["--weight-decay", "nan"], "--weight-decay"),
    ],
)
def test_user_mistakes(tmp_path, capsys, monkeypatch, flags, pattern):
    monkeypatch.setenv(download.DATA_ENV, str(tmp_path / "empty-cache"))
    user_mistake(capsys, ["train", "--out", str(tmp_path / "out"), *flags], pattern)
