"""The layout's rules: each layer imports only the layers below it, modules stay small, the ops
know nothing of testing, every VJP is one code path, the engine imports at the top, and
``import tinygrad_cnn`` does not load Graphviz."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinygrad_cnn"

# Lower layers first. A module may import its own layer's modules and any layer below.
LAYERS = [
    {
        "tensor",
        "inplace",
        "conversion",
        "dtypes",
        "devices",
        "factories",
        "args",
        "io",
        "random",
        "data",
        "serialization",
    },
    {"reference"},
    {"engine", "anomaly", "hooks", "graph", "backward"},
    {"ops"},
    {"functional", "testing"},
    {"nn", "optim", "viz", "autograd", "utils"},
    {"models", "explain", "training", "monitor", "explorer"},
    {"cli"},
    {"__init__", "__main__"},
]
ENGINE = ["engine.py", "anomaly.py", "hooks.py", "graph.py", "backward.py", "ops/registry.py"]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
# tensor.py's operators, backward() and register_hook() reach up: declared at its end
DECLARED_UPWARD = {(("tensor", m)) for m in ("engine", "backward", "hooks", "functional")}
MAX_LINES = 400  # every module is well under it (the largest is about 380 lines)
LONGER = {
    "tensor.py": 480,  # the Tensor class: PyTorch's methods (in-place and conversion in mixins)
    "conv.py": 440,  # ops/conv.py: three array kernels, each also as blocks, and the three ops
}


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


def _vjps(path):
    tree = ast.parse(path.read_text())
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        for fn in cls.body:
            if isinstance(fn, ast.FunctionDef) and fn.name == "vjp":
                yield cls.name, fn


def _names_xp(node):
    return (isinstance(node, ast.Attribute) and node.attr == "xp") or (
        isinstance(node, ast.Name) and node.id == "xp"
    )


def test_no_vjp_asks_which_namespace_it_got():
    # one derivative per op: a VJP written against ctx.xp never branches on the path
    checked = 0
    for path in (PACKAGE / "ops").glob("*.py"):
        for cls, fn in _vjps(path):
            checked += 1
            for node in ast.walk(fn):
                if isinstance(node, ast.Compare):
                    sides = [node.left, *node.comparators]
                    assert not any(map(_names_xp, sides)), f"{path.name}: {cls}.vjp compares xp"
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                    assert not any(map(_names_xp, node.args)), f"{path.name}: {cls}.vjp"
    assert checked > 30  # the walk found the ops' VJPs


@pytest.mark.parametrize("name", ENGINE + ["testing"])
def test_the_engine_registry_and_test_kit_import_at_the_top(name):
    # no import inside a function: each one hid a cycle or a cost that now has a home
    paths = sorted((PACKAGE / name).glob("*.py")) if name == "testing" else [PACKAGE / name]
    for path in paths:
        tree = ast.parse(path.read_text())
        top = set()
        for node in tree.body:
            top.add(node)
            if isinstance(node, ast.If):  # if TYPE_CHECKING: ...
                top.update(node.body)
        late = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) and node not in top
        ]
        assert not late, f"{path.relative_to(PACKAGE)}: imports inside functions at lines {late}"


def test_importing_the_package_does_not_load_graphviz_or_matplotlib():
    names = "('graphviz', 'matplotlib', 'tinygrad_cnn.viz')"
    code = f"import sys, tinygrad_cnn; print(sorted(m for m in {names} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    import tinygrad_cnn

    assert tinygrad_cnn.draw_graph.__module__ == "tinygrad_cnn.viz"  # there when asked for
