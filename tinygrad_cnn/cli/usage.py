"""User mistakes on the command line: one line on stderr and exit status 2, a traceback only with
``--debug``."""

from __future__ import annotations

import argparse
import math
import sys


class UsageError(Exception):
    """A mistake in what the user asked for (a flag, a file, a folder), not a bug."""


def add_debug_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")


def print_error(prog: str, error: BaseException) -> None:
    """Print ``prog: error: message`` (its first line) to stderr."""
    lines = str(error).strip().splitlines()
    print(f"{prog}: error: {lines[0] if lines else type(error).__name__}", file=sys.stderr)


def check_number(flag: str, value: float | None, minimum: float, *, strict: bool = False) -> None:
    """A flag's value, when given, must be a finite number >= ``minimum`` (> with ``strict``)."""
    if value is None:
        return
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        need = f"{'>' if strict else '>='} {minimum:g}"
        raise UsageError(f"{flag} must be a finite number {need}, got {value}")
