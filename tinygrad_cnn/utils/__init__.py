"""``torch.utils``'s names: :mod:`tinygrad_cnn.utils.data`."""

from tinygrad_cnn.utils import data

__all__ = ["data"]
