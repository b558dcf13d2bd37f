"""Fakes and builders for the probe's unit tests: a clock that only moves when told, and an
echo network whose every delay, loss and duplicate is chosen by the test."""

from __future__ import annotations

import errno
import heapq
import itertools
import os
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address
from pathlib import Path

from vpnctl.probe.measure import Echo, summarise
from vpnctl.probe.report import Report, Result, Target
from vpnctl.probe.transport import Reply
from vpnctl.probe.verdict import judge
from vpnctl.topology import Thresholds

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "probe"
WARN = Thresholds(loss_pct=2.0, rtt_ms=250.0)
CRIT = Thresholds(loss_pct=10.0, rtt_ms=600.0)


class FakeClock:
    """Seconds; moves only when the fake network waits, or by ``cost`` per reading."""

    def __init__(self, now: float = 1000.0, cost: float = 0.0) -> None:
        self.now = now
        self.cost = cost

    def __call__(self) -> float:
        self.now += self.cost
        return self.now


# Delays, in seconds, of the replies one echo gets: () lost, (d,) answered, (d, d2) duplicated.
Behaviour = Callable[[IPv4Address, int], Sequence[float]]


class FakeNetwork:
    """A Transport whose replies arrive when ``behaviour`` says, on the fake clock."""

    kind = "fake"

    def __init__(self, clock: FakeClock, behaviour: Behaviour, unreachable: Sequence[str] = ()):
        self.clock = clock
        self.behaviour = behaviour
        self.unreachable = {IPv4Address(a) for a in unreachable}
        self.sent: list[tuple[float, IPv4Address, int]] = []
        self.closed = False
        self._queue: list[tuple[float, int, Reply]] = []
        self._order = itertools.count()

    def send(self, address: IPv4Address, seq: int, payload: bytes) -> None:
        if address in self.unreachable:
            raise OSError(errno.EHOSTUNREACH, "No route to host")
        now = self.clock.now
        self.sent.append((now, address, seq))
        for delay in self.behaviour(address, seq):
            reply = Reply(address, payload, now + delay)
            heapq.heappush(self._queue, (now + delay, next(self._order), reply))

    def inject(self, reply: Reply) -> None:
        heapq.heappush(self._queue, (reply.at, next(self._order), reply))

    def receive(self, timeout_s: float) -> list[Reply]:
        deadline = self.clock.now + max(0.0, timeout_s)
        if not self._queue or self._queue[0][0] > deadline:
            self.clock.now = deadline
            return []
        self.clock.now = max(self.clock.now, self._queue[0][0])
        replies = []
        while self._queue and self._queue[0][0] <= self.clock.now:
            replies.append(heapq.heappop(self._queue)[2])
        return replies

    def close(self) -> None:
        self.closed = True


def constant(delay_s: float) -> Behaviour:
    return lambda _address, _seq: (delay_s,)


def echoes(rtts: Sequence[float | None], late_after: float = 1000.0) -> list[Echo]:
    """Echoes sent on time at 1 s intervals, with these RTTs (None: lost)."""
    return [
        Echo(
            seq=i,
            scheduled=float(i),
            sent=float(i),
            rtt_ms=r,
            late=r is not None and r > late_after,
        )
        for i, r in enumerate(rtts)
    ]


def result(address: str, rtts: Sequence[float | None], **target: str) -> Result:
    stats = summarise(echoes(rtts))
    return Result(Target(IPv4Address(address), **target), stats, judge(stats, WARN, CRIT))


def report(*results: Result, started_at: float = 1_700_000_000.0) -> Report:
    lag = summarise(echoes([1.0])).lag
    return Report(tuple(results), WARN, CRIT, started_at, "raw", lag)


def golden(name: str, text: str) -> None:
    """Compare with tests/golden/probe/NAME; VPNCTL_UPDATE_GOLDEN=1 rewrites it instead."""
    path = GOLDEN / name
    if os.environ.get("VPNCTL_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with VPNCTL_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")
