"""What to probe: hosts named on the command line, or every tunnel a gateway serves.

In topology mode the probe runs on a gateway and measures each of its tunnels from the inside:
an echo to the far end's inside address, and, if the topology lists ``probe.targets`` for the far
VPC, to those hosts through the same link. The local gateway is the one whose tunnel inside
address this machine holds (``ip -j addr``), unless ``--gateway`` names it.

``from_design`` needs only this much of the design: ``design.gateway_by_name`` (gateways with
``name`` and ``vpc``), ``design.tunnels_by_gateway`` (each gateway's tunnels, with ``link`` and
two ends, each with ``gateway`` and ``inside_ip``) and, to find the local gateway,
``design.tunnels``. It is pure, and its work is proportional to the gateway's own tunnels, not
to the topology; reading the machine's addresses is ``local_addresses``.

``siblings`` names the other gateways of a gateway's VPC (one per other AZ), which the gateway
agent probes across the VPC on their private addresses; it reads ``design.vpcs`` (each with its
``gateways``' names) and ``design.gateway_by_name``, and its work too is the gateway's own.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from ipaddress import IPv4Address
from typing import Protocol

from vpnctl.probe.report import Target

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")


class TargetError(ValueError):
    """A target the user named cannot be probed; the message says which and why."""


class _End(Protocol):
    @property
    def gateway(self) -> str: ...
    @property
    def inside_ip(self) -> IPv4Address: ...


class _Tunnel(Protocol):
    @property
    def link(self) -> str: ...
    @property
    def a(self) -> _End: ...
    @property
    def b(self) -> _End: ...


class _Gateway(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def vpc(self) -> str: ...


class DesignLike(Protocol):
    @property
    def gateway_by_name(self) -> Mapping[str, _Gateway]: ...
    @property
    def tunnels(self) -> Sequence[_Tunnel]: ...
    @property
    def tunnels_by_gateway(self) -> Mapping[str, Sequence[_Tunnel]]: ...


class _Vpc(Protocol):
    @property
    def gateways(self) -> Sequence[str]: ...


class VpcsLike(Protocol):
    """What ``siblings`` needs: the gateways by name, and each VPC's gateway names."""

    @property
    def gateway_by_name(self) -> Mapping[str, _Gateway]: ...
    @property
    def vpcs(self) -> Mapping[str, _Vpc]: ...


Resolver = Callable[[str], IPv4Address]


def resolve(host: str) -> IPv4Address:
    """The host's IPv4 address, through the system resolver."""
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_RAW)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetError(f"--target {host}: cannot resolve it ({exc})") from None
    return IPv4Address(infos[0][4][0])


def adhoc(hosts: Sequence[str], resolver: Resolver = resolve) -> tuple[Target, ...]:
    """One target per distinct host, in the order given; names are resolved once, here."""
    seen: dict[IPv4Address, Target] = {}
    for host in hosts:
        target = _target(host.strip(), resolver)
        seen.setdefault(target.address, target)
    return tuple(seen.values())


def _target(host: str, resolver: Resolver) -> Target:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and address.version != 4:
        raise TargetError(f"--target {host}: only IPv4 is probed")
    if isinstance(address, IPv4Address):
        return Target(address)
    if host.replace(".", "").isdigit() or not _HOSTNAME.fullmatch(host):
        raise TargetError(f"--target {host!r}: not an IPv4 address or a host name")
    return Target(resolver(host), host=host)


def from_design(
    design: DesignLike,
    gateway: str | None = None,
    link: str | None = None,
    *,
    local: Iterable[IPv4Address] = (),
    hosts: Mapping[str, Sequence[IPv4Address]] | None = None,
) -> tuple[Target, ...]:
    """Targets for the tunnels ``gateway`` serves (or the one found in ``local`` addresses).

    ``hosts`` is ``topology.probe.targets``: extra hosts per VPC, probed through each link
    to that VPC. ``link`` keeps one link only.
    """
    name = gateway or local_gateway(design, local)
    gateways = design.gateway_by_name
    if name not in gateways:
        raise TargetError(f"--gateway {name}: no such gateway in the design" + _known(gateways))
    found: list[Target] = []
    for tunnel in design.tunnels_by_gateway.get(name, ()):
        far = _far_end(tunnel, name)
        if far is None or (link is not None and tunnel.link != link):
            continue
        found.append(Target(far.inside_ip, tunnel.link, far.gateway))
        far_gateway = gateways.get(far.gateway)
        for host in (hosts or {}).get(far_gateway.vpc if far_gateway else "", ()):
            found.append(Target(host, tunnel.link, far.gateway))
    if link is not None and not found:
        raise TargetError(f"--link {link}: gateway {name} serves no tunnel of that link")
    return tuple(found)


def siblings(design: VpcsLike, gateway: str) -> tuple[str, ...]:
    """The other gateways of ``gateway``'s VPC, in name order: from its VPC's own gateway list,
    not a scan of every gateway (render asks it once per gateway: that scan was quadratic)."""
    found = design.gateway_by_name.get(gateway)
    if found is None:
        raise TargetError(
            f"--gateway {gateway}: no such gateway in the design" + _known(design.gateway_by_name)
        )
    return tuple(sorted(n for n in design.vpcs[found.vpc].gateways if n != gateway))


def _far_end(tunnel: _Tunnel, gateway: str) -> _End | None:
    if tunnel.a.gateway == gateway:
        return tunnel.b
    return tunnel.a if tunnel.b.gateway == gateway else None


def _known(names: Iterable[str]) -> str:
    return " (gateways: " + ", ".join(sorted(names)) + ")"


def local_gateway(design: DesignLike, local: Iterable[IPv4Address]) -> str:
    """The gateway whose tunnel inside address this machine holds."""
    mine = set(local)
    names = {end.gateway for t in design.tunnels for end in (t.a, t.b) if end.inside_ip in mine}
    if len(names) != 1:
        what = "none" if not names else "several: " + ", ".join(sorted(names))
        raise TargetError(
            f"cannot tell which gateway this is from its addresses ({what}); name it with --gateway"
        )
    return names.pop()


def local_addresses(run: Callable[[], str] | None = None) -> frozenset[IPv4Address]:
    """This machine's IPv4 addresses, from ``ip -j addr``."""
    text = (
        run()
        if run
        else subprocess.run(["ip", "-j", "addr"], check=True, capture_output=True, text=True).stdout
    )
    return frozenset(
        IPv4Address(info["local"])
        for link in json.loads(text)
        for info in link.get("addr_info", ())
        if info.get("family") == "inet"
    )
