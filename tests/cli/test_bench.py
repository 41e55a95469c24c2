"""The bench command runs the benchmark code in benchmarks/, from the source checkout."""

import runpy
import subprocess
import sys

import pytest

from tinygrad_cnn.cli import BENCH_FILE, main


def test_bench_command_runs(capsys):
    assert main(["bench", "--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "roof" in out and "LeNet training step" in out and "faster" in out


def test_the_benchmark_file_runs_on_its_own(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(BENCH_FILE), "--quick", "--repeat", "1"])
    runpy.run_path(str(BENCH_FILE), run_name="__main__")
    assert "LeNet training step" in capsys.readouterr().out


def _op_methods():
    from tinygrad_cnn import REGISTRY

    return {
        name: (op.__dict__.get("forward"), op.__dict__.get("vjp")) for name, op in REGISTRY.items()
    }


def test_op_times_reports_the_ops_of_a_step_and_restores_them(capsys):
    before = _op_methods()
    op_times = runpy.run_path(str(BENCH_FILE.parent / "op_times.py"))
    assert (
        op_times["main"](["--model", "lenet", "--steps", "1", "--rounds", "1", "--top", "3"]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("lenet step: ") and "in ops" in out[0]
    rows = [line.split()[0] for line in out[2:]]
    assert len(rows) == 3 and rows[0] in {"conv2d.vjp", "conv2d.forward"}  # convolutions lead
    assert _op_methods() == before  # the timers are gone


def test_conv_instructions_workload_runs_each_kernel_and_refuses_an_unknown_case(capsys):
    script = runpy.run_path(str(BENCH_FILE.parent / "conv_instructions.py"))
    case = repr(script["CONV_WORKLOADS"][4])  # the 8x8 one, small
    for kernel in script["KERNELS"]:  # what valgrind would count, run plainly once
        done = subprocess.run(
            [sys.executable, "-c", script["WORKLOAD"], case, kernel, "1"],
            capture_output=True, text=True, cwd=BENCH_FILE.parent.parent,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    with pytest.raises(SystemExit) as exit_:
        script["main"](["--cases", "9"])
    assert exit_.value.code == 2 and "--cases takes numbers 0 to 4" in capsys.readouterr().err


def test_ab_calls_compares_two_trees_in_one_process_and_refuses_bad_arguments():
    script, repo = BENCH_FILE.parent / "ab_calls.py", BENCH_FILE.parent.parent

    def run(*args):
        return subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True, cwd=repo
        )

    done = run("--a", str(repo), "--cases", "4", "--calls", "2", "--lenet")
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()[2:]
    assert [r.split(")")[-1].split()[0] for r in rows[:3]] == ["forward", "input", "weight"]
    assert rows[3].startswith("LeNet training step") and len(rows) == 4
    for args, message in [
        (("--a", str(repo), "--cases", "9"), "--cases takes numbers 0 to 4"),
        (("--a", str(repo), "--calls", "0"), "--calls must be at least 1"),
        (("--a", str(script)), "no tinygrad_cnn package in"),
    ]:
        done = run(*args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
