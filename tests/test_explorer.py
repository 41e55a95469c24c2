"""The explorer's page data: the reverse pass replayed in the engine's own order, the leaves'
gradients equal to ``.grad``, fan-out sums, a self-contained page, clear errors."""

import json
import re

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import Tensor, models
from tinygrad_cnn import functional as F
from tinygrad_cnn.explorer.collect import MAX_VALUES, decode, encode
from tinygrad_cnn.viz import Diagram, trace

pytestmark = pytest.mark.skipif(not Diagram.dot_available(), reason="needs Graphviz's dot")


def lenet_step(backward=False):
    tg.manual_seed(0)
    model = models.lenet5()
    x = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    loss = F.cross_entropy(model(Tensor(x)), [3])
    if backward:
        loss.backward(retain_graph=True)
    return model, loss


def engine_order(loss):
    """The order in which backward completes each tensor's gradient, seen through tensor hooks
    (what the engine really does, not what the explorer computes)."""
    objects = trace(loss).objects
    seen = []
    for nid, obj in objects.items():
        if isinstance(obj, Tensor) and obj.requires_grad:
            obj.register_hook(lambda g, nid=nid: seen.append(nid))
    loss.backward(retain_graph=True)
    return seen


def node_of(page, name):
    nodes = page.data["nodes"]
    return next(k for k, n in nodes.items() if n["label"].split("\n")[0] == name)


def test_the_steps_follow_the_engine_and_end_with_the_leaves_grad():
    model, loss = lenet_step()
    page = tg.explore(loss, params=dict(model.named_parameters()))
    assert [s["tensor"] for s in page.steps] == engine_order(loss)
    for name, p in model.named_parameters():
        enc = page.data["nodes"][node_of(page, name)]["grad"]
        kept = tuple(slice(0, k) for k in enc["kept"])
        np.testing.assert_allclose(decode(enc), p.grad.numpy()[kept], rtol=1e-6, atol=1e-9)


def test_the_page_compares_the_replay_with_grad_after_a_backward():
    model, loss = lenet_step(backward=True)
    page = tg.explore(loss, params=dict(model.named_parameters()))
    matches = [leaf["match"] for leaf in page.data["leaves"].values()]
    assert len(matches) == 10
    assert all(m.startswith("the replayed gradient equals .grad") for m in matches)


def test_exploring_changes_no_grad_and_the_graph_still_runs_backward():
    model, loss = lenet_step()
    tg.explore(loss)
    assert all(p.grad is None for p in model.parameters())
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_a_fan_out_sums_the_contributions_it_receives():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2.0
    loss = (y * y + y.exp()).sum()  # y is used three times
    page = tg.explore(loss)
    yid = next(k for k, v in trace(loss).objects.items() if v is y)
    step = next(s for s in page.steps if s["tensor"] == yid)
    assert len(step["sum_of"]) == 3
    parts = [send["grad"] for s in page.steps for send in s.get("sends", []) if send["to"] == yid]
    total = sum(decode(p) for p in parts)
    np.testing.assert_allclose(total, 2 * y.numpy() + np.exp(y.numpy()), rtol=1e-6)
    np.testing.assert_allclose(decode(page.data["nodes"][yid]["grad"]), total, rtol=1e-6)


def test_the_page_is_one_self_contained_file(tmp_path):
    model, loss = lenet_step()
    path = tg.explore(loss, params=dict(model.named_parameters())).save(tmp_path / "step.html")
    html = open(path, encoding="utf-8").read()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<link" not in html and "<script src" not in html and "@import" not in html
    data = json.loads(re.search(r'id="explorer-data">(.*?)</script>', html, re.S).group(1))
    assert len(data["nodes"]) == html.count('class="node"') == 49
    assert len(html.encode()) <= 5_000_000  # LeNet-5 on one 28x28 image: at most 5 MB


def test_check_graph_verdicts_come_with_the_page_when_asked():
    model, loss = lenet_step()
    page = tg.explore(loss, check=True)
    ops = [k for k, n in page.data["nodes"].items() if n["kind"] == "op"]
    checks = page.data["checks"]
    assert set(checks) == set(ops) and all(c["ok"] for c in checks.values())
    assert tg.explore(loss).data["checks"] is None


def test_large_tensors_are_sampled_and_say_so():
    a = np.arange(4 * 16 * 32 * 32, dtype=np.float32).reshape(4, 16, 32, 32)
    enc = encode(a)
    assert enc["sampled"] and enc["shape"] == [4, 16, 32, 32]
    assert np.prod(enc["kept"]) <= MAX_VALUES
    np.testing.assert_array_equal(decode(enc), a[:1, : enc["kept"][1]])
    assert enc["stats"]["max"] == a.max()  # the statistics are of the whole tensor
    small = np.ones((3, 4), np.float32)
    assert encode(small)["sampled"] is None and decode(encode(small)).tolist() == small.tolist()


def test_bad_input_gets_errors_that_say_what_to_do():
    with pytest.raises(TypeError, match="explore: loss must be a Tensor"):
        tg.explore(1.0)
    with pytest.raises(ValueError, match="no recorded graph"):
        tg.explore(Tensor([1.0]).sum())
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="one element"):
        tg.explore(x * 2)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        tg.explore(loss)
    with pytest.raises(TypeError, match="params"):
        tg.explore((x * x).sum(), params=[x])
    with pytest.raises(OSError, match="folder"):
        tg.explore((x * x).sum()).save(".")


def test_a_model_with_batch_norm_and_residuals_explores():
    tg.manual_seed(0)
    model = models.resnet(3, 10)
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32)
    loss = F.cross_entropy(model(Tensor(x)), [1, 2])
    page = tg.explore(loss, params=dict(model.named_parameters()))
    assert [s["tensor"] for s in page.steps] == engine_order(loss)
    assert [s for s in page.steps if len(s["sum_of"]) > 1]  # the residual connections
