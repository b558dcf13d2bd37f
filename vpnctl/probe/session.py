"""One probe run: every target's echoes sent on schedule and matched to replies, concurrently.

Echoes to N targets are spread evenly over each interval (target k sends at
``start + seq * interval + k * interval / N``), so 200 targets are not 200 packets in one burst.
Each echo carries a per-run token, the target's index and its sequence number, so a reply is
matched exactly, whatever the kernel did to the ICMP identifier, and a stray reply from
another prober is ignored.

The run listens until every echo is answered or the last one sent has waited ``timeout``.
Replies that come after their own echo's timeout but before the run ends are "late".

Time comes from ``clock``, and waiting happens only inside ``transport.receive``: with a fake
transport and a fake clock a whole run takes no time at all.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address

from vpnctl.probe.measure import Echo
from vpnctl.probe.transport import Clock, Reply, Transport

_TAG = struct.Struct("!8sII")
PAYLOAD_SIZE = 56  # what ping sends: 64 bytes of ICMP


@dataclass(frozen=True)
class Schedule:
    count: int = 20
    interval_ms: float = 200.0
    timeout_ms: float = 1000.0


def payload(token: bytes, index: int, seq: int) -> bytes:
    return _TAG.pack(token, index, seq).ljust(PAYLOAD_SIZE, b"\xa5")


def run(
    addresses: Sequence[IPv4Address],
    schedule: Schedule,
    transport: Transport,
    clock: Clock,
    token: bytes | None = None,
) -> tuple[tuple[Echo, ...], ...]:
    """Probe every address; one tuple of echoes per address, in the same order."""
    book = _Book(addresses, schedule, token or os.urandom(8))
    plan = _plan(len(addresses), schedule, clock() + 0.001)
    next_send = 0
    while True:
        now = clock()
        while next_send < len(plan) and plan[next_send][0] <= now:
            book.send(transport, clock, *plan[next_send])
            next_send += 1
        wake = plan[next_send][0] if next_send < len(plan) else book.deadline()
        if next_send == len(plan) and (book.all_answered() or now >= wake):
            return book.echoes()
        for reply in transport.receive(wake - now):
            book.record(reply)


def _plan(targets: int, schedule: Schedule, start: float) -> list[tuple[float, int, int]]:
    interval = schedule.interval_ms / 1000.0
    return sorted(
        (start + seq * interval + index * interval / targets, index, seq)
        for seq in range(schedule.count)
        for index in range(targets)
    )


class _Book:
    """The run's working state: what was sent when, and what came back."""

    def __init__(self, addresses: Sequence[IPv4Address], schedule: Schedule, token: bytes):
        self._addresses = list(addresses)
        self._timeout_ms = schedule.timeout_ms
        self._token = token
        self._echoes: list[list[Echo | None]] = [[None] * schedule.count for _ in addresses]
        self._last_sent = 0.0
        self._unanswered = 0

    def send(self, transport: Transport, clock: Clock, at: float, index: int, seq: int) -> None:
        sent_at: float | None = clock()
        try:
            transport.send(self._addresses[index], seq, payload(self._token, index, seq))
            self._unanswered += 1
        except OSError:
            sent_at = None
        self._echoes[index][seq] = Echo(seq=seq, scheduled=at, sent=sent_at)
        self._last_sent = clock()

    def record(self, reply: Reply) -> None:
        echo, index, seq = self._match(reply)
        if echo is None or echo.sent is None:
            return
        if echo.rtt_ms is not None:
            self._echoes[index][seq] = replace(echo, duplicates=echo.duplicates + 1)
            return
        rtt_ms = max(0.0, (reply.at - echo.sent) * 1000.0)
        self._echoes[index][seq] = replace(echo, rtt_ms=rtt_ms, late=rtt_ms > self._timeout_ms)
        self._unanswered -= 1

    def _match(self, reply: Reply) -> tuple[Echo | None, int, int]:
        if len(reply.payload) < _TAG.size:
            return None, 0, 0
        token, index, seq = _TAG.unpack_from(reply.payload)
        if token != self._token or index >= len(self._addresses):
            return None, 0, 0
        if seq >= len(self._echoes[index]) or reply.source != self._addresses[index]:
            return None, 0, 0
        return self._echoes[index][seq], index, seq

    def deadline(self) -> float:
        return self._last_sent + self._timeout_ms / 1000.0

    def all_answered(self) -> bool:
        return self._unanswered == 0

    def echoes(self) -> tuple[tuple[Echo, ...], ...]:
        return tuple(tuple(e for e in row if e is not None) for row in self._echoes)
