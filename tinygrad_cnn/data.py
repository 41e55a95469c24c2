"""Data: the embedded 8x8 digits, an MNIST IDX reader, and a seeded batch iterator."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np


class Dataset(NamedTuple):
    """Images (N, 1, H, W) float32 in [0, 1] and labels (N,) int64, split into train and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """The 1,797 8x8 handwritten digits that ship inside scikit-learn: no download.

    A fixed, seeded split holds out ``test_fraction`` (20%) for testing. Pixels are scaled from
    0..16 to 0..1.
    """
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise ImportError(
            "load_digits needs scikit-learn, which ships the digits: "
            "pip install scikit-learn (or pip install 'tinygrad_cnn[examples]')"
        ) from None
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"load_digits: test_fraction must be in (0, 1), got {test_fraction}")
    digits = sk_load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]  # (1797, 1, 8, 8)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Dataset(x[train], y[train], x[test], y[test])


# -- MNIST IDX files ---------------------------------------------------------------------------

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (plain or .gz): magic ``00 00 <type> <ndim>``, big-endian int32 dims."""
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file not found: {path}") from None
    except (OSError, EOFError, zlib.error) as e:  # a corrupt or truncated .gz among them
        raise ValueError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow to wrap around
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX header says shape {dims} ({expected} bytes of data) but the file holds "
            f"{len(raw) - header}"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(dims)


def _find(directory: str, stem: str) -> str:
    for name in (
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(
        f"load_mnist: {stem}[.gz] not found in {directory}; expected the four MNIST files "
        f"{sorted(MNIST_FILES.values())}"
    )


def load_mnist(path: str | os.PathLike) -> Dataset:
    """Read the MNIST IDX files (plain or .gz) from the directory ``path``.

    Images become (N, 1, 28, 28) float32 in [0, 1]; labels int64.
    """
    directory = os.fspath(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"load_mnist: {directory} is not a directory")
    arrays = {k: read_idx(_find(directory, stem)) for k, stem in MNIST_FILES.items()}
    for split in ("train", "test"):
        imgs, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if imgs.ndim != 3 or labels.ndim != 1 or len(imgs) != len(labels):
            raise ValueError(
                f"load_mnist: {split} images {imgs.shape} and labels {labels.shape} do not match "
                "(expected (N, H, W) and (N,))"
            )
    return Dataset(
        (arrays["train_images"].astype(np.float32) / 255.0)[:, None],
        arrays["train_labels"].astype(np.int64),
        (arrays["test_images"].astype(np.float32) / 255.0)[:, None],
        arrays["test_labels"].astype(np.int64),
    )


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in .gz)."""
    codes = {np.dtype(v).str: k for k, v in _IDX_TYPES.items()}
    a = np.asarray(array)
    big = a.astype(a.dtype.newbyteorder(">")) if a.dtype.itemsize > 1 else a
    code = codes.get(big.dtype.str)
    if code is None:
        raise TypeError(f"write_idx: unsupported dtype {a.dtype}")
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, ">i4").tobytes()
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + big.tobytes())


# -- batches -----------------------------------------------------------------------------------


class Batches:
    """Iterate over (x, y) minibatches; reshuffled each epoch from a seeded generator.

    >>> it = Batches(np.arange(10), np.arange(10), batch_size=4, shuffle=False)
    >>> [len(x) for x, _ in it], len(it)
    ([4, 4, 2], 3)
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int = 32,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int | None = 0,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"Batches: x has {len(x)} samples but y has {len(y)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"Batches: batch_size must be a positive int, got {batch_size!r}")
        self.x, self.y, self.batch_size = x, y, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.x)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for k in range(len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            yield self.x[idx], self.y[idx]
