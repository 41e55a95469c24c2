"""Samplers, as ``torch.utils.data``'s: what order a ``DataLoader`` visits a dataset in
(``SequentialSampler``, ``RandomSampler``, ``SubsetRandomSampler``, ``WeightedRandomSampler``)
and how it groups the indices into batches (``BatchSampler``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.random import generator_or_default
from tinygrad_cnn.tensor import Tensor


class Sampler:
    """Base class: ``__iter__`` gives dataset indices (or lists of them, for a batch sampler)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new random order of the indices on every pass (``replacement=True``: ``num_samples``
    independent draws), from ``generator`` or the default generator."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Any = None) -> None:  # fmt: skip
        self.data_source, self.replacement, self.generator = (
            data_source,
            bool(replacement),
            generator,
        )
        if num_samples is not None:
            _args.positive_int("RandomSampler", "num_samples", num_samples)
        self._num_samples = num_samples
        generator_or_default("RandomSampler", generator)

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, rng = len(self.data_source), generator_or_default("RandomSampler", self.generator)
        if self.replacement:
            return iter(rng.integers(0, n, self.num_samples).tolist())
        whole, rest = divmod(self.num_samples, n) if n else (0, 0)
        order = [i for _ in range(whole) for i in rng.permutation(n).tolist()]
        return iter(order + rng.permutation(n).tolist()[:rest])

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a new random order on every pass."""

    def __init__(self, indices: Iterable[int], generator: Any = None) -> None:
        self.indices, self.generator = list(indices), generator
        generator_or_default("SubsetRandomSampler", generator)

    def __iter__(self) -> Iterator[int]:
        rng = generator_or_default("SubsetRandomSampler", self.generator)
        return iter([self.indices[i] for i in rng.permutation(len(self.indices)).tolist()])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights`` (with
    replacement by default), e.g. to balance classes."""

    def __init__(self, weights: Any, num_samples: int, replacement: bool = True,
                 generator: Any = None) -> None:  # fmt: skip
        w = np.asarray(weights._data if isinstance(weights, Tensor) else weights, np.float64)
        where = "WeightedRandomSampler"
        if w.ndim != 1 or not len(w) or not np.isfinite(w).all() or (w < 0).any() or w.sum() == 0:
            raise ValueError(
                f"{where}: weights must be a 1-D sequence of finite numbers >= 0, not all 0"
            )
        self.num_samples = _args.positive_int(where, "num_samples", num_samples)
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(
                f"{where}: without replacement, num_samples exceeds the nonzero weights"
            )
        self.weights, self.replacement, self.generator = w, bool(replacement), generator
        generator_or_default(where, generator)

    def __iter__(self) -> Iterator[int]:
        rng = generator_or_default("WeightedRandomSampler", self.generator)
        p = self.weights / self.weights.sum()
        return iter(rng.choice(len(p), self.num_samples, self.replacement, p).tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter, or dropped with
    ``drop_last``)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.sampler = sampler
        self.batch_size = _args.positive_int("BatchSampler", "batch_size", batch_size)
        self.drop_last = bool(drop_last)

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
