"""Ready-made models: the default CNN, LeNet-5 and a small ResNet.

Parameter names and layouts follow PyTorch, so ``model.state_dict()`` loads into the same
architecture written with ``torch.nn`` (docs/models.md shows both).
"""

from __future__ import annotations

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import nn
from tinygrad_cnn.tensor import Tensor


def _shape(fn: str, in_shape) -> tuple[int, int, int]:
    if not isinstance(in_shape, (tuple, list)) or len(in_shape) != 3:
        raise ValueError(f"{fn}: in_shape must be (C, H, W), got {in_shape!r}")
    return tuple(_args.positive_int(fn, "in_shape", s) for s in in_shape)


def default_model(in_shape: tuple[int, int, int], num_classes: int) -> nn.Sequential:
    """The classic CNN, sized for (C, H, W) inputs: 3x3 kernels for small images, 5x5 otherwise.

    CONV2D -> RELU -> MAXPOOL -> CONV2D -> RELU -> MAXPOOL -> FLATTEN -> FULLY CONNECTED, what
    ``python -m tinygrad_cnn train`` trains.

    >>> default_model((1, 8, 8), 10)[0]
    Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    """
    c, h, w = _shape("default_model", in_shape)
    if h < 4 or w < 4:
        raise ValueError(f"default_model: images of {h}x{w} are too small for two 2x2 poolings")
    k = 3 if min(h, w) <= 16 else 5
    c1, c2 = (16, 32) if k == 3 else (8, 16)
    flat = c2 * (h // 2 // 2) * (w // 2 // 2)
    return nn.Sequential(
        nn.Conv2d(c, c1, k, padding=k // 2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, k, padding=k // 2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, num_classes),
    )


def lenet5(
    in_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10, dtype=np.float32
) -> nn.Sequential:
    """LeNet-5 (LeCun et al., 1998) as it is usually written today: ReLU and max pooling.

    conv 5x5 (6, padding 2) -> ReLU -> max pool 2 -> conv 5x5 (16) -> ReLU -> max pool 2 ->
    flatten -> 120 -> ReLU -> 84 -> ReLU -> ``num_classes``. On 28x28 digits the first fully
    connected layer sees 16x5x5 features, as in the paper. Images under 20 pixels (the 8x8
    digits) would leave nothing for the second 5x5 kernel, so it pads by 2 there too; only the
    first fully connected layer's width changes.

    >>> lenet5()[-1]
    Linear(in_features=84, out_features=10, bias=True)
    """
    c, h, w = _shape("lenet5", in_shape)
    if h < 4 or w < 4:
        raise ValueError(f"lenet5: images of {h}x{w} are too small for two 2x2 poolings")
    pad2 = 0 if min(h, w) >= 20 else 2
    h2, w2 = (h // 2 - 4 + 2 * pad2) // 2, (w // 2 - 4 + 2 * pad2) // 2
    return nn.Sequential(
        nn.Conv2d(c, 6, 5, padding=2, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=pad2, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * h2 * w2, 120, dtype=dtype),
        nn.ReLU(),
        nn.Linear(120, 84, dtype=dtype),
        nn.ReLU(),
        nn.Linear(84, _args.positive_int("lenet5", "num_classes", num_classes), dtype=dtype),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a residual add (He et al., 2016), named as
    torchvision's ``BasicBlock``: ``conv1, bn1, conv2, bn2`` and, when the shape changes,
    ``downsample`` (a 1x1 convolution and BatchNorm on the shortcut)."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, dtype=np.float32) -> None:
        super().__init__()
        conv = dict(bias=False, dtype=dtype)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, **conv)
        self.bn1 = nn.BatchNorm2d(channels, dtype=dtype)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, **conv)
        self.bn2 = nn.BatchNorm2d(channels, dtype=dtype)
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, **conv),
                nn.BatchNorm2d(channels, dtype=dtype),
            )
        else:
            self.downsample = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


class ResNet(nn.Module):
    """A small ResNet for 32x32 colour images (any size works: the pooling is global).

    ``conv1`` (3x3) -> ``bn1`` -> ReLU -> ``layer1`` .. ``layer3`` (``blocks`` basic blocks each,
    ``widths`` channels, the second and third starting with stride 2) -> ``avgpool`` (global) ->
    ``fc``. With ``blocks=3`` it is the ResNet-20 of the paper's CIFAR-10 experiments, except
    that the shortcuts that change shape are 1x1 convolutions (torchvision's option B).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        widths: tuple[int, int, int] = (16, 32, 64),
        blocks: int = 1,
        dtype=np.float32,
    ) -> None:
        super().__init__()
        c = _args.positive_int("ResNet", "in_channels", in_channels)
        blocks = _args.positive_int("ResNet", "blocks", blocks)
        if len(widths) != 3:
            raise ValueError(f"ResNet: widths must name 3 stages, got {widths!r}")
        w = [_args.positive_int("ResNet", "widths", v) for v in widths]
        self.conv1 = nn.Conv2d(c, w[0], 3, padding=1, bias=False, dtype=dtype)
        self.bn1 = nn.BatchNorm2d(w[0], dtype=dtype)
        self.relu = nn.ReLU()
        stages, prev = [], w[0]
        for i, width in enumerate(w):
            first = BasicBlock(prev, width, 1 if i == 0 else 2, dtype)
            rest = [BasicBlock(width, width, 1, dtype) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(first, *rest))
            prev = width
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(
            prev, _args.positive_int("ResNet", "num_classes", num_classes), dtype=dtype
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).reshape(x.shape[0], -1))


def resnet(
    in_channels: int = 3, num_classes: int = 10, blocks: int = 1, dtype=np.float32
) -> ResNet:
    """The small ResNet: widths 16, 32, 64 and ``blocks`` basic blocks per stage (1: 8 layers
    with weights, about 78,000 parameters; 3: ResNet-20).

    >>> sum(p.numel() for p in resnet().parameters())
    78042
    """
    return ResNet(in_channels, num_classes, (16, 32, 64), blocks, dtype)
