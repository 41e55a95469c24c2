"""``python -m tinygrad_cnn explore``: one training step of a saved model as a page."""

import json
import re

import pytest

import tinygrad_cnn as tg
from tinygrad_cnn.cli import main
from tinygrad_cnn.models import default_model
from tinygrad_cnn.viz import Diagram

from .mistakes import user_mistake

pytestmark = pytest.mark.skipif(not Diagram.dot_available(), reason="needs Graphviz's dot")


@pytest.fixture
def saved_model(tmp_path):
    """A default CNN for the digits saved as train saves it (weights, and metrics.json)."""
    tg.manual_seed(0)
    default_model((1, 8, 8), 10).save(str(tmp_path / "model.npz"))
    (tmp_path / "metrics.json").write_text(json.dumps({"dataset": "digits", "model": "default"}))
    return tmp_path / "model.npz"


def test_explore_writes_the_page_of_one_training_step(saved_model, tmp_path, capsys):
    out = tmp_path / "pages" / "step.html"
    assert main(["explore", "--model", str(saved_model), "--image", "3", "--out", str(out),
                 "--check"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "open it in a browser" in printed
    html = out.read_text()
    data = json.loads(re.search(r'id="explorer-data">(.*?)</script>', html, re.S).group(1))
    assert "image 3" in html and data["checks"] and len(data["steps"]) > 10


def test_explore_mistakes_are_one_line_and_exit_2(saved_model, tmp_path, capsys):
    user_mistake(capsys, ["explore", "--model", str(tmp_path / "none.npz")], "no such file")
    bad = tmp_path / "bad" / "model.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"not a model")
    user_mistake(capsys, ["explore", "--model", str(bad)], "not a model this command can rebuild")
    user_mistake(capsys, ["explore", "--model", str(saved_model), "--image", "9999"], "--image")
    user_mistake(capsys, ["explore", "--model", str(saved_model), "--out", str(tmp_path)], "folder")
