"""ICMP echo on one socket, for every target at once.

An unprivileged ICMP datagram socket is preferred where ``net.ipv4.ping_group_range`` admits our
group: the kernel then sets the identifier and hands us only our own replies. Otherwise a raw
socket (root, or CAP_NET_RAW) does the same job, filtering replies by identifier. When neither
can be opened, ``open_transport`` raises ``TransportUnavailable``: the caller reports UNKNOWN,
never a link that is down, because it is the prober that cannot see, not the link that failed.

Replies carry the kernel's receive timestamp, so an RTT is not inflated by how long the prober
took to get round to reading its socket.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Protocol

ECHO_REPLY = 0
ECHO_REQUEST = 8
_HEADER = struct.Struct("!BBHHH")
_TIMESPEC = struct.Struct("@qq")
_RECEIVE_BUFFER = 4 * 1024 * 1024
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)

Clock = Callable[[], float]


class TransportUnavailable(Exception):
    """Neither kind of ICMP socket could be opened; the message says what to change."""


@dataclass(frozen=True)
class Reply:
    """An echo reply: who sent it, what it carried, and when it arrived (probe clock)."""

    source: IPv4Address
    payload: bytes
    at: float


class Transport(Protocol):
    """What a probe session needs: send an echo, wait for replies. Fakes implement this."""

    kind: str

    def send(self, address: IPv4Address, seq: int, payload: bytes) -> None: ...

    def receive(self, timeout_s: float) -> Sequence[Reply]: ...

    def close(self) -> None: ...


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    header = _HEADER.pack(ECHO_REQUEST, 0, 0, ident, seq & 0xFFFF)
    return _HEADER.pack(ECHO_REQUEST, 0, checksum(header + payload), ident, seq & 0xFFFF) + payload


def parse_reply(packet: bytes, raw: bool, ident: int) -> bytes | None:
    """The payload of an echo reply meant for us, or None for anything else."""
    if raw:
        if len(packet) < 20:
            return None
        packet = packet[(packet[0] & 0x0F) * 4 :]
    if len(packet) < _HEADER.size:
        return None
    kind, _code, _sum, their_ident, _seq = _HEADER.unpack_from(packet)
    if kind != ECHO_REPLY or (raw and their_ident != ident):
        return None
    return packet[_HEADER.size :]


SocketFactory = Callable[[int, int, int], socket.socket]


def open_transport(
    clock: Clock = time.monotonic, factory: SocketFactory = socket.socket
) -> IcmpTransport:
    """A datagram ICMP socket if allowed, else a raw one, else TransportUnavailable."""
    errors = []
    for kind, sock_type in (("dgram", socket.SOCK_DGRAM), ("raw", socket.SOCK_RAW)):
        try:
            sock = factory(socket.AF_INET, sock_type, socket.IPPROTO_ICMP)
        except OSError as exc:
            errors.append(f"{kind}: {exc.strerror or exc}")
            continue
        return IcmpTransport(sock, kind, clock)
    raise TransportUnavailable(
        "cannot open an ICMP socket ("
        + "; ".join(errors)
        + f"); net.ipv4.ping_group_range is {_ping_group_range()} and this process's group is"
        f" {os.getgid()}: widen the range (sysctl net.ipv4.ping_group_range='0 2147483647')"
        " or run as root"
    )


def _ping_group_range() -> str:
    try:
        with open("/proc/sys/net/ipv4/ping_group_range", encoding="ascii") as f:
            return "'" + " ".join(f.read().split()) + "'"
    except OSError:
        return "unreadable"


class IcmpTransport:
    """One ICMP socket shared by every target of a run."""

    def __init__(self, sock: socket.socket, kind: str, clock: Clock) -> None:
        self.kind = kind
        self._sock = sock
        self._clock = clock
        self._ident = os.getpid() & 0xFFFF
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        # select(), not epoll: epoll rounds its timeout up to whole milliseconds, which
        # would make every send up to 1 ms late.
        self._selector = selectors.SelectSelector()
        self._selector.register(sock, selectors.EVENT_READ)

    def send(self, address: IPv4Address, seq: int, payload: bytes) -> None:
        """Send one echo; OSError (no route, refused by a filter) goes to the caller."""
        self._sock.sendto(echo_request(self._ident, seq, payload), (str(address), 0))

    def receive(self, timeout_s: float) -> list[Reply]:
        """Wait up to ``timeout_s`` for the socket, then take everything it holds."""
        if not self._selector.select(max(0.0, timeout_s)):
            return []
        replies: list[Reply] = []
        while True:
            try:
                packet, ancillary, _flags, addr = self._sock.recvmsg(65535, 64)
            except (BlockingIOError, InterruptedError):
                return replies
            except OSError:
                continue  # an ICMP error queued on the socket: the echo it concerns is lost
            payload = parse_reply(packet, self.kind == "raw", self._ident)
            if payload is not None:
                replies.append(Reply(IPv4Address(addr[0]), payload, self._arrival(ancillary)))

    def _arrival(self, ancillary: list[tuple[int, int, bytes]]) -> float:
        """The kernel's receive time moved onto the probe clock, else the time now."""
        now = self._clock()
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = _TIMESPEC.unpack_from(data)
                waited = time.time() - (sec + nsec / 1e9)
                return float(now - max(0.0, waited))
        return now

    def close(self) -> None:
        self._selector.close()
        self._sock.close()
