"""Every example runs (quick settings) and checks itself."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("name", ["custom_op.py"])
def test_example_runs(name, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [name])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr().out
    assert "FAILED" not in out
    assert "passed" in out


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
