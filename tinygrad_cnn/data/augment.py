"""Normalisation and augmentation of image batches (N, C, H, W): small NumPy functions.

The random ones draw from the ``numpy.random.Generator`` they are given, so a run that seeds
it per epoch (as ``train`` does) sees the same augmented batches after a resume.

>>> rng = np.random.default_rng(0)
>>> x = np.arange(2 * 1 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4)
>>> random_crop(x, 1, rng).shape, hflip(x, rng).shape
((2, 1, 4, 4), (2, 1, 4, 4))
"""

from __future__ import annotations

import numpy as np

from tinygrad_cnn import args as _args


def _images(fn: str, x: np.ndarray) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        shape = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"{fn}: expected images as an (N, C, H, W) array, got {shape}")
    return x


def _padding(fn: str, padding) -> int:
    if not _args.is_int(padding) or padding < 0:
        raise ValueError(f"{fn}: padding must be an int >= 0, got {padding!r}")
    return int(padding)


def _rng(fn: str, rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{fn}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over images, height and width (float32, (C,))."""
    x = _images("channel_stats", x)
    mean = x.mean(axis=(0, 2, 3), dtype=np.float64)
    std = x.std(axis=(0, 2, 3), dtype=np.float64)
    return mean.astype(np.float32), std.astype(np.float32)


def normalize(x: np.ndarray, mean, std) -> np.ndarray:
    """``(x - mean[c]) / std[c]`` for each channel ``c``, as torchvision's ``Normalize``."""
    x = _images("normalize", x)
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    c = x.shape[1]
    if mean.shape != (c,) or std.shape != (c,):
        raise ValueError(
            f"normalize: mean {mean.shape} and std {std.shape} must hold one value per channel "
            f"({c})"
        )
    if not (np.all(np.isfinite(mean)) and np.all(std > 0) and np.all(np.isfinite(std))):
        raise ValueError(f"normalize: std must be finite and > 0, mean finite; got {mean}, {std}")
    return ((x - mean[:, None, None]) / std[:, None, None]).astype(x.dtype, copy=False)


def random_crop(x: np.ndarray, padding: int, rng: np.random.Generator) -> np.ndarray:
    """Pad each image with ``padding`` zeros on every side, then cut a window of the original
    size at a random offset (each image its own): shifts of up to ``padding`` pixels."""
    x, rng = _images("random_crop", x), _rng("random_crop", rng)
    p = _padding("random_crop", padding)
    if p == 0:
        return x.copy()
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dy, dx = rng.integers(0, 2 * p + 1, size=(2, n))
    rows = (dy[:, None] + np.arange(h))[:, None, :, None]
    cols = (dx[:, None] + np.arange(w))[:, None, None, :]
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols]


def hflip(x: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Mirror each image left to right with probability ``p``."""
    x, rng = _images("hflip", x), _rng("hflip", rng)
    if isinstance(p, bool) or not isinstance(p, (int, float, np.number)) or not 0 <= p <= 1:
        raise ValueError(f"hflip: p must be a probability in [0, 1], got {p!r}")
    flip = rng.random(len(x)) < p
    out = x.copy()
    out[flip] = x[flip, :, :, ::-1]
    return out


class Augment:
    """One batch's augmentation: ``random_crop`` (when ``padding`` > 0), then ``hflip`` (when
    ``flip``); the train command applies it to each training batch, never to the test set."""

    def __init__(self, padding: int = 0, flip: bool = False) -> None:
        self.padding, self.flip = _padding("Augment", padding), bool(flip)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.padding:
            x = random_crop(x, self.padding, rng)
        return hflip(x, rng) if self.flip else x

    def __repr__(self) -> str:
        return f"Augment(padding={self.padding}, flip={self.flip})"
