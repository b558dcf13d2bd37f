"""How an apply reports progress: live on a terminal, one plain line per step otherwise."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from vpnctl.aws.changes import Change


class Progress(Protocol):
    def begin(self, total: int) -> None: ...
    def done(self, change: Change) -> None: ...
    def waiting(self, what: str) -> None: ...
    def end(self) -> None: ...


@dataclass
class Quiet:
    """Nothing at all (tests, --format json)."""

    def begin(self, total: int) -> None:
        pass

    def done(self, change: Change) -> None:
        pass

    def waiting(self, what: str) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass
class Lines:
    """One line per change made, for logs and CI: greppable, no escape codes."""

    out: TextIO = field(default_factory=lambda: sys.stderr)
    total: int = 0
    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def begin(self, total: int) -> None:
        self.total = total

    def done(self, change: Change) -> None:
        with self._lock:
            self.count += 1
            w = change.where
            print(
                f"[{self.count}/{self.total}] {w.account}/{w.region}: "
                f"{change.sign} {change.describe()}",
                file=self.out,
                flush=True,
            )

    def waiting(self, what: str) -> None:
        print(f"waiting: {what}", file=self.out, flush=True)

    def end(self) -> None:
        pass


def columns(stream: TextIO) -> int:
    """The width of the terminal behind ``stream`` (80 when it cannot tell)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        return 80


@dataclass
class Terminal:
    """One status line rewritten in place: done of total, the stage by name, per account/region,
    what we wait for.

    The line is cut to the terminal's width, asked at every write (the window may be resized):
    a line that wraps cannot be rewritten in place and leaves its first rows behind.
    """

    out: TextIO = field(default_factory=lambda: sys.stderr)
    width: Callable[[], int] | None = None  # default: the terminal's columns
    total: int = 0
    count: int = 0
    by_region: dict[str, int] = field(default_factory=dict)
    stage: str = ""  # the stage of the last change done, by name
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def begin(self, total: int) -> None:
        self.total = total
        self.show("starting")

    def done(self, change: Change) -> None:
        with self._lock:
            self.count += 1
            key = f"{change.where.account}/{change.where.region}"
            self.by_region[key] = self.by_region.get(key, 0) + 1
            self.stage = change.stage.label
            self.show(f"{change.sign} {change.describe()}")

    def waiting(self, what: str) -> None:
        with self._lock:
            self.show(f"waiting for {what}")

    def show(self, what: str) -> None:
        regions = " ".join(f"{k}:{v}" for k, v in sorted(self.by_region.items()))
        stage = f" {self.stage}" if self.stage else ""
        line = f"[{self.count}/{self.total}]{stage} {regions} | {what}"
        width = self.width() if self.width else columns(self.out)
        self.out.write("\r\x1b[2K" + _fit(line, max(width - 1, 10)))
        self.out.flush()

    def end(self) -> None:
        self.out.write("\r\x1b[2K")
        self.out.flush()


def _fit(line: str, width: int) -> str:
    """``line`` cut to ``width`` characters, an ellipsis marking the cut; the last column stays
    free, since writing into it makes some terminals wrap."""
    return line if len(line) <= width else line[: width - 1] + "…"


def for_stream(stream: TextIO) -> Progress:
    return Terminal(stream) if stream.isatty() else Lines(stream)
