"""``torch.nn.functional``: the functions of :mod:`tinygrad_cnn.functional`, under the name
PyTorch programs import (``import tinygrad_cnn.nn.functional as F``)."""

from tinygrad_cnn.functional import *  # noqa: F403
from tinygrad_cnn.functional import __all__  # noqa: F401
