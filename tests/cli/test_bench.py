"""The bench command runs the benchmark code in benchmarks/, from the source checkout."""

import runpy
import sys

from tinygrad_cnn.cli import BENCH_FILE, main


def test_bench_command_runs(capsys):
    assert main(["bench", "--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "roof" in out and "LeNet training step" in out and "faster" in out


def test_the_benchmark_file_runs_on_its_own(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(BENCH_FILE), "--quick", "--repeat", "1"])
    runpy.run_path(str(BENCH_FILE), run_name="__main__")
    assert "LeNet training step" in capsys.readouterr().out
