"""Packets for firewall tests, run inside a test's namespace (root: raw sockets).

    python -m tests.system.packets listen SECONDS           # "ready", then JSON of what came
    python -m tests.system.packets send SRC DST PROTO SPORT DPORT [FLAGS]   # e.g. tcp ... ACK,FIN
    python -m tests.system.packets serve PROTO PORT         # echo server: "ready", then echoes
    python -m tests.system.packets call PROTO DST PORT      # exit 0 if the echo came back

``send`` writes one TCP segment or UDP datagram with the ports and TCP flags given, three times,
the way a host that forges them would; ``listen`` counts every TCP and UDP packet that reaches
its namespace (a raw socket sees them before any port does), so a test can tell which crafted
packets crossed the gateways. ``serve`` and ``call`` are a real flow and its replies.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import sys
import time
from collections.abc import Callable
from ipaddress import IPv4Address

FLAGS = {"FIN": 0x01, "SYN": 0x02, "RST": 0x04, "PSH": 0x08, "ACK": 0x10}
PAYLOAD = b"vpnctl"
TIMEOUT = 2.0


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def segment(src: str, dst: str, proto: str, sport: int, dport: int, flags: int) -> bytes:
    """IPv4 header (the kernel fills length, id and checksum) and a TCP or UDP header."""
    number = socket.IPPROTO_TCP if proto == "tcp" else socket.IPPROTO_UDP
    if proto == "tcp":
        header = struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000 if flags & 0x10 else 0,
                             5 << 4, flags, 64240, 0, 0)  # fmt: skip
    else:
        header = struct.pack("!HHHH", sport, dport, 8 + len(PAYLOAD), 0)
    body = header + PAYLOAD
    pseudo = IPv4Address(src).packed + IPv4Address(dst).packed
    pseudo += struct.pack("!BBH", 0, number, len(body))
    at = 16 if proto == "tcp" else 6
    body = body[:at] + struct.pack("!H", checksum(pseudo + body)) + body[at + 2 :]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, number, 0,
                     IPv4Address(src).packed, IPv4Address(dst).packed)  # fmt: skip
    return ip + body


def send(src: str, dst: str, proto: str, sport: str, dport: str, flags: str = "") -> None:
    bits = sum(FLAGS[f] for f in flags.split(",") if f)
    packet = segment(src, dst, proto, int(sport), int(dport), bits)
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as sock:
        for _ in range(3):
            sock.sendto(packet, (dst, 0))
            time.sleep(0.05)


def listen(seconds: str) -> None:
    socks = {
        socket.socket(socket.AF_INET, socket.SOCK_RAW, n): name
        for n, name in ((socket.IPPROTO_TCP, "tcp"), (socket.IPPROTO_UDP, "udp"))
    }
    print("ready", flush=True)
    seen: list[dict[str, object]] = []
    deadline = time.monotonic() + float(seconds)
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select(list(socks), [], [], left)
        for sock in readable:
            packet, (source, _) = sock.recvfrom(65535)
            l4 = packet[(packet[0] & 0x0F) * 4 :]
            sport, dport = struct.unpack_from("!HH", l4)
            flags = l4[13] if socks[sock] == "tcp" else 0
            seen.append({"proto": socks[sock], "src": source, "sport": sport, "dport": dport,
                         "flags": flags})  # fmt: skip
    print(json.dumps(seen), flush=True)


def serve(proto: str, port: str) -> None:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", int(port)))
        if proto == "tcp":
            sock.listen()
        print("ready", flush=True)
        while True:
            if proto == "udp":
                data, peer = sock.recvfrom(65535)
                sock.sendto(data, peer)
                continue
            conn, _ = sock.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                conn.sendall(conn.recv(65535))


def call(proto: str, dst: str, port: str) -> None:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.settimeout(TIMEOUT)
        try:
            sock.connect((dst, int(port)))
            sock.sendall(PAYLOAD)
            answered = sock.recv(65535) == PAYLOAD
        except OSError:
            answered = False
    sys.exit(0 if answered else 1)


if __name__ == "__main__":
    COMMANDS: dict[str, Callable[..., None]] = {
        "send": send,
        "listen": listen,
        "serve": serve,
        "call": call,
    }
    COMMANDS[sys.argv[1]](*sys.argv[2:])
