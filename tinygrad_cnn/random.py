"""The library's random generator (initialisation, dropout, shuffling), seedable in one place."""

from __future__ import annotations

from typing import Any

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator used by ``nn.init``, ``nn.Dropout`` and the data iterators.

    >>> from tinygrad_cnn import manual_seed, nn
    >>> _ = manual_seed(0); a = nn.Linear(2, 2).weight.numpy().copy()
    >>> _ = manual_seed(0); b = nn.Linear(2, 2).weight.numpy()
    >>> bool((a == b).all())
    True
    """
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    return _generator


def generator_or_default(fn: str, generator: Any) -> np.random.Generator:
    """``generator`` (a ``numpy.random.Generator``), or the default one when it is None; a
    TypeError naming ``fn`` for anything else."""
    if generator is None:
        return _generator
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{fn}: generator must be a numpy.random.Generator, got {generator!r}")
    return generator


def seed() -> int:
    """Reseed the default generator from the operating system; returns the seed used."""
    value = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(value)
    return value
