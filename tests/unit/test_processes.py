"""Ending processes: TERM first, KILL what ignores it, and say whether any is left."""

from __future__ import annotations

import subprocess
import sys
import time

from vpnctl import processes

IGNORES_TERM = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    " print('ready', flush=True); time.sleep(60)"
)


def test_term_ends_the_willing_and_kill_the_rest() -> None:
    willing = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stubborn = subprocess.Popen([sys.executable, "-c", IGNORES_TERM], stdout=subprocess.PIPE)
    try:
        assert stubborn.stdout is not None
        assert stubborn.stdout.readline() == b"ready\n"  # its handler is set
        started = time.monotonic()

        def alive() -> list[int]:
            return [p.pid for p in (willing, stubborn) if p.poll() is None]

        assert processes.end(alive, grace_s=0.3)
        assert willing.returncode == -15  # TERM was enough
        assert stubborn.returncode == -9  # it took KILL, after the grace period
        assert time.monotonic() - started >= 0.3
    finally:
        for p in (willing, stubborn):
            p.kill()
            p.wait()
        if stubborn.stdout is not None:
            stubborn.stdout.close()
