"""Devices, honestly: this library computes on the CPU. ``device("cpu")``, ``.to("cpu")`` and
``.cpu()`` work as in PyTorch; ``cuda.is_available()`` and ``accelerator.is_available()`` are
False, and asking for another device is a clear error rather than a silent CPU run."""

from __future__ import annotations

from typing import Any


class device:
    """``device("cpu")`` (or ``device("cpu", 0)``); other device types are refused."""

    def __init__(self, type: Any = "cpu", index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {type!r}")
        name, _, number = type.partition(":")
        check_cpu("device", name)
        self.type = "cpu"
        self.index = index if index is not None else (int(number) if number.isdigit() else None)

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='cpu'{index})"

    def __str__(self) -> str:
        return "cpu" if self.index is None else f"cpu:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and other.type == self.type

    __hash__ = object.__hash__


def check_cpu(fn: str, where: Any) -> None:
    """Refuse a device other than the CPU, naming ``fn`` and the device."""
    name = where.type if isinstance(where, device) else str(where).partition(":")[0]
    if name != "cpu":
        raise RuntimeError(
            f"{fn}: device {str(where)!r} is not available: this library runs on the CPU only "
            "(use 'cpu', or leave the device out)"
        )


CPU = device.__new__(device)
CPU.type, CPU.index = "cpu", None


class _Unavailable:
    """``cuda`` and ``accelerator``: present so that PyTorch code can ask, always unavailable."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0


cuda = _Unavailable()
accelerator = _Unavailable()
