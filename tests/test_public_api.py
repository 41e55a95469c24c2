"""Every public name is documented, and the API reference page covers every public module."""

import inspect
from pathlib import Path

import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import data, functional, models, nn, optim, reference, testing, viz
from tinygrad_cnn.cli import train

REFERENCE = (Path(__file__).resolve().parent.parent / "docs" / "reference.md").read_text()


def test_functional_exports_every_public_function_of_its_modules():
    exported = set(functional.__all__)
    for name in ("elementwise", "reduce", "shape", "linalg", "conv", "pool", "loss"):
        module = getattr(functional, name)
        own = {
            n
            for n, obj in vars(module).items()
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and n[0] != "_"
        }
        assert own <= exported, f"functional.{name} defines {sorted(own - exported)}"


def public_names():
    yield from ((f"tinygrad_cnn.{n}", getattr(tg, n)) for n in tg.__all__)
    yield from (
        (f"tinygrad_cnn.functional.{n}", getattr(functional, n)) for n in functional.__all__
    )
    yield from ((f"tinygrad_cnn.testing.{n}", getattr(testing, n)) for n in testing.__all__)
    for mod in (optim, data, viz, reference, nn.init, models, train):
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
        "tinygrad_cnn.functional.elementwise",
        "tinygrad_cnn.functional.reduce",
        "tinygrad_cnn.functional.shape",
        "tinygrad_cnn.functional.linalg",
        "tinygrad_cnn.functional.conv",
        "tinygrad_cnn.functional.pool",
        "tinygrad_cnn.functional.loss",
        "tinygrad_cnn.nn.layers",
        "tinygrad_cnn.nn.module",
        "tinygrad_cnn.optim",
        "tinygrad_cnn.data",
        "tinygrad_cnn.viz",
        "tinygrad_cnn.reference",
        "tinygrad_cnn.testing.gradcheck",
        "tinygrad_cnn.testing.checks",
        "tinygrad_cnn.testing.strategies",
        "tinygrad_cnn.testing.builtin",
        "tinygrad_cnn.ops.registry",
        "tinygrad_cnn.ops.geometry",
        "tinygrad_cnn.models",
        "tinygrad_cnn.cli.train",
        "tinygrad_cnn.tensor.Tensor",
        "tinygrad_cnn.nn.init",
    ],
)
def test_reference_page_covers_the_module(module):
    assert f"::: {module}" in REFERENCE
