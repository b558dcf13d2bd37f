"""Run a function inside a network namespace, on a thread of its own.

``setns(CLONE_NEWNET)`` moves only the calling thread, so a worker thread can open sockets in
a lab namespace while the rest of the process stays where it was. Used by the lab's checks,
traffic and probes; the thread ends with the function, and the namespace change with it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from vpnctl.lab.shell import NETNS_DIR, LabError

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def enter(ns: str) -> None:
    """Move the calling thread into namespace ``ns`` (never call it on the main thread)."""
    fd = os.open(NETNS_DIR / ns, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise LabError(f"cannot enter network namespace {ns}: {os.strerror(err)}")
    finally:
        os.close(fd)


def call_in(ns: str, fn: Callable[[], T], timeout: float | None = None) -> T:
    """``fn()`` run inside ``ns`` on a fresh thread; its result, or its exception re-raised."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            enter(ns)
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{ns}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise LabError(f"work in namespace {ns} did not finish in {timeout}s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


def start_in(ns: str, fn: Callable[[], None], name: str) -> threading.Thread:
    """``fn`` running inside ``ns`` on a daemon thread, for work that goes on (servers, loops)."""

    def target() -> None:
        enter(ns)
        fn()

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
