"""A gateway's forward filter as data: the flows it carries and how it tells their replies. Pure.

A gateway forwards only the ``allow`` flows of its own VPC and those it carries in transit
(``Design.flows_by_vpc``), so its filter grows with what it forwards, never with the rest of
the topology. The flows become nftables sets (``firewall.nft.j2`` holds the rules, a fixed
program): ``tcp_flows`` and ``udp_flows`` of ``source . destination . port``, ``icmp_flows``
and ``other_flows`` of ``source . destination``, and ``flow_ends``, every flow's two ends in
both orders. Each side of a flow is its VPC's routing subnets, merged exactly the way exact
routes are (``summary.merge``): aggregates that route tables may use would let the VPC's
private subnets in, and this filter is the allow-list.

The filter is stateless (a reply may come back through another AZ's gateway, which never saw
the request), so a reply is told by its shape alone, and that is all it can check:

- it comes from one of the flow's server ports and goes to a client port in ``EPHEMERAL``;
- a TCP reply carries ACK, or is a bare RST: never a SYN without ACK (it cannot open a
  connection), never a segment without either (FIN, null and similar probes);
- an ICMP reply is an echo reply; errors pass between a flow's ends either way.

A host of the flow's destination VPC that sends from a server port to an ephemeral port still
gets through: only a stateful filter can tell that from a reply, and the hosts' routing
security group (stateful, on AWS) is that filter. docs/gateway-filter.md says what each layer
enforces.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network

from vpnctl.design import AllowedFlow, Design
from vpnctl.summary import merge

# Client ports replies may go to: 32768-65535, the range of AWS's own example network ACL (a
# stateless filter too), in "Ephemeral ports" of the VPC user guide:
#   https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html
# It holds Linux's client ports (32768-60999, net.ipv4.ip_local_port_range; the page says
# 32768-61000) and IANA's dynamic range 49152-65535 (RFC 6335 section 6: Windows Server 2008
# and later, macOS, the BSDs), and keeps out the ports services listen on (IANA registers them
# in 1024-49151; nearly all lie below 32768: 22, 443, 5432, 8301, 8500...). The same page
# opens 1024-65535 for public-facing subnets, to cover Elastic Load Balancing, NAT gateways and
# Lambda functions, which pick client ports from all of it: the replies to such a client below
# 32768 are dropped here, unless allowed as a flow of their own (docs/gateway-filter.md).
EPHEMERAL = (32768, 65535)
ANY_PORT = (0, 65535)

Ports = tuple[int, int]


@dataclass(frozen=True)
class Group:
    """Set elements that come from one pair of VPCs, under a comment naming them."""

    comment: str
    elements: tuple[str, ...]


@dataclass(frozen=True)
class FlowSet:
    name: str
    type: str
    about: str
    groups: tuple[Group, ...]


@dataclass(frozen=True)
class Filter:
    sets: tuple[FlowSet, ...]
    tunnel_ports: str  # "{ 1194-1196 }", or "" for a gateway without tunnels
    remote: tuple[IPv4Network, ...]  # what the VPC routes to the gateways: never masqueraded
    ephemeral: str


_ADDRS = "ipv4_addr . ipv4_addr"
_SETS = (
    ("tcp_flows", f"{_ADDRS} . inet_service", "tcp flows: source . destination . server port"),
    ("udp_flows", f"{_ADDRS} . inet_service", "udp flows: source . destination . server port"),
    ("icmp_flows", _ADDRS, "icmp flows: source . destination"),
    ("other_flows", _ADDRS, "proto all, for protocols other than tcp, udp and icmp"),
    ("flow_ends", _ADDRS, "the ends of every flow above, both ways: errors pass, no conntrack"),
)


def gateway_filter(design: Design, gateway_name: str) -> Filter:
    """The sets of ``gateway_name``'s filter; work proportional to the flows it carries."""
    gateway = design.gateway_by_name[gateway_name]
    carried = design.flows_by_vpc.get(gateway.vpc, ())
    groups = _Collector()
    for allowed in carried:
        groups.add(allowed)
    tunnels = design.tunnels_by_gateway.get(gateway_name, ())
    return Filter(
        sets=tuple(FlowSet(n, t, about, groups.of(n)) for n, t, about in _SETS),
        tunnel_ports=ports(t.end(gateway_name)[0].port for t in tunnels),
        remote=_routes(design, gateway.vpc),
        ephemeral=_port(EPHEMERAL),
    )


def _routes(design: Design, vpc: str) -> tuple[IPv4Network, ...]:
    """What the VPC's route tables send to its gateways (the same in each of its tables)."""
    tables = (design.route_table_by_name[t] for t in design.vpcs[vpc].route_tables)
    return tuple(dict.fromkeys(n for table in tables for n in table.destinations))


def ports(numbers: Iterable[int]) -> str:
    """An nft set of ports, consecutive ones as one range: ``{ 1194-1196, 1200 }``."""
    ranges = coalesce((p, p) for p in numbers)
    return "{ " + ", ".join(_port(r) for r in ranges) + " }" if ranges else ""


def coalesce(ranges: Iterable[Ports]) -> list[Ports]:
    """Port ranges sorted, overlapping and adjacent ones joined (nft refuses overlaps)."""
    found: list[Ports] = []
    for lo, hi in sorted(ranges):
        if found and lo <= found[-1][1] + 1:
            found[-1] = (found[-1][0], max(found[-1][1], hi))
        else:
            found.append((lo, hi))
    return found


def _port(r: Ports) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"


def _parts(allowed: AllowedFlow) -> Iterator[tuple[str, tuple[Ports, ...]]]:
    """The sets one flow goes into, with its port ranges (``all`` is every protocol)."""
    flow = allowed.flow
    if flow.proto in ("tcp", "udp"):
        yield f"{flow.proto}_flows", flow.ports or (ANY_PORT,)
    elif flow.proto == "icmp":
        yield "icmp_flows", ()
    else:
        yield from (("tcp_flows", (ANY_PORT,)), ("udp_flows", (ANY_PORT,)))
        yield from (("icmp_flows", ()), ("other_flows", ()))


@dataclass
class _Pair:
    """One (source VPC, destination VPC) entry of a set: their networks and the ports so far."""

    comment: str
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    ranges: list[Ports]


class _Collector:
    """Elements per set, grouped by pair of VPCs in the order the flows come."""

    def __init__(self) -> None:
        self.sets: dict[str, dict[tuple[str, str], _Pair]] = {name: {} for name, *_ in _SETS}

    def add(self, allowed: AllowedFlow) -> None:
        src, dst = allowed.flow.src, allowed.flow.dst
        sources, destinations = _merged(allowed.sources), _merged(allowed.destinations)
        for name, ranges in _parts(allowed):
            pair = self.sets[name].setdefault(
                (src, dst), _Pair(f"{src} -> {dst}", sources, destinations, [])
            )
            pair.ranges += ranges
        ends = self.sets["flow_ends"]
        if (src, dst) not in ends and (dst, src) not in ends:
            ends[(src, dst)] = _Pair(f"{src} <-> {dst}", sources, destinations, [])

    def of(self, name: str) -> tuple[Group, ...]:
        return tuple(Group(p.comment, tuple(_elements(p, name))) for p in self.sets[name].values())


@functools.lru_cache(maxsize=8192)
def _merged(nets: tuple[IPv4Network, ...]) -> tuple[str, ...]:
    """A VPC's routing subnets merged, as text; cached, as a VPC is an end of many flows."""
    return tuple(map(str, merge(nets)))


def _elements(pair: _Pair, name: str) -> Iterator[str]:
    both = name == "flow_ends"
    for s in pair.sources:
        for d in pair.destinations:
            if pair.ranges:
                yield from (f"{s} . {d} . {_port(r)}" for r in coalesce(pair.ranges))
            else:
                yield f"{s} . {d}"
                if both:
                    yield f"{d} . {s}"
