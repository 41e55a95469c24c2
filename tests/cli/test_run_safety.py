"""What a training run at stake may count on: no lost checkpoint, no silently ignored flag, no
NaN run that exits 0, no hang, clear one-line errors, and interrupts that resume bit-identically."""

import json
import os
import re
import threading

import numpy as np
import pytest

from tests.cli.mistakes import user_mistake
from tinygrad_cnn import nn
from tinygrad_cnn.cli import main, train
from tinygrad_cnn.ops import workspace

pytest.importorskip("sklearn")


def train_cli(out, *extra):
    return main(["train", "--epochs", "2", "--out", str(out), *extra])


def metrics(out):
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def same_files(a, b, name="model.npz"):
    wa, wb = np.load(os.path.join(a, name)), np.load(os.path.join(b, name))
    return wa.files == wb.files and all(np.array_equal(wa[k], wb[k]) for k in wa.files)


def test_a_folder_with_a_checkpoint_is_never_started_over_silently(tmp_path, capsys):
    train_cli(tmp_path, "--epochs", "1")
    before = (tmp_path / "checkpoint.npz").read_bytes()
    user_mistake(
        capsys, ["train", "--out", str(tmp_path)], r"--resume .*checkpoint.npz.*--overwrite"
    )
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    other = tmp_path / "other"
    train_cli(other, "--epochs", "1", "--seed", "5")  # resuming another run into this folder
    argv = ["train", "--resume", str(other / "checkpoint.npz"), "--out", str(tmp_path)]
    user_mistake(capsys, argv, "--overwrite")
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    assert train_cli(tmp_path, "--epochs", "1", "--overwrite", "--seed", "5") == 0
    assert same_files(tmp_path, other)


def test_temporary_files_of_a_killed_writer_are_removed_by_the_next_run(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    dead = tmp_path / ".tmp-999999999-abc.npz"  # no such process
    legacy = tmp_path / ".tmp-k2j3h4.npz"  # the name older versions used
    alive = tmp_path / f".tmp-{os.getppid()}-def.npz"  # a writer that still runs
    for f in (dead, legacy, alive):
        f.write_bytes(b"partial")
    train_cli(tmp_path, "--epochs", "1")
    left = sorted(f for f in os.listdir(tmp_path) if f.startswith(".tmp-"))
    assert left == [alive.name]


def test_resuming_a_finished_run_writes_its_outputs(tmp_path, capsys):
    train_cli(tmp_path / "a")
    for name in ("model.npz", "metrics.json", "curves.png"):
        os.remove(tmp_path / "a" / name)
    ckpt = str(tmp_path / "a" / "checkpoint.npz")
    assert main(["train", "--resume", ckpt, "--out", str(tmp_path / "a")]) == 0
    train_cli(tmp_path / "b")
    assert same_files(tmp_path / "a", tmp_path / "b")
    ma, mb = metrics(tmp_path / "a"), metrics(tmp_path / "b")
    assert [h["loss"] for h in ma["history"]] == [h["loss"] for h in mb["history"]]
    assert ma["test_accuracy"] == mb["test_accuracy"]


@pytest.mark.parametrize(
    "flags, pattern",
    [
        (["--optimizer", "sgd"], "--optimizer sgd conflicts with the checkpoint.*--optimizer adam"),
        (["--lr", "0.5"], "--lr 0.5 conflicts .* --lr 0.002"),
        (["--batch-size", "8"], "--batch-size 8 conflicts .* --batch-size 32"),
        (["--seed", "1"], "--seed 1 conflicts"),
    ],
)
def test_a_flag_that_contradicts_the_checkpoint_is_refused(tmp_path, capsys, flags, pattern):
    train_cli(tmp_path, "--epochs", "1", "--optimizer", "adam", "--lr", "0.002")
    argv = ["train", "--resume", str(tmp_path / "checkpoint.npz"), "--out", str(tmp_path)]
    user_mistake(capsys, argv + flags, pattern)


def test_resume_continues_with_the_checkpoints_settings_and_records_them(tmp_path):
    train_cli(tmp_path / "straight", "--epochs", "3", "--optimizer", "adam", "--lr", "0.002")
    train_cli(tmp_path / "split", "--epochs", "1", "--optimizer", "adam", "--lr", "0.002")
    ckpt = str(tmp_path / "split" / "checkpoint.npz")
    flags = ["--resume", ckpt, "--out", str(tmp_path / "split"), "--epochs", "3"]
    assert main(["train", *flags, "--optimizer", "adam"]) == 0  # agreeing flags are fine
    m = metrics(tmp_path / "split")
    assert (m["optimizer"], m["lr"], m["epochs"]) == ("adam", 0.002, 3)
    assert same_files(tmp_path / "split", tmp_path / "straight")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_checkpoint_from_before_parameter_groups_resumes(tmp_path, optimizer):
    # written with optim/defaults/<name> (one group) and no meta/config, as older versions did
    train_cli(tmp_path, "--epochs", "1", "--optimizer", optimizer)
    arrays = dict(np.load(tmp_path / "checkpoint.npz"))
    (group,) = json.loads(str(arrays.pop("optim/param_groups")))
    old_names = ["lr", "momentum", "dampening", "weight_decay", "nesterov", "betas", "eps"]
    for k in old_names:
        if k in group:
            arrays[f"optim/defaults/{k}"] = np.asarray(group[k])
    del arrays["meta/config"]
    nn.save_npz(tmp_path / "old.npz", arrays)
    flags = ["--resume", str(tmp_path / "old.npz"), "--out", str(tmp_path / "o"), "--epochs", "2"]
    assert main(["train", *flags]) == 0
    m = metrics(tmp_path / "o")
    assert m["optimizer"] == optimizer and len(m["history"]) == 2


def test_a_checkpoint_without_stored_settings_resumes_with_its_optimizer(tmp_path):
    train_cli(tmp_path, "--epochs", "1", "--optimizer", "adam")
    arrays = dict(np.load(tmp_path / "checkpoint.npz"))
    del arrays["meta/config"]  # as written before the settings were stored
    nn.save_npz(tmp_path / "old.npz", arrays)
    flags = ["--resume", str(tmp_path / "old.npz"), "--out", str(tmp_path / "o"), "--epochs", "2"]
    assert main(["train", *flags]) == 0
    assert (metrics(tmp_path / "o")["optimizer"], metrics(tmp_path / "o")["lr"]) == ("adam", 1e-3)


def test_a_loss_that_becomes_nan_stops_the_run_with_status_1_and_one_line(tmp_path, capsys):
    # no RuntimeWarning escapes (the suite turns them into errors), and stderr has one line
    with pytest.raises(SystemExit) as e:
        train_cli(tmp_path, "--lr", "1e6")
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert e.value.code == 1
    assert re.search(r"the loss became (nan|inf) at epoch 1, step \d+", err), err
    assert not os.path.exists(tmp_path / "metrics.json")


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (["train", "--lr", "-1"], "--lr must be a finite number > 0, got -1"),
        (["train", "--lr", "nan"], "--lr must be a finite number > 0, got nan"),
        (["train", "--lr", "inf"], "--lr must be a finite number"),
        (["train", "--seed", "-1"], "--seed must be .* >= 0, got -1"),
        (["train", "--epochs", "0"], "--epochs must be .* >= 1, got 0"),
        (["train", "--batch-size", "0"], "--batch-size must be .* >= 1, got 0"),
        (["train", "--resume", "missing.npz"], "--resume missing.npz: checkpoint not found"),
        (["train", "--resume", "."], r"--resume \.: .* is a folder"),
        (["bench", "--repeat", "0"], "--repeat must be .* >= 1, got 0"),
        (["graph", "--seed", "-2"], "--seed must be"),
    ],
)
def test_user_mistakes_are_one_line_and_status_2(tmp_path, capsys, monkeypatch, argv, pattern):
    monkeypatch.chdir(tmp_path)
    user_mistake(
        capsys, [*argv, "--out", str(tmp_path / "o")] if argv[0] != "bench" else argv, pattern
    )
    assert not os.path.exists(tmp_path / "o" / "checkpoint.npz")


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="--lr must be"):
        main(["train", "--lr", "-1", "--out", str(tmp_path), "--debug"])


@pytest.mark.parametrize("damage", ["truncate", "flip", "npy", "empty"])
def test_a_damaged_checkpoint_is_named_in_one_line(tmp_path, capsys, damage):
    train_cli(tmp_path / "a", "--epochs", "1")
    good = (tmp_path / "a" / "checkpoint.npz").read_bytes()
    bad = tmp_path / "bad.npz"
    if damage == "truncate":
        bad.write_bytes(good[: len(good) // 2])
    elif damage == "flip":
        flipped = bytearray(good)
        flipped[len(good) // 3] ^= 0xFF
        bad.write_bytes(bytes(flipped))
    elif damage == "npy":
        np.save(tmp_path / "bad.npy", np.ones(3))
        os.replace(tmp_path / "bad.npy", bad)
    else:
        bad.write_bytes(b"")
    user_mistake(
        capsys,
        ["train", "--resume", str(bad), "--out", str(tmp_path / "o")],
        f"--resume {bad}: .*{bad}",
    )


# -- interrupts at the risky points, then a resume that ends bit-identically --------------------


def interrupt_on_call(n, real):
    """A stand-in for ``real`` that raises KeyboardInterrupt on its n-th call (1-based)."""
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return wrapper


def half_written_savez(n):
    """np.savez that, on its n-th call, writes half an archive and is then interrupted."""
    real, calls = np.savez, [0]

    def savez(file, *args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            file.write(b"PK\x03\x04 half an archive")
            raise KeyboardInterrupt
        return real(file, *args, **kwargs)

    return savez


def interrupted_then_resumed(tmp_path, monkeypatch, inject):
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        inject(m)
        with pytest.raises(SystemExit) as e:
            train_cli(out, "--epochs", "3")
    assert e.value.code == 130
    assert not [f for f in os.listdir(out) if f.startswith(".tmp-")]
    if os.path.exists(out / "checkpoint.npz"):
        assert main(["train", "--resume", str(out / "checkpoint.npz"), "--out", str(out)]) == 0
    else:  # interrupted while the first checkpoint was written: nothing to resume
        assert train_cli(out, "--epochs", "3") == 0
    train_cli(tmp_path / "straight", "--epochs", "3")
    assert same_files(out, tmp_path / "straight")
    assert (
        metrics(out)["history"][-1]["loss"] == metrics(tmp_path / "straight")["history"][-1]["loss"]
    )


@pytest.mark.parametrize("n", [1, 3])
def test_interrupt_during_a_checkpoint_write(tmp_path, monkeypatch, n):
    interrupted_then_resumed(
        tmp_path, monkeypatch, lambda m: m.setattr(np, "savez", half_written_savez(n))
    )


def test_interrupt_during_the_final_writes(tmp_path, monkeypatch):
    def inject(m):
        m.setattr(train, "write_curves", interrupt_on_call(1, train.write_curves))

    interrupted_then_resumed(tmp_path, monkeypatch, inject)


def test_interrupt_as_a_copy_thread_starts(tmp_path, monkeypatch):
    def start_then_interrupt(self, _start=threading.Thread.start):
        _start(self)
        raise KeyboardInterrupt

    def inject(m):
        m.setattr(threading.Thread, "start", start_then_interrupt)

    with workspace.threads(len(workspace._workers) + 2, 0):  # new copy threads are needed
        interrupted_then_resumed(tmp_path, monkeypatch, inject)
