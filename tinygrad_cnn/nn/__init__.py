"""Layers and models: Module, Parameter, Sequential, and the usual CNN layers."""

from tinygrad_cnn.io import load_npz, save_npz
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
from tinygrad_cnn.nn.module import Module, Parameter
from tinygrad_cnn.nn.state import IncompatibleKeys

# isort: split
from tinygrad_cnn.nn.activation import (
    CELU,
    ELU,
    GELU,
    SELU,
    Dropout2d,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Tanh,
    Threshold,
    Upsample,
)
from tinygrad_cnn.nn.container import (
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
)
from tinygrad_cnn.nn.conv1d import Conv1d, LazyConv2d, LazyLinear
from tinygrad_cnn.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from tinygrad_cnn.nn.norm import BatchNorm1d, GroupNorm, LayerNorm
from tinygrad_cnn.nn.pool import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from tinygrad_cnn.nn.rearrange import (
    ConstantPad2d,
    CosineSimilarity,
    PairwiseDistance,
    PixelShuffle,
    PixelUnshuffle,
    ReflectionPad2d,
    ReplicationPad2d,
    Unflatten,
    ZeroPad2d,
)

__all__ = sorted(
    name for name, value in globals().items() if not name.startswith("_") and name != "annotations"
)
