"""The suite's own guard: a test that hangs fails, by name, after the per-test timeout
(pytest-timeout, ``timeout`` in pyproject.toml) instead of leaving a run that never ends."""

import subprocess
import sys
import time


def test_the_suite_has_a_per_test_timeout(pytestconfig):
    assert float(pytestconfig.getini("timeout")) >= 60  # generous: the slowest test takes ~6 s
    assert pytestconfig.pluginmanager.hasplugin("timeout")


def test_a_hanging_test_fails_fast_with_its_name(tmp_path):
    (tmp_path / "test_hang.py").write_text(
        "import threading\n\ndef test_waits_for_ever():\n    threading.Event().wait()\n"
    )
    start = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--timeout=2",
            "-q",
            str(tmp_path / "test_hang.py"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode != 0 and time.monotonic() - start < 30
    assert "Timeout" in run.stdout and "test_waits_for_ever" in run.stdout
