"""The model zoo: shapes, PyTorch's parameter names, and loading into PyTorch where it is
installed."""

import numpy as np
import pytest

from tinygrad_cnn import gradcheck, manual_seed, models, nn, tensor


def _out(model, shape):
    model.eval()
    return model(tensor(np.random.default_rng(0).random(shape, dtype=np.float32)))


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 32, 32), (1, 8, 8), (3, 32, 32)])
def test_lenet5_fits_each_input_size(shape):
    model = models.lenet5(shape, 10)
    assert _out(model, (2, *shape)).shape == (2, 10)
    assert [type(m).__name__ for m in model] == [
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "Flatten",
        "Linear",
        "ReLU",
        "Linear",
        "ReLU",
        "Linear",
    ]


def test_lenet5_on_28x28_is_the_papers_layout():
    sizes = {k: v.shape for k, v in models.lenet5().state_dict().items()}
    assert sizes == {
        "0.weight": (6, 1, 5, 5),
        "0.bias": (6,),
        "3.weight": (16, 6, 5, 5),
        "3.bias": (16,),
        "7.weight": (120, 400),
        "7.bias": (120,),
        "9.weight": (84, 120),
        "9.bias": (84,),
        "11.weight": (10, 84),
        "11.bias": (10,),
    }


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 8, 8), (3, 17, 23)])
def test_resnet_takes_any_size_through_global_pooling(shape):
    assert _out(models.resnet(shape[0], 7), (2, *shape)).shape == (2, 7)


def test_resnet_names_follow_torchvision():
    names = list(models.resnet(blocks=2).state_dict())
    assert names[:3] == ["conv1.weight", "bn1.weight", "bn1.bias"]
    for name in [
        "layer1.0.conv1.weight",
        "layer1.1.bn2.bias",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.running_var",
        "layer3.1.conv2.weight",
        "fc.weight",
        "fc.bias",
        "bn1.running_mean",
        "bn1.num_batches_tracked",
    ]:
        assert name in names
    assert "layer1.0.downsample.0.weight" not in names  # same shape: the shortcut is Identity
    assert sum(p.numel() for p in models.resnet(blocks=3).parameters()) == 272_474  # ResNet-20


@pytest.mark.parametrize("cin, c, stride", [(2, 3, 2), (3, 3, 1)])
def test_a_residual_block_gradient_matches_finite_differences(cin, c, stride):
    manual_seed(0)
    block = models.BasicBlock(cin, c, stride=stride, dtype=np.float64)
    for m in block.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data[:] = np.linspace(0.5, 1.5, m.num_features)
    block.eval()  # fixed statistics: a smooth function of the input
    x = tensor(np.random.default_rng(1).standard_normal((2, cin, 5, 5)), requires_grad=True)
    assert block(x).shape == (2, c, 3 if stride == 2 else 5, 3 if stride == 2 else 5)
    assert gradcheck(block, [x])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: models.lenet5((1, 2, 2)), "too small"),
        (lambda: models.lenet5((1, 28)), r"in_shape must be \(C, H, W\)"),
        (lambda: models.lenet5(num_classes=0), "num_classes"),
        (lambda: models.resnet(0), "in_channels"),
        (lambda: models.ResNet(widths=(16, 32)), "widths"),
    ],
)
def test_bad_model_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -- the same architectures in PyTorch load our state_dict and compute the same ------------------


def _torch():
    return pytest.importorskip("torch")


def torch_lenet5(t, shape):
    c, h, w = shape
    pad2 = 0 if min(h, w) >= 20 else 2
    h2, w2 = (h // 2 - 4 + 2 * pad2) // 2, (w // 2 - 4 + 2 * pad2) // 2
    n = t.nn
    return n.Sequential(
        n.Conv2d(c, 6, 5, padding=2),
        n.ReLU(),
        n.MaxPool2d(2),
        n.Conv2d(6, 16, 5, padding=pad2),
        n.ReLU(),
        n.MaxPool2d(2),
        n.Flatten(),
        n.Linear(16 * h2 * w2, 120),
        n.ReLU(),
        n.Linear(120, 84),
        n.ReLU(),
        n.Linear(84, 10),
    )


def torch_resnet(t, in_channels=3, num_classes=10, blocks=1):
    n = t.nn

    class Block(n.Module):
        def __init__(self, cin, c, stride):
            super().__init__()
            self.conv1 = n.Conv2d(cin, c, 3, stride, 1, bias=False)
            self.bn1 = n.BatchNorm2d(c)
            self.relu = n.ReLU()
            self.conv2 = n.Conv2d(c, c, 3, 1, 1, bias=False)
            self.bn2 = n.BatchNorm2d(c)
            self.downsample = (
                n.Sequential(n.Conv2d(cin, c, 1, stride, bias=False), n.BatchNorm2d(c))
                if stride != 1 or cin != c
                else n.Identity()
            )

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + self.downsample(x))

    class Net(n.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = n.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
            self.bn1 = n.BatchNorm2d(16)
            self.relu = n.ReLU()
            layers, prev = [], 16
            for i, c in enumerate((16, 32, 64)):
                mods = [Block(prev, c, 1 if i == 0 else 2)] + [
                    Block(c, c, 1) for _ in range(blocks - 1)
                ]
                layers.append(n.Sequential(*mods))
                prev = c
            self.layer1, self.layer2, self.layer3 = layers
            self.avgpool = n.AdaptiveAvgPool2d(1)
            self.fc = n.Linear(64, num_classes)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(t.flatten(self.avgpool(x), 1))

    return Net()


def _compare(t, ours, theirs, shape, train_steps=1):
    x = np.random.default_rng(3).random((4, *shape), dtype=np.float32)
    ours.train()
    for _ in range(train_steps):  # move the BatchNorm running statistics away from their start
        ours(tensor(x))
    state = {k: t.from_numpy(np.array(v)) for k, v in ours.state_dict().items()}
    missing, unexpected = theirs.load_state_dict(state, strict=True)
    assert not missing and not unexpected
    ours.eval()
    theirs.eval()
    with t.no_grad():
        want = theirs(t.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(tensor(x)).numpy(), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8)])
def test_lenet5_state_dict_loads_into_pytorch(shape):
    t = _torch()
    _compare(t, models.lenet5(shape, 10), torch_lenet5(t, shape), shape)


def test_resnet_state_dict_loads_into_pytorch():
    t = _torch()
    _compare(t, models.resnet(3, 10, blocks=2), torch_resnet(t, 3, 10, blocks=2), (3, 32, 32), 2)
