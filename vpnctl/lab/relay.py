"""A small UDP relay that delays packets: the lab's stand-in for a long, slow border.

The machine's kernel has no netem, so delay is added in user space. For each delayed tunnel
the relay owns two addresses in the internet namespace: ``a_view``, where gateway A believes
gateway B is (A's hosts file says so), and ``b_view``, where B believes A is. A datagram from A
to ``a_view`` leaves from ``b_view`` to B after ``delay_ms``, and the other way round, so each
end sees its peer at the address it looked up. Run as ``python -m vpnctl.lab.relay SPEC.json``
inside the internet namespace.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import selectors
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Leg:
    a: str  # gateway A's real address
    b: str
    a_view: str  # where A sends for B
    b_view: str  # where B sends for A
    port: int
    delay_ms: float


def legs_from(spec: str) -> list[Leg]:
    return [Leg(**leg) for leg in json.loads(spec)]


class Relay:
    def __init__(self, legs: list[Leg]) -> None:
        # select(), not epoll: epoll rounds timeouts up to whole milliseconds, which would add
        # up to a millisecond to every delayed packet
        self.selector = selectors.SelectSelector()
        self.queue: list[tuple[float, int, socket.socket, bytes, tuple[str, int]]] = []
        self.counter = 0
        for leg in legs:
            at_a, at_b = self._bind(leg.a_view, leg.port), self._bind(leg.b_view, leg.port)
            # from A (arrives on a_view): out of b_view to B; from B: out of a_view to A
            self.selector.register(at_a, selectors.EVENT_READ, (at_b, (leg.b, leg.port), leg))
            self.selector.register(at_b, selectors.EVENT_READ, (at_a, (leg.a, leg.port), leg))

    @staticmethod
    def _bind(address: str, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((address, port))
        sock.setblocking(False)
        return sock

    def step(self) -> None:
        now = time.monotonic()
        timeout = max(self.queue[0][0] - now, 0) if self.queue else 1.0
        for key, _ in self.selector.select(timeout):
            out, destination, leg = key.data
            try:
                data = key.fileobj.recv(65535)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            self.counter += 1
            due = time.monotonic() + leg.delay_ms / 1000
            heapq.heappush(self.queue, (due, self.counter, out, data, destination))
        now = time.monotonic()
        while self.queue and self.queue[0][0] <= now:
            _, _, out, data, destination = heapq.heappop(self.queue)
            with contextlib.suppress(OSError):  # the peer is gone (a drill): drop, go on
                out.sendto(data, destination)

    def forever(self) -> None:
        while True:
            self.step()


def main() -> None:
    Relay(legs_from(Path(sys.argv[1]).read_text())).forever()


if __name__ == "__main__":
    main()
