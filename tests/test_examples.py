"""Every example runs (quick settings) and checks itself."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize(
    "name, args, expect",
    [
        ("custom_op.py", [], "passed"),
        ("step_by_step.py", [], "all steps match"),
        ("train_digits.py", ["--epochs", "2"], "epoch  2"),
        ("draw_graph.py", ["--out", "{tmp}"], "wrote"),
        ("higher_order.py", ["--out", "{tmp}"], "(converged)"),
    ],
)
def test_example_runs(name, args, expect, capsys, monkeypatch, tmp_path):
    if name == "train_digits.py":
        pytest.importorskip("sklearn")
    monkeypatch.setattr(sys, "argv", [name, *(a.format(tmp=tmp_path) for a in args)])
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    except SystemExit as e:
        assert e.code in (0, None)
    out = capsys.readouterr().out
    assert "FAILED" not in out and "DIFFERS" not in out
    assert expect in out


def test_custom_op_is_covered_by_the_generic_property_checks():
    from hypothesis import given, settings

    from tinygrad_cnn import REGISTRY, testing

    runpy.run_path(str(EXAMPLES / "custom_op.py"))
    op = REGISTRY["softplus"]

    @settings(max_examples=10)
    @given(case=op.strategy())
    def check(case):
        testing.check_op(op, case)

    check()
    del REGISTRY["softplus"]
