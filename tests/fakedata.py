"""Dataset files in their real formats, written by the tests, and a local HTTP server for them.

The server listens on 127.0.0.1 and serves ``/<mode>/<file name>``: ``ok`` (with Range support),
``down`` (503), ``corrupt`` (one byte changed), ``short`` (announces the whole length, sends the
first half, closes) and ``norange`` (ignores Range, always the whole file). It logs every request
as ``(mode, name, Range header)``; no test touches the internet.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from tinygrad_cnn import data


def idx_gz(array: np.ndarray) -> bytes:
    a = np.ascontiguousarray(array, np.uint8)
    header = bytes([0, 0, 0x08, a.ndim]) + np.asarray(a.shape, ">i4").tobytes()
    return gzip.compress(header + a.tobytes(), mtime=0)


def mnist_files(n_train: int = 12, n_test: int = 6, seed: int = 0) -> tuple[dict, dict]:
    """The four MNIST .gz files (name -> bytes) and the arrays they hold."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    return {k: idx_gz(v) for k, v in arrays.items()}, arrays


def cifar10_tar(per_batch: int = 4, seed: int = 0) -> tuple[bytes, np.ndarray, np.ndarray]:
    """``cifar-10-binary.tar.gz`` with ``per_batch`` records in each of the six batch files;
    returns the bytes and all records (train first) as (labels, pixels)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, 6 * per_batch, dtype=np.uint8)
    pixels = rng.integers(0, 256, (6 * per_batch, 3 * 32 * 32), dtype=np.uint8)
    records = np.concatenate([labels[:, None], pixels], axis=1)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for k, name in enumerate(["batches.meta.txt", *names]):
            payload = (
                b"\n".join(c.encode() for c in data.CIFAR10_CLASSES)
                if k == 0
                else records[(k - 1) * per_batch : k * per_batch].tobytes()
            )
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue(), labels, pixels


def md5(blob: bytes) -> str:
    return hashlib.md5(blob).hexdigest()


class Server:
    """``with Server(files) as s:`` serves ``files`` (name -> bytes) at ``s.url(mode)``."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.log = dict(files), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                _, mode, name = self.path.split("/", 2)
                rng = self.headers.get("Range")
                outer.log.append((mode, name, rng))
                body = outer.files.get(name)
                if mode == "down" or body is None:
                    self.send_error(503 if mode == "down" else 404)
                    return
                if mode == "corrupt":
                    body = bytes([body[0] ^ 0xFF]) + body[1:]
                start = 0
                if rng and mode in ("ok", "short"):
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                if mode == "short":
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{mode}/"

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
