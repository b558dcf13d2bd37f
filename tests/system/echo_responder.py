"""A userspace ICMP echo responder that answers after a delay: this kernel has no netem.

Run inside a namespace whose kernel replies are off (net.ipv4.icmp_echo_ignore_all=1):

    python echo_responder.py DELAY_MS [--late-seqs EVEN_DELAY_MS]

With ``--late-seqs`` echoes with an even sequence number are answered after that delay instead.
It prints "ready" once its socket is open.
"""

from __future__ import annotations

import heapq
import itertools
import select
import socket
import struct
import sys
import time

from vpnctl.probe.transport import checksum


def reply_to(request: bytes) -> bytes:
    body = b"\x00\x00\x00\x00" + request[4:]
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def main() -> None:
    delay = float(sys.argv[1]) / 1000.0
    even_delay = float(sys.argv[3]) / 1000.0 if len(sys.argv) > 3 else delay
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    queue: list[tuple[float, int, bytes, str]] = []
    order = itertools.count()
    print("ready", flush=True)
    while True:
        wait = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        readable, _, _ = select.select([sock], [], [], wait)
        if readable:
            packet, (source, _port) = sock.recvfrom(65535)
            arrived = time.monotonic()
            icmp = packet[(packet[0] & 0x0F) * 4 :]
            if icmp[0] == 8:
                seq = struct.unpack_from("!H", icmp, 6)[0]
                hold = even_delay if seq % 2 == 0 else delay
                heapq.heappush(queue, (arrived + hold, next(order), reply_to(icmp), source))
        while queue and queue[0][0] <= time.monotonic():
            _at, _n, reply, destination = heapq.heappop(queue)
            sock.sendto(reply, (destination, 0))


if __name__ == "__main__":
    main()
