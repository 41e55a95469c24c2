"""``torch.utils.data``: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split`` and
``DataLoader``, with PyTorch's arguments and defaults (``shuffle`` off, ``batch_size=1``).

A ``DataLoader`` collates samples into batches as PyTorch does: Tensors, arrays and numbers are
stacked into Tensors (numbers: int64 or float32 as ``tensor()`` makes them), tuples and dicts
collated field by field.

>>> import tinygrad_cnn as tg
>>> from tinygrad_cnn.utils.data import DataLoader, TensorDataset
>>> ds = TensorDataset(tg.arange(10.0).reshape(5, 2), tg.tensor([0, 1, 0, 1, 1]))
>>> [tuple(x.shape) + tuple(y.shape) for x, y in DataLoader(ds, batch_size=2)]
[(2, 2, 2), (2, 2, 2), (1, 2, 1)]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.data.sampler import BatchSampler, RandomSampler, SequentialSampler
from tinygrad_cnn.random import generator_or_default
from tinygrad_cnn.tensor import Tensor, tensor_array


class Dataset:
    """Map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__``."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples ``(t[i] for t in tensors)`` of tensors (or arrays) with one first dimension."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor._wrap(tensor_array(
            "TensorDataset", t, None), False) for t in tensors)  # fmt: skip
        sizes = {len(t) for t in self.tensors}
        if len(sizes) != 1:
            firsts = [len(t) for t in self.tensors]
            raise ValueError(f"TensorDataset: the tensors have different first sizes {firsts}")

    def __getitem__(self, index: int) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class ConcatDataset(Dataset):
    """Datasets one after another."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        self.ends = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} out of range for {n} samples")
        index %= n
        k = int(np.searchsorted(self.ends, index, side="right"))
        start = self.ends[k - 1] if k else 0
        return self.datasets[k][index - start]

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Dataset, lengths: Sequence[Any], generator: Any = None) -> list:
    """Split into non-overlapping random Subsets of ``lengths`` (counts that add up to the
    dataset's size, or fractions that add up to 1, as PyTorch)."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1):
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):  # the remainder, round-robin
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n or any(not _args.is_int(x) or x < 0 for x in lengths):
        raise ValueError(
            f"random_split: lengths {lengths} must be non-negative counts adding up to the "
            f"dataset's {n} samples (or fractions adding up to 1)"
        )
    order = generator_or_default("random_split", generator).permutation(n).tolist()
    out, start = [], 0
    for k in lengths:
        out.append(Subset(dataset, order[start : start + k]))
        start += k
    return out


def default_collate(batch: list) -> Any:
    """Samples into a batch, as PyTorch's: Tensors, arrays and numbers stacked into Tensors;
    tuples and lists collated field by field; dicts key by key; strings kept as a list."""
    first = batch[0]
    if isinstance(first, Tensor):
        return Tensor._wrap(np.stack([b._data for b in batch]), False)
    if isinstance(first, (np.ndarray, np.generic)):
        return Tensor._wrap(np.stack([np.asarray(b) for b in batch]), False)
    if isinstance(first, (bool, int, float)):
        return Tensor._wrap(tensor_array("default_collate", list(batch), None), False)
    if isinstance(first, str):
        return list(batch)
    if isinstance(first, dict):
        return {k: default_collate([b[k] for b in batch]) for k in first}
    if isinstance(first, (tuple, list)):
        if any(len(b) != len(first) for b in batch):
            raise RuntimeError("default_collate: every sample must have the same number of fields")
        return type(first)(default_collate(list(f)) for f in zip(*batch)) if isinstance(
            first, tuple) else [default_collate(list(f)) for f in zip(*batch)]  # fmt: skip
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}")


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__``. A DataLoader batches them in the
    order they come (no shuffling, no sampler)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __getitem__(self, index: int) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} is an IterableDataset of unknown length")


class DataLoader:
    """Batches of ``dataset``: ``batch_size`` samples (1 by default; None: no batching), in
    order, or with ``shuffle`` a new order each pass (from ``generator`` or the default
    generator), or in the order of ``sampler``, or in the batches of ``batch_sampler``; the
    last short batch dropped with ``drop_last``; collated by ``collate_fn``. The argument
    rules are PyTorch's. ``num_workers``, ``pin_memory`` and the other worker settings are
    accepted and ignored (one process)."""

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Any = None, batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Any = None, pin_memory: bool = False, drop_last: bool = False,
                 generator: Any = None, **kwargs: Any) -> None:  # fmt: skip
        where = "DataLoader"
        if batch_size is not None:
            _args.positive_int(where, "batch_size", batch_size)
        generator_or_default(where, generator)
        if isinstance(dataset, IterableDataset) and (shuffle or sampler or batch_sampler):
            raise ValueError(
                f"{where}: an IterableDataset takes no shuffle, sampler or batch_sampler"
            )
        if sampler is not None and shuffle:
            raise ValueError(f"{where}: sampler and shuffle are mutually exclusive")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    f"{where}: batch_sampler is mutually exclusive with batch_size, shuffle, "
                    "sampler and drop_last"
                )
            batch_size = None
        elif batch_size is None and drop_last:
            raise ValueError(f"{where}: batch_size=None (no batching) and drop_last are exclusive")
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, bool(drop_last)
        self.generator, self.num_workers = generator, num_workers
        self.collate_fn = collate_fn or default_collate
        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = (
                RandomSampler(dataset, generator=generator)
                if shuffle
                else SequentialSampler(dataset)
            )
        self.sampler = sampler
        if batch_sampler is None and batch_size is not None and self.sampler is not None:
            batch_sampler = BatchSampler(self.sampler, batch_size, self.drop_last)
        self.batch_sampler = batch_sampler

    def __iter__(self) -> Iterator[Any]:
        if self.sampler is None:  # an IterableDataset: its stream, batched as it comes
            yield from self._stream()
            return
        if self.batch_sampler is None:  # no batching: samples one by one
            yield from (self.dataset[i] for i in self.sampler)
            return
        # A TensorDataset collated by default_collate: index each tensor with the whole batch
        # at once (the same batch as stacking its samples, without a Python step per sample).
        whole = type(self.dataset) is TensorDataset and self.collate_fn is default_collate
        for idx in self.batch_sampler:
            if whole:
                rows = np.asarray(idx, dtype=np.int64)
                yield tuple(Tensor._wrap(t._data[rows], False) for t in self.dataset.tensors)
            else:
                yield self.collate_fn([self.dataset[i] for i in idx])

    def _stream(self) -> Iterator[Any]:
        if self.batch_size is None:
            yield from self.dataset
            return
        # BatchSampler groups any iterable: here the samples themselves, as they stream
        for samples in BatchSampler(self.dataset, self.batch_size, self.drop_last):
            yield self.collate_fn(samples)

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        if self.sampler is not None:
            return len(self.sampler)
        if self.batch_size is None:  # an IterableDataset that knows its length
            return len(self.dataset)
        return len(BatchSampler(self.dataset, self.batch_size, self.drop_last))
