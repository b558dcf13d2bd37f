"""Shared by the probe's system tests: run vpnctl probe in a namespace, fping beside it, and
the binomial interval a measured loss must fall in."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tests.system.netns import Namespace

T = TypeVar("T")
RESPONDER = Path(__file__).with_name("echo_responder.py")


def probe_text(ns: Namespace, *args: str) -> tuple[int, str]:
    """``vpnctl probe ARGS`` inside ``ns``: (exit status, what it printed)."""
    done = ns.run(sys.executable, "-m", "vpnctl", "probe", *args, check=False)
    assert not done.stderr.strip() or done.returncode, done.stderr
    return done.returncode, str(done.stdout)


def probe(ns: Namespace, *args: str) -> tuple[int, dict[str, Any]]:
    """``vpnctl probe ARGS --format json`` inside ``ns``: (exit status, parsed output)."""
    status, text = probe_text(ns, *args, "--format", "json")
    document: dict[str, Any] = json.loads(text)
    return status, document


def fping(
    ns: Namespace, target: str, count: int, interval_ms: int, timeout_ms: int
) -> tuple[float, float | None]:
    """fping on the same path: (loss %, median RTT ms)."""
    done = ns.run(
        "fping",
        "-C",
        str(count),
        "-p",
        str(interval_ms),
        "-t",
        str(timeout_ms),
        "-q",
        "-B1",
        "-r0",
        target,
        check=False,
    )
    values = done.stderr.strip().split(":", 1)[1].split()
    rtts = [float(v) for v in values if v != "-"]
    loss = 100.0 * (len(values) - len(rtts)) / len(values)
    return loss, statistics.median(rtts) if rtts else None


def binomial_interval(n: int, p: float, confidence: float = 0.99) -> tuple[float, float]:
    """The central ``confidence`` interval of the loss %, for ``n`` echoes lost with chance p."""
    tail = (1.0 - confidence) / 2.0
    cdf, lo, hi = 0.0, None, n
    for k in range(n + 1):
        cdf += math.comb(n, k) * p**k * (1.0 - p) ** (n - k)
        if lo is None and cdf >= tail:
            lo = k
        if cdf >= 1.0 - tail:
            hi = k
            break
    return 100.0 * (lo or 0) / n, 100.0 * hi / n


def sampled_twice(measure: Callable[[], T], inside: Callable[[T], bool]) -> T:
    """Measure, and once more if the first sample falls outside the interval.

    A 99% interval is missed by 1 honest sample in 100; a second, independent sample makes a
    false failure 1 in 10,000, while a probe that is really wrong still fails both times.
    """
    first = measure()
    return first if inside(first) else measure()


@contextmanager
def delayed_echo(
    ns: Namespace, delay_ms: float, even_delay_ms: float | None = None
) -> Iterator[None]:
    """Answer echoes in ``ns`` from userspace, after a delay, instead of the kernel."""
    ns.run("sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
    args = [str(delay_ms)] + (["--late-seqs", str(even_delay_ms)] if even_delay_ms else [])
    proc = ns.popen(sys.executable, str(RESPONDER), *args, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    yield
