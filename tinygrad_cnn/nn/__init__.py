"""Layers and models: Module, Parameter, Sequential, and the usual CNN layers."""

from tinygrad_cnn.nn import functional, init, utils
from tinygrad_cnn.nn.layers import (
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
)
from tinygrad_cnn.nn.module import Module, Parameter, Sequential, load_npz, save_npz
from tinygrad_cnn.nn.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm2d",
    "Conv2d",
    "ConvTranspose2d",
    "Dropout",
    "Flatten",
    "Identity",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "functional",
    "init",
    "utils",
    "load_npz",
    "save_npz",
]
