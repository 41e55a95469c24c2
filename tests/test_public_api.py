"""Every public name is documented, and the API reference page covers every public module."""

import inspect
from pathlib import Path

import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import data, functional, nn, optim, reference, viz

REFERENCE = (Path(__file__).resolve().parent.parent / "docs" / "reference.md").read_text()


def public_names():
    yield from ((f"tinygrad_cnn.{n}", getattr(tg, n)) for n in tg.__all__)
    for mod in (functional, optim, data, viz, reference, nn.init):
        for name, obj in vars(mod).items():
            if name.startswith("_") or not callable(obj) or inspect.ismodule(obj):
                continue
            if getattr(obj, "__module__", None) == mod.__name__:
                yield f"{mod.__name__}.{name}", obj
    yield from ((f"tinygrad_cnn.nn.{n}", getattr(nn, n)) for n in nn.__all__)
    for name, member in vars(tg.Tensor).items():
        if not name.startswith("_") and (callable(member) or isinstance(member, property)):
            yield f"Tensor.{name}", member


@pytest.mark.parametrize(
    "name, obj", list(public_names()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_public_name_has_a_docstring(name, obj):
    if inspect.ismodule(obj):
        doc = obj.__doc__
    elif isinstance(obj, property):
        doc = obj.fget.__doc__
    else:
        doc = inspect.getdoc(obj)
    assert doc and doc.strip(), f"{name} has no docstring"


@pytest.mark.parametrize(
    "module",
    [
        "tinygrad_cnn.functional",
        "tinygrad_cnn.nn.layers",
        "tinygrad_cnn.nn.module",
        "tinygrad_cnn.optim",
        "tinygrad_cnn.data",
        "tinygrad_cnn.viz",
        "tinygrad_cnn.reference",
        "tinygrad_cnn.gradcheck",
        "tinygrad_cnn.testing",
        "tinygrad_cnn.ops.registry",
        "tinygrad_cnn.tensor.Tensor",
        "tinygrad_cnn.nn.init",
    ],
)
def test_reference_page_covers_the_module(module):
    assert f"::: {module}" in REFERENCE
