"""Data: digits split, MNIST IDX reading (on files written here), the batch iterator."""

import gzip

import numpy as np
import pytest

import tinygrad_cnn as tg
from tests.fakedata import cifar10_tar, idx_gz
from tinygrad_cnn import data


def test_digits_split_is_fixed_and_holds_out_20_percent():
    pytest.importorskip("sklearn")
    a, b = data.load_digits(), data.load_digits()
    assert a.x_train.shape == (1438, 1, 8, 8) and a.x_test.shape == (359, 1, 8, 8)
    assert a.x_train.dtype == np.float32 and 0 <= a.x_train.min() and a.x_train.max() <= 1
    assert np.array_equal(a.y_test, b.y_test) and a.num_classes == 10


def write_mnist(folder, n_train=5, n_test=3, gz=False):
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, arr in files.items():
        data.write_idx(folder / (name + ext), arr)
    return files


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_reads_idx_files(tmp_path, gz):
    files = write_mnist(tmp_path, gz=gz)
    ds = data.load_mnist(tmp_path)
    assert ds.x_train.shape == (5, 1, 28, 28) and ds.x_test.shape == (3, 1, 28, 28)
    np.testing.assert_allclose(ds.x_train[:, 0] * 255, files["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.y_test, files["t10k-labels-idx1-ubyte"])


def test_idx_round_trip_of_other_dtypes(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    data.write_idx(tmp_path / "f.idx", a)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "f.idx"), a)


def test_missing_mnist_files_are_named(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        data.load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        data.load_mnist(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "content, pattern",
    [
        (b"\x12\x34\x08\x01" + b"\x00" * 8, "bad magic"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05" + b"\x01\x02", r"says shape \(5,\)"),
    ],
)
def test_malformed_idx_files_are_clear_errors(tmp_path, content, pattern):
    path = tmp_path / "bad-idx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=pattern):
        data.read_idx(path)


def test_mismatched_counts_are_an_error(tmp_path):
    write_mnist(tmp_path)
    data.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="do not match"):
        data.load_mnist(tmp_path)


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02")[:-6])
    with pytest.raises(ValueError, match="cannot read"):
        data.read_idx(path)


def test_a_dataset_gives_its_splits_to_a_dataloader():
    ds = data.load_digits()
    train = ds.train
    assert len(train) == len(ds.x_train) and isinstance(train, tg.utils.data.TensorDataset)
    x, y = train[3]
    assert x.shape == (1, 8, 8) and x.dtype == tg.float32 and y.dtype == tg.int64
    assert train.tensors[0].numpy() is not None and np.shares_memory(
        train.tensors[0]._data, ds.x_train
    )
    xb, yb = next(iter(tg.utils.data.DataLoader(ds.test, batch_size=5)))
    np.testing.assert_array_equal(xb.numpy(), ds.x_test[:5])
    np.testing.assert_array_equal(yb.numpy(), ds.y_test[:5])


def test_a_tensor_dataset_batch_is_the_stack_of_its_samples():
    # the DataLoader indexes a TensorDataset's tensors at once: the same as collating samples
    ds = tg.utils.data.TensorDataset(tg.randn(10, 2, 3), tg.arange(10))
    gen = np.random.default_rng(0)
    fast = list(tg.utils.data.DataLoader(ds, batch_size=4, shuffle=True, generator=gen))
    gen = np.random.default_rng(0)
    slow = tg.utils.data.DataLoader(
        ds,
        batch_size=4,
        shuffle=True,
        generator=gen,
        collate_fn=lambda b: tg.utils.data.default_collate(b),
    )
    for (a, b), (c, d) in zip(fast, slow):
        assert a.equal(c) and b.equal(d) and a.dtype == c.dtype and b.dtype == d.dtype


def test_idx_files_of_the_wrong_sizes_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (4, 8, 8), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 4, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 2, dtype=np.uint8),
    }
    for name, array in files.items():
        (tmp_path / name).write_bytes(idx_gz(array))
    with pytest.raises(ValueError, match=r"load_mnist: train images of \(8, 8\)"):
        data.load_mnist(tmp_path)


def test_cifar10_is_read_from_the_extracted_folder_as_from_the_archive(tmp_path):
    import io
    import tarfile

    blob, labels, pixels = cifar10_tar(per_batch=3)
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "cifar-10-binary.tar.gz").write_bytes(blob)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        tar.extractall(tmp_path / "extracted", filter="data")
    from_archive = data.load_cifar10(tmp_path / "archive")
    for root in (tmp_path / "extracted", tmp_path / "extracted" / "cifar-10-batches-bin"):
        ds = data.load_cifar10(root)  # the folder's parent, or the folder itself
        for a, b in zip(ds, from_archive):
            np.testing.assert_array_equal(a, b)
    assert ds.x_train.shape == (15, 3, 32, 32) and ds.y_test.tolist() == labels[15:].tolist()
    (tmp_path / "extracted" / "cifar-10-batches-bin" / "test_batch.bin").unlink()
    with pytest.raises(
        ValueError, match="not the extracted CIFAR-10 binary version .no test_batch"
    ):
        data.load_cifar10(tmp_path / "extracted")


def test_the_python_version_of_cifar10_is_refused_never_unpickled(tmp_path):
    py = tmp_path / "cifar-10-batches-py"
    py.mkdir()
    (py / "data_batch_1").write_bytes(b"\x80\x04 not to be unpickled")
    for root in (tmp_path, py):
        with pytest.raises(ValueError, match="Python version .* get the binary version"):
            data.load_cifar10(root)
    with pytest.raises(FileNotFoundError, match=r"tar.gz \(or the extracted .*\) not found"):
        data.load_cifar10(tmp_path / "empty")
