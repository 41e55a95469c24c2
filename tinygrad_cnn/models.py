"""Ready-made models."""

from __future__ import annotations

from tinygrad_cnn import nn


def default_model(in_shape: tuple[int, int, int], num_classes: int) -> nn.Sequential:
    """The classic CNN, sized for (C, H, W) inputs: 3x3 kernels for small images, 5x5 otherwise.

    CONV2D -> RELU -> MAXPOOL -> CONV2D -> RELU -> MAXPOOL -> FLATTEN -> FULLY CONNECTED, what
    ``python -m tinygrad_cnn train`` trains.

    >>> default_model((1, 8, 8), 10)[0]
    Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    """
    c, h, w = in_shape
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
