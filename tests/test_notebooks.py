"""The notebooks in examples/notebooks run top to bottom in a real Jupyter kernel, and are
stored without outputs."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted(
    (Path(__file__).resolve().parent.parent / "examples" / "notebooks").glob("*.ipynb")
)


def test_there_are_the_four_notebooks():
    names = {p.stem for p in NOTEBOOKS}
    assert names == {"step_by_step", "train_and_look_inside", "higher_order", "diagnose_a_network"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_is_stored_without_outputs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip the outputs"
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and the traceback, on failure
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
