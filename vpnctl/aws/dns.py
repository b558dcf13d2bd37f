"""Ask DNS what each gateway name answers, straight from the zone's name servers.

Not through the local resolver: its cache would hide a record changed a moment ago. With
``--resolver HOST[:PORT]`` the given server is asked instead (a split-horizon resolver, or a
test's server on loopback).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.query
import dns.rdatatype


@dataclass(frozen=True)
class Answer:
    name: str
    addresses: tuple[str, ...] = ()
    error: str | None = None
    asked: bool = True  # False: deliberately not asked (``error`` says why); not a problem


def server(spec: str) -> tuple[str, int]:
    """``1.2.3.4``, ``1.2.3.4:5353`` or ``ns-1.example.net`` -> (address, port)."""
    host, _, port = spec.rpartition(":") if spec.count(":") == 1 else (spec, "", "")
    host = host or spec
    address = socket.gethostbyname(host)
    return address, int(port) if port else 53


PARALLEL = 16  # queries in flight at once: a slow server costs one timeout, not one per name


def ask(
    names: Iterable[str],
    servers: Iterable[str],
    timeout: float = 3.0,
    progress: Callable[[int, int], None] | None = None,
) -> Mapping[str, Answer]:
    """What ``servers`` answer for each of ``names``, asked in parallel; ``progress(done,
    total)`` after each answer."""
    wanted = list(names)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        resolved = [s for s in pool.map(_server_or_none, servers) if s is not None]
        futures = [pool.submit(_ask_one, name, resolved, timeout) for name in wanted]
        answers: dict[str, Answer] = {}
        for done, (name, future) in enumerate(zip(wanted, futures, strict=True), start=1):
            answers[name] = future.result()
            if progress is not None:
                progress(done, len(wanted))
    return answers


def _server_or_none(spec: str) -> tuple[str, int] | None:
    try:
        return server(spec)
    except (OSError, ValueError):
        return None


def _ask_one(name: str, servers: list[tuple[str, int]], timeout: float) -> Answer:
    if not servers:
        return Answer(name, error="no name server reachable")
    last = "no answer"
    for address, port in servers:
        query = dns.message.make_query(name, dns.rdatatype.A)
        try:
            reply = dns.query.udp(query, address, timeout=timeout, port=port)
        except (dns.exception.DNSException, OSError) as exc:
            last = f"{address}:{port}: {exc.__class__.__name__}"
            continue
        found = sorted(
            item.address
            for rrset in reply.answer
            if rrset.rdtype == dns.rdatatype.A
            for item in rrset
        )
        return Answer(name, tuple(found), None if found else "no A record")
    return Answer(name, error=last)
