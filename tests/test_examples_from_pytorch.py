"""The PyTorch tutorials ported in examples/from_pytorch/ (only the imports and the data source
changed) run to the end here, and, where PyTorch is installed, the very same files with the
imports turned back to torch run too."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

FOLDER = Path(__file__).resolve().parent.parent / "examples" / "from_pytorch"
EXPECT = {
    "autograd.py": r"Second call\n[Tt]ensor\(\[\[8\., 4\., 4\., 4\., 4\.\]",
    "quickstart.py": r"Accuracy: \d+\.\d%, Avg loss: [\d.]+ \n\nDone!",
    "neural_networks.py": r"loss (\d+\.\d+) -> (\d+\.\d+)",
    "cifar10_classifier.py": r"Accuracy of the network on the 80 test images: \d+ %",
    "polynomial_optim.py": r"\nResult: y = \S+ \+ \S+ x \+ \S+ x\^2 \+ \S+ x\^3",
    "polynomial_custom_function.py": r"\nResult: y = \S+ \+ \S+ \* P3\(\S+ \+ \S+ x\)",
    "polynomial_module.py": r"\nResult: y = \S+ \+ \S+ x \+ \S+ x\^2 \+ \S+ x\^3",
    "mnist_main.py": r"Test set: Average loss: [\d.]+, Accuracy: \d+/128 \(\d+%\)\n\s*$",
}
ARGS = {"mnist_main.py": ["--epochs", "2", "--save-model"]}  # the original's flags


# The tutorials draw their initial weights unseeded (polynomial_module.py: four randn(())), so
# a run can start next to the answer and leave little to improve: each runs with the default
# generator seeded first, the file itself unchanged.
SEEDED = (
    "import runpy, sys, tinygrad_cnn; tinygrad_cnn.manual_seed(0); sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def _run(path: Path, cwd: Path) -> str:
    command = [sys.executable, "-c", SEEDED, str(path), *ARGS.get(path.name, [])]
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_a_ported_tutorial_runs_unchanged(name, tmp_path):
    out = _run(FOLDER / name, tmp_path)
    found = re.search(EXPECT[name], out)
    assert found, out[-1500:]
    if name == "neural_networks.py":  # SGD on a fixed target: the loss goes down
        assert float(found.group(2)) < float(found.group(1))
    if name.startswith("polynomial"):  # "t loss" every 100 steps: the fit gets better
        losses = [float(v) for v in re.findall(r"^\d+ (\S+)$", out, re.MULTILINE)]
        assert len(losses) == 20 and losses[-1] < losses[0] / 2
    if name == "mnist_main.py":  # the state dict it saves is PyTorch's format
        assert (tmp_path / "mnist_cnn.pt").stat().st_size > 4_000_000


DRIVER = """
import runpy, sys
for name in sys.argv[1:]:
    print("=== " + name, flush=True)
    sys.argv = [name, *ARGS.get(name, [])]
    runpy.run_path(name, run_name="__main__")
"""


def test_the_same_files_run_with_pytorch_when_the_imports_name_torch(tmp_path):
    # one process for all of them: PyTorch's import (seconds) is paid once
    pytest.importorskip("torch")
    for name in EXPECT:
        lines = (FOLDER / name).read_text().splitlines()
        torch_lines = [
            re.sub(r"\btinygrad_cnn\b", "torch", line)
            if line.startswith(("import ", "from "))
            else line
            for line in lines
        ]
        assert sum(a != b for a, b in zip(lines, torch_lines)) <= 6  # the imports, nothing else
        (tmp_path / name).write_text("\n".join(torch_lines) + "\n")
    (tmp_path / "driver.py").write_text(f"ARGS = {ARGS!r}\n{DRIVER}")
    command = [sys.executable, "driver.py", *sorted(EXPECT)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    sections = dict(re.findall(r"^=== (\S+)\n(.*?)(?=^=== |\Z)", done.stdout, re.S | re.M))
    assert sorted(sections) == sorted(EXPECT)
    for name, pattern in EXPECT.items():
        assert re.search(pattern, sections[name]), (name, sections[name][-1500:])
