"""Echo servers in the lab's hosts, and one request-and-reply exchange with them.

``lab test``'s checks and the drills' TCP and UDP streams talk to these: a UDP server sends
every datagram back; a TCP server sends back what a connection brings until the client closes,
then closes too. Each server runs on a thread inside its host's namespace until the context ends.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable, Iterator
from functools import partial
from ipaddress import IPv4Address

from vpnctl.lab import netthread

TIMEOUT = 1.5
MESSAGE = b"vpnctl lab"

Endpoint = tuple[str, str, IPv4Address, int | None]  # (proto, namespace, address, port)


@contextlib.contextmanager
def serving(endpoints: Iterable[Endpoint]) -> Iterator[None]:
    stop = threading.Event()
    ready: list[threading.Event] = []
    threads = []
    for proto, ns, address, port in sorted(set(endpoints), key=str):
        event = threading.Event()
        ready.append(event)
        serve = partial(_serve, proto, address, port, event, stop)
        threads.append(netthread.start_in(ns, serve, f"serve-{ns}-{proto}-{port}"))
    for event in ready:
        event.wait(5)
    try:
        yield
    finally:
        stop.set()
        for thread in threads:  # their ports are free again when this returns
            thread.join(2)


def _serve(proto: str, address: IPv4Address, port: int | None, ready: threading.Event,
           stop: threading.Event) -> None:  # fmt: skip
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((str(address), port or 0))
        if proto == "tcp":
            sock.listen(128)
        sock.settimeout(0.2)
        ready.set()
        while not stop.is_set():
            try:
                if proto == "tcp":
                    conn, _ = sock.accept()
                    threading.Thread(target=_echo, args=(conn,), daemon=True).start()
                else:
                    data, peer = sock.recvfrom(2048)
                    sock.sendto(data, peer)
            except OSError:
                continue


def _echo(conn: socket.socket) -> None:
    """One TCP connection (an accepted socket stays in its listener's namespace)."""
    with conn:
        conn.settimeout(TIMEOUT * 2)
        with contextlib.suppress(OSError):
            while data := conn.recv(2048):
                conn.sendall(data)


def exchange(proto: str, address: IPv4Address, port: int, timeout: float = TIMEOUT) -> bool:
    """A request and its reply: for TCP a connection (handshake), a message each way and an
    orderly close each way; for UDP one datagram and its echo. Run inside the client's
    namespace."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((str(address), port))
            sock.sendall(MESSAGE)
            got = sock.recv(64)
            if proto == "tcp":
                sock.shutdown(socket.SHUT_WR)
                return got == MESSAGE and sock.recv(64) == b""  # the server's FIN came back
            return got == MESSAGE
        except OSError:
            return False
