"""Writing files whole or not at all, and reading arrays back safely: the one home of file
writing for checkpoints, ``Module.save``/``load``, metrics and pictures.

:func:`atomic_path` writes to a temporary file beside the target and renames it when complete,
so a crash or a Ctrl-C leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator

import numpy as np


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays to an .npz file atomically (see :func:`atomic_path`), so a crash never leaves
    a half-written file behind."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary file next to ``path`` to write; renamed to ``path`` when the block completes,
    deleted when it raises (Ctrl-C included), so ``path`` is always whole: the old or the new.

    The temporary file is ``.tmp-<pid>-*<extension of path>``; one left by a writer that was
    killed (its process is gone) is removed by the next write into that folder."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(folder)
    suffix = os.path.splitext(path)[1]  # matplotlib picks the format from it
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".tmp-{os.getpid()}-", suffix=suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it a normal file's mode
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_stale_temporaries(folder: str) -> list[str]:
    """Delete the ``.tmp-<pid>-*`` files in ``folder`` whose writer no longer runs (and
    those without a pid, from older versions); returns what was removed."""
    removed = []
    for name in os.listdir(folder):
        if not name.startswith(".tmp-"):
            continue
        pid = name.split("-")[1]
        if pid.isdigit() and _running(int(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):  # another writer's cleanup was first
            os.unlink(os.path.join(folder, name))
            removed.append(name)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):  # alive, but another user's
        return True
    return True


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an .npz checkpoint with ``allow_pickle=False``; a ValueError naming the file for
    anything that is not an intact .npz of plain arrays (truncated, corrupt, .npy, pickles)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder, not an .npz file")
    try:
        with contextlib.ExitStack() as stack:
            f = np.load(path, allow_pickle=False)
            if not isinstance(f, np.lib.npyio.NpzFile):
                raise ValueError(f"{path}: a single .npy array, not an .npz archive of arrays")
            stack.enter_context(f)
            return {k: f[k] for k in f.files}  # reads (and CRC-checks) every array now
    except ValueError as e:
        if str(e).startswith(path):
            raise
        raise ValueError(
            f"{path}: not a valid checkpoint (it may hold pickled objects, which are never "
            f"loaded): {e}"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise ValueError(f"{path}: not a readable .npz file (truncated or corrupt?): {e}") from None
