"""``torch.utils.data``: ``Dataset``, ``TensorDataset``, ``ConcatDataset``, ``Subset``,
``random_split``, ``DataLoader`` and ``default_collate``, under PyTorch's module name. They live
in :mod:`tinygrad_cnn.data.loader`, next to the dataset loaders that use them."""

from tinygrad_cnn.data.loader import (  # noqa: F401
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)
