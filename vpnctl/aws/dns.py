"""Ask DNS what each gateway name answers, straight from the zone's name servers.

Not through the local resolver: its cache would hide a record changed a moment ago. With
``--resolver HOST[:PORT]`` the given server is asked instead (a split-horizon resolver, or a
test's server on loopback).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
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


def server(spec: str) -> tuple[str, int]:
    """``1.2.3.4``, ``1.2.3.4:5353`` or ``ns-1.example.net`` -> (address, port)."""
    host, _, port = spec.rpartition(":") if spec.count(":") == 1 else (spec, "", "")
    host = host or spec
    address = socket.gethostbyname(host)
    return address, int(port) if port else 53


def ask(names: Iterable[str], servers: Iterable[str], timeout: float = 3.0) -> Mapping[str, Answer]:
    resolved = []
    for spec in servers:
        try:
            resolved.append(server(spec))
        except (OSError, ValueError):
            continue
    return {name: _ask_one(name, resolved, timeout) for name in names}


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
