"""The library's random generator (initialisation, dropout, shuffling), seedable in one place."""

from __future__ import annotations

from typing import Any

import numpy as np

_seed = int(np.random.SeedSequence().entropy % (2**63))
_generator = np.random.default_rng(_seed)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator used by ``nn.init``, ``nn.Dropout`` and the data iterators.

    >>> from tinygrad_cnn import manual_seed, nn
    >>> _ = manual_seed(0); a = nn.Linear(2, 2).weight.numpy().copy()
    >>> _ = manual_seed(0); b = nn.Linear(2, 2).weight.numpy()
    >>> bool((a == b).all())
    True
    """
    global _generator, _seed
    _generator, _seed = np.random.default_rng(seed), int(seed)
    return _generator


def initial_seed() -> int:
    """The seed the default generator last started from (``manual_seed`` or ``seed``)."""
    return _seed


def default_generator() -> np.random.Generator:
    return _generator


def generator_or_default(fn: str, generator: Any) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (a :class:`Generator` or a
    ``numpy.random.Generator``), or the default one when it is None; a TypeError naming ``fn``
    for anything else."""
    if generator is None:
        return _generator
    if isinstance(generator, Generator):
        return generator._rng
    if not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"{fn}: generator must be a Generator (or numpy.random.Generator), got {generator!r}"
        )
    return generator


class Generator:
    """A random stream of its own, as ``torch.Generator``: ``Generator().manual_seed(42)``
    makes the shuffles and splits that take ``generator=`` repeatable apart from the default
    generator. (NumPy's PCG64 underneath, so the numbers are not PyTorch's.)"""

    def __init__(self, device: Any = "cpu") -> None:
        self.device = device
        self.seed()

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed`` (an int); returns the generator."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"Generator.manual_seed: seed must be an int, got {seed!r}")
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed % 2**64)
        return self

    def seed(self) -> int:
        """Restart the stream from a fresh seed from the operating system; returns it."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def initial_seed(self) -> int:
        """The seed the stream started from."""
        return self._seed

    def __repr__(self) -> str:
        return f"Generator(initial_seed={self._seed})"


def seed() -> int:
    """Reseed the default generator from the operating system; returns the seed used."""
    value = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(value)
    return value
