"""Ending processes the way init systems do: TERM, a grace period, then KILL what is left.

Shared by the gateway agent's process backend (its openvpn processes in a lab gateway) and the
lab (every process of a namespace it removes).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence


def end(alive: Callable[[], Sequence[int]], grace_s: float, poll_s: float = 0.02) -> bool:
    """TERM every pid ``alive()`` names, wait up to ``grace_s`` for them to go, then KILL the
    rest and wait as long again. True when none is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while alive() and time.monotonic() < deadline:
            time.sleep(poll_s)
        if not alive():
            return True
    return False
