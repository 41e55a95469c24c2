"""Fetching dataset files: mirrors, checksums, resumable partial downloads, atomic writes.

:func:`fetch` puts one published file into a folder. It tries, in order, the base URL in the
environment variable ``TINYGRAD_CNN_MIRROR`` (a local mirror or an offline cache), then each of the
file's canonical locations. The bytes go to ``<name>.part`` next to the target; an interrupted
transfer is continued from where it stopped (an HTTP Range request; a server that ignores it
sends the whole file again). The target appears, by a rename, only once its MD5 matches the
published one, so a corrupt or partial file is never read as data.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

MIRROR_ENV = "TINYGRAD_CNN_MIRROR"
DATA_ENV = "TINYGRAD_CNN_DATA"
CHUNK = 1 << 16
TIMEOUT = 30.0  # seconds without a byte before a source counts as failed


class DownloadError(OSError):
    """Every source of a file failed, or what they sent does not match its checksum."""


def data_home() -> str:
    """Where datasets go by default: ``$TINYGRAD_CNN_DATA``, else ``~/.cache/tinygrad_cnn``
    (``$XDG_CACHE_HOME/tinygrad_cnn`` when that is set)."""
    if os.environ.get(DATA_ENV):
        return os.path.expanduser(os.environ[DATA_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "tinygrad_cnn")


def md5sum(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sources(name: str, urls: Sequence[str]) -> list[str]:
    """The URLs to try for file ``name``: the mirror's first, then the canonical ones."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return ([mirror.rstrip("/") + "/" + name] if mirror else []) + list(urls)


def fetch(
    name: str, urls: Sequence[str], md5: str, folder: str, progress: bool | None = None
) -> str:
    """``folder/name`` with the published ``md5``, downloaded if it is missing or wrong;
    returns its path. Raises :class:`DownloadError` naming every URL tried and what went wrong.
    ``progress``: a progress line on stderr (None: when stderr is a terminal).
    """
    if progress is None:
        progress = sys.stderr.isatty()
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, name)
    if os.path.isfile(target) and md5sum(target) == md5:
        return target
    part = target + ".part"
    failures = []
    for url in sources(name, urls):
        try:
            _transfer(url, part, progress)
        except (OSError, http.client.HTTPException, ValueError) as e:  # URLError is an OSError
            failures.append(f"{url}: {_reason(e)}")
            continue
        got = md5sum(part)
        if got != md5:
            os.remove(part)  # never kept: the next source starts afresh
            failures.append(f"{url}: checksum mismatch (md5 {got}, published {md5})")
            continue
        os.replace(part, target)
        return target
    raise DownloadError(
        f"could not download {name} into {folder}:\n  "
        + "\n  ".join(failures)
        + f"\n(set {MIRROR_ENV} to a base URL that serves {name}, or put the file there yourself)"
    )


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    return str(getattr(e, "reason", None) or e) or type(e).__name__


def _transfer(url: str, part: str, progress: bool) -> None:
    """Append the rest of ``url`` to ``part`` (Range from its size); raises on a short read."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as e:
        if e.code != 416 or not have:  # 416: the range is past the end; start over
            raise
        os.remove(part)
        have, response = 0, urllib.request.urlopen(url, timeout=TIMEOUT)
    with response:
        if have and response.status != 206:  # the server sends the whole file: start over
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        done = have
        bar = _Bar(os.path.basename(part)[: -len(".part")], total) if progress else None
        with open(part, "ab" if have else "wb") as f:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                f.write(block)
                done += len(block)
                if bar:
                    bar.update(done)
        if bar:
            bar.close()
    if total is not None and done < total:
        raise OSError(
            f"the transfer stopped at {done} of {total} bytes (kept; run again to resume)"
        )


class _Bar:
    """A one-line progress report on stderr: name, MB so far, percent, speed."""

    def __init__(self, name: str, total: int | None) -> None:
        self.name, self.total, self.start, self.shown = name, total, time.monotonic(), 0.0
        self.done = 0

    def update(self, done: int, final: bool = False) -> None:
        now, self.done = time.monotonic(), done
        if not final and now - self.shown < 0.2:
            return
        self.shown = now
        speed = done / max(now - self.start, 1e-9) / 1e6
        pct = f" {100 * done / self.total:5.1f}%" if self.total else ""
        sys.stderr.write(f"\r{self.name}: {done / 1e6:7.1f} MB{pct} {speed:6.1f} MB/s")
        sys.stderr.flush()

    def close(self) -> None:
        self.update(self.done, final=True)
        sys.stderr.write("\n")
