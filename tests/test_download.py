"""Downloads against a local HTTP server: mirror first, fallback, checksums, resume, errors."""

import os

import numpy as np
import pytest

from tests.fakedata import Server, cifar10_tar, md5, mnist_files
from tinygrad_cnn import data
from tinygrad_cnn.data import download

BLOB = bytes(range(256)) * 40  # 10 KB
NAME = "blob.bin"


@pytest.fixture
def server(monkeypatch):
    monkeypatch.delenv(download.MIRROR_ENV, raising=False)
    monkeypatch.setattr(download, "CHUNK", 1024)  # several reads per file
    with Server({NAME: BLOB}) as s:
        yield s


CHECKSUM = md5(BLOB)


def fetch(server, folder, *modes, checksum=CHECKSUM):
    return download.fetch(NAME, [server.url(m) + NAME for m in modes], checksum, str(folder), False)


def test_the_mirror_is_tried_first_and_the_canonical_source_not_at_all(
    server, tmp_path, monkeypatch
):
    monkeypatch.setenv(download.MIRROR_ENV, server.url("ok"))
    path = fetch(server, tmp_path, "down")
    assert open(path, "rb").read() == BLOB
    assert server.log == [("ok", NAME, None)]


def test_a_failing_mirror_falls_back_to_the_canonical_source(server, tmp_path, monkeypatch):
    monkeypatch.setenv(download.MIRROR_ENV, server.url("down"))
    path = fetch(server, tmp_path, "ok")
    assert open(path, "rb").read() == BLOB
    assert [m for m, _, _ in server.log] == ["down", "ok"]
    assert os.listdir(tmp_path) == [NAME]  # no .part left


def test_a_wrong_checksum_is_never_kept_and_the_error_names_url_and_file(server, tmp_path):
    with pytest.raises(download.DownloadError) as e:
        fetch(server, tmp_path, "corrupt", "down")
    message = str(e.value)
    assert NAME in message and str(tmp_path) in message
    assert server.url("corrupt") + NAME in message and "checksum mismatch" in message
    assert server.url("down") + NAME in message and "503" in message
    assert download.MIRROR_ENV in message
    assert isinstance(e.value, OSError) and os.listdir(tmp_path) == []


def test_a_corrupt_source_then_a_good_one(server, tmp_path):
    assert open(fetch(server, tmp_path, "corrupt", "ok"), "rb").read() == BLOB


def test_a_transfer_cut_short_is_resumed_from_where_it_stopped(server, tmp_path):
    with pytest.raises(download.DownloadError, match="stopped at 5120 of 10240 bytes"):
        fetch(server, tmp_path, "short")
    assert os.path.getsize(tmp_path / (NAME + ".part")) == len(BLOB) // 2  # kept, not renamed
    assert not (tmp_path / NAME).exists()
    path = fetch(server, tmp_path, "ok")
    assert open(path, "rb").read() == BLOB
    assert server.log[-1] == ("ok", NAME, f"bytes={len(BLOB) // 2}-")


def test_a_server_that_ignores_range_restarts_the_file(server, tmp_path):
    (tmp_path / (NAME + ".part")).write_bytes(BLOB[:3000])
    path = fetch(server, tmp_path, "norange")
    assert open(path, "rb").read() == BLOB  # not the partial with the whole file appended


def test_a_partial_file_longer_than_the_source_starts_over(server, tmp_path):
    (tmp_path / (NAME + ".part")).write_bytes(BLOB + b"extra")
    assert open(fetch(server, tmp_path, "ok"), "rb").read() == BLOB


def test_a_good_file_is_not_fetched_again_and_a_damaged_one_is(server, tmp_path):
    fetch(server, tmp_path, "ok")
    fetch(server, tmp_path, "ok")
    assert len(server.log) == 1
    (tmp_path / NAME).write_bytes(b"damaged")
    assert open(fetch(server, tmp_path, "ok"), "rb").read() == BLOB
    assert len(server.log) == 2


def test_the_progress_bar_goes_to_stderr(server, tmp_path, capsys):
    download.fetch(NAME, [server.url("ok") + NAME], md5(BLOB), str(tmp_path), progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and NAME in captured.err and "100.0%" in captured.err


def test_data_home_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(download.DATA_ENV, str(tmp_path / "d"))
    assert download.data_home() == str(tmp_path / "d")
    monkeypatch.delenv(download.DATA_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert download.data_home() == str(tmp_path / "c" / "tinygrad_cnn")


# -- the datasets, downloaded from the local server ----------------------------------------------


def _serve(monkeypatch, dataset, files):
    """Point ``dataset``'s canonical source at a dead URL and the mirror at the local server,
    with the checksums of the files the test wrote."""
    server = Server(files)
    monkeypatch.setitem(
        data.RESOURCES, dataset, ([server.url("down")], {k: md5(v) for k, v in files.items()})
    )
    monkeypatch.setenv(download.MIRROR_ENV, server.url("ok"))
    return server


@pytest.mark.parametrize(
    "loader, dataset",
    [
        (data.load_mnist, "mnist"),
        (data.load_fashion_mnist, "fashion-mnist"),
    ],
)
def test_idx_datasets_download_and_load(monkeypatch, tmp_path, loader, dataset):
    files, arrays = mnist_files()
    with _serve(monkeypatch, dataset, files):
        ds = loader(tmp_path, download=True)
        again = loader(tmp_path)  # no download needed now
    assert sorted(os.listdir(tmp_path)) == sorted(files)
    np.testing.assert_array_equal(ds.x_train[:, 0] * 255, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    np.testing.assert_array_equal(again.x_test, ds.x_test)


def test_cifar10_downloads_and_loads_channels_first(monkeypatch, tmp_path):
    blob, labels, pixels = cifar10_tar(per_batch=3)
    with _serve(monkeypatch, "cifar10", {"cifar-10-binary.tar.gz": blob}):
        ds = data.load_cifar10(tmp_path, download=True)
    assert ds.x_train.shape == (15, 3, 32, 32) and ds.x_test.shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(ds.y_train, labels[:15])
    np.testing.assert_array_equal(ds.x_test.reshape(3, -1) * 255, pixels[15:])
    np.testing.assert_array_equal(ds.x_train[0, 1] * 255, pixels[0, 1024:2048].reshape(32, 32))


def test_the_default_root_is_under_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv(download.DATA_ENV, str(tmp_path))
    files, _ = mnist_files()
    with _serve(monkeypatch, "mnist", files):
        data.load_mnist(download=True)
    assert sorted(os.listdir(tmp_path / "mnist")) == sorted(files)


@pytest.mark.parametrize("loader", [data.load_mnist, data.load_fashion_mnist, data.load_cifar10])
def test_without_download_a_missing_dataset_says_how_to_get_it(tmp_path, loader):
    with pytest.raises(FileNotFoundError, match=f"{loader.__name__}: .*download=True"):
        loader(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="download=True"):
        loader(tmp_path / "empty")


def test_a_damaged_cifar_archive_is_a_clear_error(tmp_path):
    blob, _, _ = cifar10_tar()
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="cifar-10-binary.tar.gz: cannot read"):
        data.load_cifar10(tmp_path)


def test_when_every_source_fails_the_loader_raises_download_error(monkeypatch, tmp_path):
    files, _ = mnist_files()
    with _serve(monkeypatch, "mnist", files) as server:
        monkeypatch.setenv(download.MIRROR_ENV, server.url("down"))
        with pytest.raises(download.DownloadError, match="train-images-idx3-ubyte.gz"):
            data.load_mnist(tmp_path, download=True)
