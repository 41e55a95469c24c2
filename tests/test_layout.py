"""The layout's rules: each layer imports only the layers below it, modules stay small, and the
ops know nothing of testing."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinygrad_cnn"

# Lower layers first. A module may import its own layer's modules and any layer below.
LAYERS = [
    {"tensor", "random", "data", "reference"},
    {"autograd", "backward", "anomaly"},
    {"ops"},
    {"functional", "testing"},
    {"nn", "optim", "viz"},
    {"models", "explain"},
    {"cli"},
    {"__init__", "__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
# tensor.py's operators, backward and draw() reach up: declared at the end of tensor.py
DECLARED_UPWARD = {(("tensor", m)) for m in ("autograd", "backward", "functional", "viz")}
MAX_LINES = 400
LONGER = {"tensor.py": 470}  # ~40% of it is one-line Tensor methods mirroring PyTorch's


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def layer_of(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _runtime_nodes(tree):
    """Every node, except inside ``if TYPE_CHECKING:`` (imports for type hints only)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_layers(path):
    """The package's top-level modules that ``path`` imports at run time, anywhere in it."""
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "tinygrad_cnn" and len(parts) > 1 and parts[1] in RANK:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_imports_only_its_layer_and_below(path):
    own = layer_of(path)
    up = {
        target
        for target in imported_layers(path)
        if RANK[target] > RANK[own] and (own, target) not in DECLARED_UPWARD
    }
    assert not up, f"{path.relative_to(PACKAGE)} (layer {own}) imports upward: {sorted(up)}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= LONGER.get(path.name, MAX_LINES), f"{path.name} has {lines} lines"


def test_the_ops_know_nothing_of_testing_and_name_nothing_by_a_string():
    for path in (PACKAGE / "ops").glob("*.py"):
        assert "testing" not in imported_layers(path), path.name
        if path.name != "registry.py":  # whose docstring shows a user's op
            assert "strategy=" not in path.read_text(), path.name


def test_every_family_has_the_same_name_in_ops_functional_and_tests():
    tests = Path(__file__).resolve().parent
    for family in ("elementwise", "reduce", "shape", "linalg", "loss", "conv", "pool"):
        assert (PACKAGE / "ops" / f"{family}.py").is_file()
        assert (PACKAGE / "functional" / f"{family}.py").is_file()
    for family in ("conv", "pool"):
        assert (tests / "ops" / f"test_{family}.py").is_file()
        assert (tests / "functional" / f"test_{family}.py").is_file()
