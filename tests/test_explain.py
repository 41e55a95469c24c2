"""explain: saliency and Grad-CAM against their definitions, and the sanity checks that catch an
explanation that ignores the model (finite differences, model randomisation)."""

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import explain, nn, tensor
from tinygrad_cnn.models import default_model


def small_cnn(seed=0):
    tg.manual_seed(seed)
    return default_model((1, 8, 8), 10)


def digits(n=4):
    return np.random.default_rng(1).random((n, 1, 8, 8), dtype=np.float32)


def logit(model, x, n, t):
    with tg.no_grad():
        return float(model(tensor(x)).numpy()[n, t])


def test_saliency_is_the_input_gradient_and_agrees_with_finite_differences():
    model, x = small_cnn(), digits().astype(np.float64)
    model.train(False)
    for p in model.parameters():
        p.data = p.numpy().astype(np.float64)
    sal = explain.saliency(model, x, target=3)
    assert sal.shape == (4, 8, 8) and (sal >= 0).all()
    eps = 1e-6
    for n, i, j in [(0, 2, 3), (1, 5, 5), (3, 0, 7)]:
        plus, minus = x.copy(), x.copy()
        plus[n, 0, i, j] += eps
        minus[n, 0, i, j] -= eps
        fd = (logit(model, plus, n, 3) - logit(model, minus, n, 3)) / (2 * eps)
        assert abs(sal[n, i, j] - abs(fd)) < 1e-6 * max(1, abs(fd))
    predicted = model(tensor(x)).numpy().argmax(axis=1)
    np.testing.assert_array_equal(explain.saliency(model, x), explain.saliency(model, x, predicted))


def test_grad_cam_equals_its_formula_on_a_hand_computed_case():
    tg.manual_seed(0)
    conv = nn.Conv2d(1, 3, 3, padding=1, dtype=np.float64)
    head = nn.Linear(3, 2, dtype=np.float64)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.head = conv, head

        def forward(self, x):
            return self.head(self.conv(x).mean(axis=(2, 3)))

    x = np.random.default_rng(0).standard_normal((2, 1, 4, 5))
    cam = explain.grad_cam(Net(), conv, x, target=1, upsample=False, normalize=False)
    acts = tg.functional.conv2d(tensor(x), conv.weight, conv.bias, padding=1).numpy()  # (2,3,4,5)
    alpha = head.weight.numpy()[1] / (4 * 5)  # d logit_1 / d A_k is W[1, k] / (h w) everywhere
    expected = np.maximum(np.einsum("k,nkhw->nhw", alpha, acts), 0)
    np.testing.assert_allclose(cam, expected, rtol=1e-12, atol=1e-12)
    scaled = explain.grad_cam(Net(), conv, x, target=1)
    assert scaled.shape == (2, 4, 5) and scaled.max() == 1.0 and scaled.min() >= 0


def test_maps_change_when_the_weights_are_randomised():
    # the model-randomisation test (Adebayo et al. 2018): an explanation that ignored the model
    # would not move
    x = digits()
    model, randomised = small_cnn(0), small_cnn(1)  # the same architecture, other weights
    methods = {
        "saliency": lambda m: explain.saliency(m, x, target=0),
        "grad_cam": lambda m: explain.grad_cam(m, m[3], x, target=0),
    }
    for name, method in methods.items():
        corr = np.corrcoef(method(model).ravel(), method(randomised).ravel())[0, 1]
        assert corr < 0.9, (name, corr)


def test_resize_bilinear_keeps_constants_and_matches_pytorch_where_installed():
    maps = np.random.default_rng(0).random((2, 3, 4))
    np.testing.assert_allclose(explain.resize_bilinear(maps, (3, 4)), maps)
    np.testing.assert_allclose(explain.resize_bilinear(np.ones((1, 2, 2)), (5, 7)), 1.0)
    torch = pytest.importorskip("torch")
    want = torch.nn.functional.interpolate(
        torch.tensor(maps)[:, None], size=(7, 9), mode="bilinear", align_corners=False
    )[:, 0].numpy()
    np.testing.assert_allclose(explain.resize_bilinear(maps, (7, 9)), want, atol=1e-12)


def test_feature_maps_filters_and_bad_arguments():
    model, x = small_cnn(), digits(2)
    maps = explain.feature_maps(model, x)
    assert list(maps) == [str(i) for i in range(8)] and maps["0"].shape == (2, 16, 8, 8)
    assert explain.filters(model[0]).shape == (16, 1, 3, 3)
    with pytest.raises(ValueError, match=r"saliency: target must be an int or 2 ints in \[0, 10\)"):
        explain.saliency(model, x, target=10)
    with pytest.raises(ValueError, match="grad_cam: layer Conv2d is not a module of the model"):
        explain.grad_cam(model, nn.Conv2d(1, 1, 1), x)
    with pytest.raises(ValueError, match=r"x must be float images \(N, C, H, W\)"):
        explain.saliency(model, x[0])
    with pytest.raises(TypeError, match="filters: expected a Conv2d"):
        explain.filters(model[1])


def test_pictures_leave_the_callers_matplotlib_backend_alone(tmp_path):
    # a notebook keeps its inline backend: the pictures draw on an Agg canvas, not via pyplot
    code = f"""
import sys, matplotlib
matplotlib.use("svg")
import numpy as np
from tinygrad_cnn import explain
from tinygrad_cnn.cli.report import write_curves
explain.plot_grid({str(tmp_path / "grid.png")!r}, np.zeros((3, 4, 4)), ["a", "b", "c"])
h = [{{"epoch": 1, "loss": 1.0, "train_accuracy": 0.5, "test_accuracy": 0.5}}]
assert write_curves({str(tmp_path / "curves.png")!r}, h)
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["svg", "False"]
    for name in ("grid.png", "curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
