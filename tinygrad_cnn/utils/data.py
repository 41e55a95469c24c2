"""``torch.utils.data``: ``Dataset``, ``TensorDataset``, ``ConcatDataset``, ``Subset``,
``random_split``, ``DataLoader``, ``default_collate``, ``IterableDataset`` and the samplers,
under PyTorch's module name. They live in :mod:`tinygrad_cnn.data.loader` and
:mod:`tinygrad_cnn.data.sampler`, next to the dataset loaders that use them."""

from tinygrad_cnn.data.loader import (  # noqa: F401
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)
from tinygrad_cnn.data.sampler import (  # noqa: F401
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
