"""The explorer screenshots in docs/images, made by the browser the tests use.

Run: python examples/explorer_screenshots.py  (needs Graphviz's dot, chromium and Playwright:
``make browser``). Trains the default CNN on the digits for three epochs, writes the page of one
training step to runs/explorer/step.html, and photographs it: a convolution clicked, the
reverse pass half walked, and a max pooling's backward a few positions in.
"""

import os
import shutil
import sys

import numpy as np

import tinygrad_cnn as tg
from tinygrad_cnn import Tensor, data, models, optim
from tinygrad_cnn import functional as F
from tinygrad_cnn.training import fit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is missing: make browser (or apt-get install chromium)")
    tg.manual_seed(0)
    ds = data.load_digits()
    model = models.default_model((1, 8, 8), 10)
    fit(model, optim.SGD(model.parameters(), lr=0.05, momentum=0.9), ds, 3)
    model.train()
    x, y = ds.x_test[:1], ds.y_test[:1]
    loss = F.cross_entropy(model(Tensor(x)), y)
    page = tg.explore(loss, params=dict(model.named_parameters()), check=True,
                      title=f"default CNN: one training step on a digit {int(y[0])}")  # fmt: skip
    os.makedirs(os.path.join(ROOT, "runs", "explorer"), exist_ok=True)
    path = page.save(os.path.join(ROOT, "runs", "explorer", "step.html"))
    images = os.path.join(ROOT, "docs", "images")
    nodes = page.data["nodes"]
    conv = next(k for k, n in nodes.items() if n.get("op") == "conv2d")
    pool = next(k for k, n in nodes.items() if n.get("op") == "pool2d")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1400, "height": 860})
        tab.goto("file://" + os.path.abspath(path))
        tab.locator(f"#graph g.node:has(title:text-is('{conv}'))").click()
        tab.screenshot(path=os.path.join(images, "explorer-conv.png"))
        for _ in range(len(page.steps) // 2):
            tab.keyboard.press("ArrowRight")
        tab.screenshot(path=os.path.join(images, "explorer-step.png"))
        tab.evaluate(f"window.explorer.show('{pool}')")
        for _ in range(6):
            tab.click("#panel button.a-step")
        tab.evaluate("document.querySelector('#panel .animation').scrollIntoView()")
        tab.screenshot(path=os.path.join(images, "explorer-pool.png"))
        browser.close()
    print(f"wrote {path} and docs/images/explorer-{{conv,step,pool}}.png")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
