"""Reading an input file (a topology, a lock file) as text, or refusing it with FILE:LINE.

Only a regular file is read: a FIFO would block ``open`` forever and a device never ends, so
the file is opened without blocking and checked before a byte is read. Its size is bounded
before reading, and text that is not UTF-8 is refused naming the line of the first bad byte.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vpnctl.errors import Diagnostic, InputError


def refuse(path: Path, message: str, line: int = 1) -> InputError:
    return InputError([Diagnostic(str(path), line, "(file)", message)])


def read_text(path: Path, limit: int) -> str:
    """The text of the regular file ``path``, at most ``limit`` bytes of UTF-8.

    FileNotFoundError passes through (a missing lock file is no error); every other reason
    the file cannot be read is an InputError.
    """
    try:
        data = _read_bytes(path, limit)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise refuse(path, f"cannot be read: {exc.strerror or exc}") from None
    return decode(data, path)


def decode(data: bytes, path: Path) -> str:
    """``data`` as UTF-8 text; InputError naming the line of the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise refuse(
            path, f"is not UTF-8 text (byte {data[exc.start]:#04x} cannot be decoded)", line
        ) from None


def _read_bytes(path: Path, limit: int) -> bytes:
    # O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise refuse(path, f"is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise refuse(path, f"is {info.st_size:,} bytes; an input file may be {limit:,}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while being read
        raise refuse(path, f"is over {limit:,} bytes; an input file may be {limit:,}")
    return data


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((what for test, what in kinds if test(mode)), "not a file")
