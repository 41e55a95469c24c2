"""Graph diagrams: structure from trace, stable DOT source, clusters, grads, rendering."""

import os
import shutil

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import Tensor, nn, tensor, viz
from tinygrad_cnn import functional as F


def small_model():
    tg.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)
    )


def step(model):
    x = tensor(np.random.default_rng(0).random((2, 1, 4, 4), dtype=np.float32))
    return F.cross_entropy(model(x), np.array([0, 2]))


def test_trace_of_a_small_expression():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0])
    g = viz.trace((a * b + a).sum())
    kinds = {n.id: n.kind for n in g.nodes}
    ops = [n.label for n in g.nodes if n.kind == "op"]
    assert [o.split("\n")[0] for o in ops] == ["mul", "add", "sum"]
    assert sorted(k for k in kinds.values() if k != "op") == [
        "input",
        "output",
        "param",
        "tensor",
        "tensor",
    ]
    # a is used twice: two edges leave it
    a_id = next(n.id for n in g.nodes if n.kind == "param")
    assert sum(1 for src, _ in g.edges if src == a_id) == 2
    # every op has edges in and out
    for n in g.nodes:
        if n.kind == "op":
            assert any(dst == n.id for _, dst in g.edges) and any(src == n.id for src, _ in g.edges)


def test_small_constants_fold_into_the_op_label():
    a = Tensor([1.0], requires_grad=True)
    g = viz.trace(a * 2.0)
    assert "const 2" in g.nodes[1].label and len(g.nodes) == 3


def test_op_attributes_and_param_names_are_shown():
    model = small_model()
    src = tg.draw_graph(step(model), params=dict(model.named_parameters())).source
    for text in (
        "conv2d",
        "kernel_size=(3, 3)",
        "padding=(1, 1)",
        "mode='max'",
        "0.weight",
        "4.bias",
        "(2, 3) float32",
        "cross_entropy",
    ):
        assert text in src, text


def test_the_dot_source_is_deterministic():
    m1, m2 = small_model(), small_model()
    s1 = tg.draw_graph(step(m1), params=dict(m1.named_parameters())).source
    s2 = tg.draw_graph(step(m2), params=dict(m2.named_parameters())).source
    assert s1 == s2


def test_modules_become_clusters_and_collapse_draws_them_as_nodes():
    model = small_model()
    loss = step(model)
    src = tg.draw_graph(loss).source
    assert "subgraph cluster_Sequential {" in src
    assert 'label="0: Conv2d"' in src and 'label="4: Linear"' in src
    g = viz.trace(loss)
    conv = next(n for n in g.nodes if n.label.startswith("conv2d"))
    assert conv.scope == (("Sequential", "Sequential"), ("0", "Conv2d"))
    collapsed = tg.draw_graph(loss, params=dict(model.named_parameters()), collapse=True)
    kinds = [n.kind for n in collapsed.graph.nodes]
    assert kinds.count("module") == 5 and "op" in kinds  # cross_entropy is outside the model
    assert "(2, 2, 4, 4) float32" in collapsed.source  # the shape between Conv2d and ReLU


def test_show_grads_marks_norms_and_nan_in_red():
    a = tensor(np.array([3.0, 4.0]), requires_grad=True)
    y = (a * a).sum()
    viz.retain_grads(y)
    y.backward(retain_graph=True)
    src = tg.draw_graph(y, show_grads=True).source
    assert "|grad| = 10" in src  # |2a| = 10
    b = tensor(np.array([0.0, 1.0]), requires_grad=True)
    z = b.sqrt().sum()  # d/db sqrt at 0 is inf
    with np.errstate(divide="ignore"):
        z.backward(retain_graph=True)
    diagram = tg.draw_graph(z, show_grads=True)
    bad = [n for n in diagram.graph.nodes if n.bad_grad]
    assert len(bad) == 1 and "NaN/Inf" in bad[0].label
    assert "color=red" in diagram.source


def test_too_many_nodes_is_refused_naming_the_option():
    x = Tensor([1.0], requires_grad=True)
    for _ in range(30):
        x = x + 1.0
    with pytest.raises(ValueError, match="max_nodes=20"):
        tg.draw_graph(x, max_nodes=20)


def test_the_diagram_after_backward_has_the_same_nodes_and_edges():
    model = small_model()
    loss = step(model)
    params = dict(model.named_parameters())
    before = viz.trace(loss, params=params)
    loss.backward()  # frees the saved arrays, keeps the structure
    after = viz.trace(loss, params=params, show_grads=True)
    assert [(n.id, n.kind, n.scope) for n in after.nodes] == [
        (n.id, n.kind, n.scope) for n in before.nodes
    ]
    assert after.edges == before.edges and len(after.nodes) > 20
    assert sum("|grad|" in n.label for n in after.nodes if n.kind == "param") == len(params)
    with pytest.raises(RuntimeError, match=r"already freed, at op 'cross_entropy'"):
        loss.backward()


def test_rankdir():
    a = Tensor([1.0], requires_grad=True)
    assert "rankdir=LR" in tg.draw_graph(a * a, rankdir="LR").source
    with pytest.raises(ValueError, match="rankdir"):
        tg.draw_graph(a * a, rankdir="sideways")


def test_missing_dot_fails_early_with_an_install_hint(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    a = Tensor([1.0], requires_grad=True)
    d = tg.draw_graph(a * a)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        d.render(str(tmp_path / "g"))
    assert "digraph" in d.source  # still available
    assert d._repr_mimebundle_() == {"text/plain": d.source}


@pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"),
    reason="Graphviz's dot is not installed (CI installs it, so there this test always runs)",
)
def test_render_to_svg_with_the_real_dot(tmp_path):
    model = small_model()
    path = tg.draw_graph(step(model), params=dict(model.named_parameters())).render(
        str(tmp_path / "graph"), format="svg"
    )
    with open(path) as f:
        text = f.read()
    assert path.endswith(".svg") and "<svg" in text and "0: Conv2d" in text


def test_pool_labels_show_the_arguments_as_given():
    x = tensor(np.zeros((1, 1, 5, 5), np.float32), requires_grad=True)
    label = viz.trace(F.max_pool2d(x, 2, ceil_mode=True)).nodes[1].label
    assert "padding=(0, 0)" in label and "ceil_mode=True" in label  # not the padding it adds
    label = viz.trace(F.avg_pool2d(x, 3, 2, padding=1)).nodes[1].label
    assert "kernel_size=(3, 3)" in label and "stride=(2, 2)" in label and "padding=(1, 1)" in label


def test_draw_graph_is_a_digraph_and_tells_backward_nodes_apart():
    import graphviz

    x = Tensor([0.5], requires_grad=True)
    (g,) = tg.grad(x.tanh().sum(), x, create_graph=True)
    d = tg.draw_graph(g)
    assert isinstance(d, graphviz.Digraph)
    d.attr(label="second derivative")  # the graphviz API works as usual
    ops = [n for n in d.graph.nodes if n.kind == "op"]
    assert {n.label.split("\n")[0] for n in ops if not n.backward} == {"tanh"}
    assert any(n.backward for n in ops) and "pink" in d.source and "second derivative" in d.source


def test_show_values_gives_ranges_and_flags_nan_in_red():
    a = tensor(np.array([1.0, -2.0, 4.0]), requires_grad=True)
    y = (a * 2).sum()
    y.backward(retain_graph=True)
    labels = {n.kind: n.label for n in viz.trace(y, show_values=True, show_grads=True).nodes}
    assert "min/mean/max -2 / 1 / 4" in labels["param"]
    assert "grad min/max 2 / 2" in labels["param"]
    b = tensor(np.array([1.0, np.inf]), requires_grad=True)
    z = (b * 0.5).sum()
    with np.errstate(invalid="ignore"):
        z.backward(retain_graph=True)
    b.grad._data[0] = np.nan
    node = next(
        n for n in viz.trace(z, show_values=True, show_grads=True).nodes if n.kind == "param"
    )
    assert "1 NaN/Inf" in node.label and node.bad_grad
    assert "red" in tg.draw_graph(z, show_values=True, show_grads=True).source


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_render_uses_the_diagrams_format_unless_one_is_passed(tmp_path):
    a = Tensor([1.0], requires_grad=True)
    g = tg.draw_graph(a * a)
    assert g.format == "svg"
    g.format = "png"
    assert g.render(str(tmp_path / "f")).endswith("f.png")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert g.render(str(tmp_path / "g"), format="svg").endswith("g.svg")


def test_parameters_of_a_module_are_labelled_with_their_path():
    model = tg.nn.Sequential(tg.nn.Linear(3, 2), tg.nn.ReLU(), tg.nn.Linear(2, 1))
    source = tg.draw_graph(model(tg.randn(4, 3)).sum()).source
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert name in source
    assert "leaf" not in source
