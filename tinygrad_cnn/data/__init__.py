"""Data: the embedded 8x8 digits; MNIST, Fashion-MNIST and CIFAR-10 (downloaded on request, see
:mod:`~tinygrad_cnn.data.download`); normalisation and augmentation
(:mod:`~tinygrad_cnn.data.augment`); and a seeded batch iterator."""

from __future__ import annotations

import gzip
import math
import os
import tarfile
import zlib
from typing import NamedTuple

import numpy as np

from tinygrad_cnn.data import augment  # noqa: F401  (data.augment)
from tinygrad_cnn.data.download import DownloadError, data_home, fetch  # noqa: F401
from tinygrad_cnn.data.loader import TensorDataset
from tinygrad_cnn.tensor import Tensor


class Dataset(NamedTuple):
    """Images (N, C, H, W) float32 in [0, 1] and labels (N,) int64, split into train and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def train(self) -> TensorDataset:
        """The training split as ``(image, label)`` samples for a ``DataLoader`` (the arrays
        shared, not copied)."""
        return TensorDataset(Tensor._wrap(self.x_train, False), Tensor._wrap(self.y_train, False))

    @property
    def test(self) -> TensorDataset:
        """The test split as ``(image, label)`` samples for a ``DataLoader``."""
        return TensorDataset(Tensor._wrap(self.x_test, False), Tensor._wrap(self.y_test, False))


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


MNIST_URLS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
FASHION_URLS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
CIFAR10_URLS = ["https://www.cs.toronto.edu/~kriz/"]
#: dataset -> (canonical base URLs, {file: published MD5})
RESOURCES = {
    "mnist": (
        MNIST_URLS,
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion-mnist": (
        FASHION_URLS,
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
    "cifar10": (CIFAR10_URLS, {"cifar-10-binary.tar.gz": "c32a1d4ab5d03f1284b67883e8d87530"}),
}


_HOW = "pass download=True (--download on the command line) to fetch"


def _folder(dataset: str, root: str | os.PathLike | None) -> str:
    return os.path.join(data_home(), dataset) if root is None else os.fspath(root)


def _fetch_all(dataset: str, folder: str) -> None:
    urls, files = RESOURCES[dataset]
    for name, md5 in files.items():
        fetch(name, [u + name for u in urls], md5, folder)


def _find(fn: str, directory: str, stem: str) -> str:
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
        f"{fn}: {stem}[.gz] not found in {directory}; expected the four IDX files "
        f"{sorted(MNIST_FILES.values())}; {_HOW} them"
    )


def _load_idx_dataset(fn: str, dataset: str, root, download: bool) -> Dataset:
    directory = _folder(dataset, root)
    if download:
        _fetch_all(dataset, directory)
    elif not os.path.isdir(directory):
        raise FileNotFoundError(f"{fn}: {directory} is not a directory; {_HOW} the dataset there")
    arrays = {k: read_idx(_find(fn, directory, stem)) for k, stem in MNIST_FILES.items()}
    for split in ("train", "test"):
        imgs, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if imgs.ndim != 3 or labels.ndim != 1 or len(imgs) != len(labels):
            raise ValueError(
                f"{fn}: {split} images {imgs.shape} and labels {labels.shape} do not match "
                "(expected (N, H, W) and (N,))"
            )
        # the format's sizes: 28 x 28 images of classes 0..9 (files of another dataset, or
        # a train and a test set that disagree, would give a model nothing sensible)
        if imgs.shape[1:] != (28, 28) or (labels.size and labels.max() > 9):
            raise ValueError(
                f"{fn}: {split} images of {imgs.shape[1:]} with labels up to "
                f"{labels.max() if labels.size else None} in {directory}: {dataset} has "
                "28 x 28 images of classes 0..9"
            )
    return Dataset(
        (arrays["train_images"].astype(np.float32) / 255.0)[:, None],
        arrays["train_labels"].astype(np.int64),
        (arrays["test_images"].astype(np.float32) / 255.0)[:, None],
        arrays["test_labels"].astype(np.int64),
    )


def load_mnist(root: str | os.PathLike | None = None, download: bool = False) -> Dataset:
    """MNIST: 60,000 + 10,000 handwritten digits, (N, 1, 28, 28) float32 in [0, 1].

    ``root`` is the folder with the four IDX files (plain or .gz; default
    ``data_home()/mnist``). ``download=True`` fetches the missing ones (checked against their
    published MD5; see :func:`~tinygrad_cnn.data.download.fetch`).
    """
    return _load_idx_dataset("load_mnist", "mnist", root, download)


def load_fashion_mnist(root: str | os.PathLike | None = None, download: bool = False) -> Dataset:
    """Fashion-MNIST: 60,000 + 10,000 28x28 grey images of 10 kinds of clothing, in MNIST's
    format; ``root`` defaults to ``data_home()/fashion-mnist``. As :func:`load_mnist`."""
    return _load_idx_dataset("load_fashion_mnist", "fashion-mnist", root, download)


CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


CIFAR10_BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def read_cifar10_binary(path: str | os.PathLike) -> Dataset:
    """Read CIFAR-10's binary version: ``cifar-10-binary.tar.gz``, or the folder it extracts to
    (``cifar-10-batches-bin/``). Records of 1 label byte and 3,072 pixel bytes (red, green,
    blue planes of 32x32) in ``data_batch_1..5.bin`` (train) and ``test_batch.bin``."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raw = {}
        for n in CIFAR10_BATCHES:
            try:
                with open(os.path.join(path, n), "rb") as f:
                    raw[n] = f.read()
            except FileNotFoundError:
                raise ValueError(
                    f"{path}: not the extracted CIFAR-10 binary version (no {n})"
                ) from None
        return _cifar10_records(path, raw)
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}
            missing = [n for n in CIFAR10_BATCHES if n not in members]
            if missing:
                raise ValueError(f"{path}: not the CIFAR-10 binary archive (no {missing[0]})")
            raw = {n: tar.extractfile(members[n]).read() for n in CIFAR10_BATCHES}
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path}: cannot read ({e})") from None
    return _cifar10_records(path, raw)


def _cifar10_records(path: str, raw: dict[str, bytes]) -> Dataset:
    record = 1 + 3 * 32 * 32
    parts = []
    for n in CIFAR10_BATCHES:
        if len(raw[n]) % record:
            raise ValueError(
                f"{path}: {n} holds {len(raw[n])} bytes, not whole {record}-byte records"
            )
        rows = np.frombuffer(raw[n], np.uint8).reshape(-1, record)
        if rows.size and rows[:, 0].max() > 9:
            raise ValueError(f"{path}: {n} has labels above 9: not CIFAR-10's binary records")
        parts.append(rows)
    train, test = np.concatenate(parts[:5]), parts[5]

    def split(rows):
        images = rows[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
        return images, rows[:, 0].astype(np.int64)

    return Dataset(*split(train), *split(test))


def load_cifar10(root: str | os.PathLike | None = None, download: bool = False) -> Dataset:
    """CIFAR-10: 50,000 + 10,000 32x32 colour images of 10 classes (:data:`CIFAR10_CLASSES`),
    (N, 3, 32, 32) float32 in [0, 1], read from the binary version (plain bytes, no pickles).

    ``root`` (default ``data_home()/cifar10``) holds ``cifar-10-binary.tar.gz``, or is (or holds)
    the extracted ``cifar-10-batches-bin/`` folder; ``download=True`` fetches the archive
    (162 MB, MD5-checked). The Python version (``cifar-10-batches-py``, pickles) is refused,
    never unpickled: get the binary version.
    """
    directory = _folder("cifar10", root)
    (name,) = RESOURCES["cifar10"][1]
    if download:
        _fetch_all("cifar10", directory)
    for folder in (directory, os.path.join(directory, "cifar-10-batches-bin")):
        if os.path.isfile(os.path.join(folder, "data_batch_1.bin")):
            return read_cifar10_binary(folder)
    path = os.path.join(directory, name)
    if os.path.isfile(path):
        return read_cifar10_binary(path)
    for python in (directory, os.path.join(directory, "cifar-10-batches-py")):
        if os.path.isfile(os.path.join(python, "data_batch_1")):
            raise ValueError(
                f"load_cifar10: {python} is CIFAR-10's Python version (pickled batches, which "
                f"are never loaded): get the binary version, {name}, instead (download=True)"
            )
    raise FileNotFoundError(
        f"load_cifar10: {path} (or the extracted cifar-10-batches-bin folder) not found; {_HOW} it"
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
