"""The explorer page in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright, the page opened from disk (file://). Skipped where either is missing; ``.ci/run``
installs both (``make browser``)."""

import os
import shutil

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import Tensor, models
from tinygrad_cnn import functional as F
from tinygrad_cnn.viz import Diagram, retain_grads, trace

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = (
    os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM or not Diagram.dot_available(), reason="needs Chromium and Graphviz's dot"
)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    """LeNet-5, one 28x28 image, after forward and backward(retain_graph=True); its page."""
    tg.manual_seed(0)
    model = models.lenet5()
    x = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    loss = F.cross_entropy(model(Tensor(x)), [3])
    order = []
    objects = trace(loss).objects
    for nid, obj in objects.items():
        if isinstance(obj, Tensor) and obj.requires_grad:
            obj.register_hook(lambda g, nid=nid: order.append(nid))
    page = tg.explore(loss, params=dict(model.named_parameters()))
    path = page.save(tmp_path_factory.mktemp("explorer") / "step.html")
    retain_grads(loss)  # every tensor keeps its .grad: the engine's numbers, beside the page's
    loss.backward(retain_graph=True)  # the engine's order and .grad, to compare with the page
    return {"model": model, "page": page, "path": path, "order": order, "objects": objects}


@pytest.fixture
def opened(browser, lenet):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems, requests = [], []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto("file://" + os.path.abspath(lenet["path"]))
    yield page, problems, requests
    page.close()


def test_the_page_opens_from_disk_without_errors_or_requests(opened, lenet):
    page, problems, requests = opened
    page.wait_for_function("window.explorer !== undefined")
    assert problems == []
    assert all(url.startswith("file://") for url in requests)  # nothing fetched: file:// only
    count = page.evaluate("document.querySelectorAll('#graph svg g.node').length")
    assert count == page.evaluate("Object.keys(window.explorer.elements).length")
    assert count == len(lenet["page"].data["nodes"]) == len(lenet["objects"])


def test_clicking_a_conv_shows_heatmaps_of_its_output(opened, lenet):
    page, problems, _ = opened
    conv = next(k for k, n in lenet["page"].data["nodes"].items() if n.get("op") == "conv2d")
    page.locator(f"#graph g.node:has(title:text-is('{conv}'))").click()
    out = next(k for k, n in lenet["page"].data["nodes"].items() if n.get("made_by") == conv)
    expected = lenet["objects"][out].numpy()[0]  # (6, 28, 28)
    shown = np.array(
        page.evaluate(
            f"Array.from(window.explorer.values(window.explorer.data.nodes['{out}'].value))"
        )
    )
    np.testing.assert_allclose(shown.reshape(expected.shape), expected, rtol=1e-6)
    # the first heatmap's pixels are channel 0 on the page's blue-white-red scale
    pixels = page.evaluate(
        "Array.from(document.querySelector('#panel canvas.heatmap').getContext('2d')"
        ".getImageData(0, 0, 28, 28).data)"
    )
    rgba = np.array(pixels).reshape(28, 28, 4)
    top = np.abs(expected).max()
    x = expected[0] / top
    red = np.where(x >= 0, 255, np.round(255 * (1 + x)))
    blue = np.where(x <= 0, 255, np.round(255 * (1 - x)))
    assert np.abs(rgba[..., 0] - red).max() <= 1 and np.abs(rgba[..., 2] - blue).max() <= 1
    assert problems == []


def test_the_stepper_walks_the_engines_order_and_ends_with_grad(opened, lenet):
    page, problems, _ = opened
    visited = []
    for _ in range(len(lenet["page"].steps)):
        page.keyboard.press("ArrowRight")
        visited.append(page.evaluate("window.explorer.data.steps[window.explorer.step].tensor"))
    assert visited == lenet["order"]
    assert f"step {len(visited)} of {len(visited)}" in page.inner_text("#step-status")
    for p in lenet["model"].parameters():
        nid = next(k for k, v in lenet["objects"].items() if v is p)
        enc = lenet["page"].data["nodes"][nid]["grad"]
        on_page = np.array(
            page.evaluate(
                f"Array.from(window.explorer.values(window.explorer.data.nodes['{nid}'].grad))"
            )
        )
        kept = tuple(slice(0, k) for k in enc["kept"])
        np.testing.assert_allclose(
            on_page.reshape(enc["kept"]), p.grad.numpy()[kept], rtol=1e-6, atol=1e-9
        )
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("window.explorer.step") == len(visited) - 2
    assert problems == []


def animate(page, op, co, ci, what):
    """Run the page's backward animation of ``op`` through every output position; ``what`` it
    built (dx or dw) as an array."""
    script = f"(() => {{ const a = window.explorer.animation('{op}', {co}, {ci}); a.all(); "
    return np.array(page.evaluate(script + f"return Array.from(a.{what}); }})()"))


def test_the_conv_and_pool_animations_add_up_to_the_gradients(opened, lenet):
    page, problems, _ = opened
    data = lenet["page"].data["nodes"]
    objects = lenet["objects"]
    conv = [k for k, n in data.items() if n.get("op") == "conv2d"][1]  # (1, 6, 14, 14) -> 16
    x_id, w_id = data[conv]["inputs"][0]["id"], data[conv]["inputs"][1]["id"]
    dx = sum(animate(page, conv, co, 2, "dx") for co in range(16))
    np.testing.assert_allclose(dx.reshape(14, 14), objects[x_id].grad.numpy()[0, 2], atol=1e-7)
    dw = animate(page, conv, 5, 2, "dw")
    np.testing.assert_allclose(dw.reshape(5, 5), objects[w_id].grad.numpy()[5, 2], atol=1e-7)
    pool = next(k for k, n in data.items() if n.get("op") == "pool2d")
    p_in = data[pool]["inputs"][0]["id"]
    routed = animate(page, pool, 3, 0, "dx")
    np.testing.assert_allclose(routed.reshape(28, 28), objects[p_in].grad.numpy()[0, 3], atol=1e-9)
    # and the panel draws it: a click on the pool op, a few positions
    page.evaluate(f"window.explorer.show('{pool}')")
    for _ in range(3):
        page.click("#panel button.a-step")
    assert "position 3 of 196" in page.inner_text("#panel .a-text")
    assert problems == []
