"""The lab's security groups: the rules apply writes, enforced where and how AWS enforces them.

AWS applies a security group at an instance's network interface, in its fabric, outside the
instance, and tracks connections per interface: a reply is let in without a rule only on the
interface that saw its request (EC2 User Guide, "Amazon EC2 security group connection
tracking", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html).
The lab does the same with nftables:

- a gateway's interface is its two veths; their far ends (``GatewayNode.port`` in its router
  namespace and in the internet namespace) carry the gateway's group, built by the same
  ``vpnctl.aws.rules`` functions apply uses, with the peers' addresses as the gateway sees them;
- each interface has a conntrack zone of its own, set before conntrack looks at the packet: a
  packet going to a gateway is tracked in that gateway's zone (the route lookup says which, so it
  follows the failover controller's routes), one coming from it in its zone, so a connection
  seen on one interface is unknown on every other, as on AWS;
- a packet going to the interface passes if its connection is tracked there (established or
  related) or an ingress rule permits it; anything else is dropped and counted
  (``dropped_<port>``). Egress is AWS's default for a new group, all traffic to 0.0.0.0/0, which
  vpnctl never changes: what leaves the interface is not filtered, but is tracked;
- untracked flows as AWS defines them are kept out of conntrack (``notrack``): TCP and UDP whose
  request a 0.0.0.0/0 rule permits while the other direction permits all responses to 0.0.0.0/0
  on all ports; ICMP is always tracked. Such a flow's replies pass only by rule;
- each routing host carries its VPC's routing group the same way on its own interface (stateful:
  the host is the end of its flows and sees both directions).

A packet between two gateways crosses two interfaces (in the internet namespace, or a VPC router
between siblings) but is looked up once: it is tracked in a zone of that pair of interfaces,
both ways, so a reply is let in as the reply to the request its receiver sent. The sender's
egress permits everything, so only the receiver's ingress rules decide a new connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from vpnctl.aws import rules
from vpnctl.aws.changes import Permit, Ref
from vpnctl.design import Design, Gateway
from vpnctl.lab import shell
from vpnctl.lab.layout import Layout

TABLE = "vlab_sg"
WORLD = "0.0.0.0/0"
EGRESS = (Permit("-1", -1, -1, WORLD, "the default egress rule of a new group"),)
HOST_PORT = "eth0"

GatewayRules = Callable[[Design, str, Callable[[Gateway], Ref]], tuple[Permit, ...]]
RoutingRules = Callable[[Design, str], tuple[Permit, ...]]


@dataclass(frozen=True)
class Group:
    """One interface's security group: its ingress rules and (always AWS's default) egress."""

    name: str
    ingress: tuple[Permit, ...]
    egress: tuple[Permit, ...] = EGRESS


# --------------------------------------------------------------------------- nftables, pure


def match(permit: Permit, direction: str = "saddr") -> str:
    """The nftables match for the packets ``permit`` lets in (``direction``: whose address)."""
    parts = [] if permit.source == WORLD else [f"ip {direction} {permit.source}"]
    if permit.protocol == "-1":
        return " ".join(parts)
    parts.append(f"meta l4proto {permit.protocol}")
    if permit.protocol == "icmp":
        parts += [f"icmp type {permit.from_port}"] if permit.from_port != -1 else []
        parts += [f"icmp code {permit.to_port}"] if permit.to_port != -1 else []
    elif (permit.from_port, permit.to_port) != rules.ALL_PORTS:
        parts.append(f"{permit.protocol} dport {_ports(permit)}")
    return " ".join(parts)


def _ports(permit: Permit) -> str:
    lo, hi = permit.from_port, permit.to_port
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _world(permits: tuple[Permit, ...], protocol: str) -> list[Permit]:
    return [p for p in permits if p.source == WORLD and p.protocol in (protocol, "-1")]


def _all_ports(permits: list[Permit]) -> bool:
    return any(p.protocol == "-1" or (p.from_port, p.to_port) == rules.ALL_PORTS for p in permits)


def _port_match(permit: Permit, protocol: str, key: str) -> str:
    ranged = permit.protocol != "-1" and (permit.from_port, permit.to_port) != rules.ALL_PORTS
    return f"meta l4proto {protocol}" + (f" {protocol} {key} {_ports(permit)}" if ranged else "")


def untracked(group: Group, inbound: bool) -> list[str]:
    """Matches of the packets (going in, or out) of flows AWS does not track on this interface.

    A flow is untracked when a 0.0.0.0/0 rule permits its request and the other direction
    permits all response traffic to 0.0.0.0/0 on all ports. A packet going in is such a
    flow's request (its destination port in a world ingress rule, egress open) or its reply
    (its source port in a world egress rule, ingress open on all ports); going out, the other
    way round. TCP and UDP only: ICMP is always tracked."""
    found = []
    for protocol in ("tcp", "udp"):
        ins, outs = _world(group.ingress, protocol), _world(group.egress, protocol)
        if _all_ports(outs):  # requests that come in, and their replies going out
            key = "dport" if inbound else "sport"
            found += [_port_match(p, protocol, key) for p in ins]
        if _all_ports(ins):  # requests that go out, and their replies coming in
            key = "sport" if inbound else "dport"
            found += [_port_match(p, protocol, key) for p in outs]
    return list(dict.fromkeys(found))


def _ingress_chain(port: str, group: Group) -> Iterator[str]:
    yield f"  chain ingress_{port} {{"
    yield f"    # security group {group.name}: what may come in on {port}"
    yield "    ct state established,related accept"
    for permit in group.ingress:
        rule = " ".join(part for part in (match(permit), "accept") if part)
        yield f"    {rule} comment {_quote(permit.why)}"
    yield f'    counter name "dropped_{port}" drop'
    yield "  }"


def _quote(text: str) -> str:
    return '"' + "".join(c for c in text if c not in '"\\')[:120] + '"'


def _header() -> list[str]:
    # declare, delete, define: one atomic replacement whether or not the table was there
    return [f"table inet {TABLE}", f"delete table inet {TABLE}", f"table inet {TABLE} {{"]


def fabric_script(ports: Mapping[str, Group]) -> str:
    """A router or internet namespace: the group of each gateway port, a zone each."""
    lines = _header()
    lines += [f"  counter dropped_{port} {{}}" for port in ports]
    zones = {port: i + 1 for i, port in enumerate(ports)}
    lines += ["  chain track {", "    type filter hook prerouting priority -300; policy accept;"]
    for port, group in ports.items():  # untracked first: a zone set first would make it tracked
        lines += [
            f'    fib daddr oifname "{port}" {m} notrack accept' for m in untracked(group, True)
        ]
        lines += [f'    iifname "{port}" {m} notrack accept' for m in untracked(group, False)]
    # between two gateways (a sibling probe across AZs): one zone for the pair, both ways, so
    # the reply finds the request its sender's interface saw (else it would be looked up in
    # the other end's zone, and a probe's echo reply would be dropped as new)
    pairs = [(p, q) for i, p in enumerate(ports) for q in list(ports)[i + 1 :]]
    for n, (p, q) in enumerate(pairs):
        z = len(zones) + 1 + n
        lines += [f'    iifname "{p}" fib daddr oifname "{q}" ct zone set {z} accept',
                  f'    iifname "{q}" fib daddr oifname "{p}" ct zone set {z} accept']  # fmt: skip
    # towards a gateway: its zone, by the route the packet will take; from one: its zone
    lines += [f'    fib daddr oifname "{p}" ct zone set {z} accept' for p, z in zones.items()]
    lines += [f'    iifname "{p}" ct zone set {z} accept' for p, z in zones.items()]
    lines += [
        "  }",
        "  chain track_local {",
        "    type filter hook output priority -300; policy accept;",
    ]
    for port, group in ports.items():
        lines += [f'    oifname "{port}" {m} notrack accept' for m in untracked(group, True)]
    lines += [f'    oifname "{p}" ct zone set {z} accept' for p, z in zones.items()]
    lines += ["  }"]
    for hook in ("forward", "output"):
        lines += [
            f"  chain to_{hook} {{",
            f"    type filter hook {hook} priority filter; policy accept;",
        ]
        lines += [f'    oifname "{port}" jump ingress_{port}' for port in ports]
        lines += ["  }"]
    for port, group in ports.items():
        lines += _ingress_chain(port, group)
    return "\n".join([*lines, "}", ""])


def host_script(group: Group, port: str = HOST_PORT) -> str:
    """A routing host: its VPC's routing group on its one interface (its namespace's own
    conntrack is the interface's)."""
    lines = _header()
    lines += [f"  counter dropped_{port} {{}}"]
    lines += ["  chain track {", "    type filter hook prerouting priority -300; policy accept;"]
    lines += [f'    iifname "{port}" {m} notrack' for m in untracked(group, True)]
    lines += [
        "  }",
        "  chain track_local {",
        "    type filter hook output priority -300; policy accept;",
    ]
    lines += [f'    oifname "{port}" {m} notrack' for m in untracked(group, False)]
    lines += [
        "  }",
        "  chain to_input {",
        "    type filter hook input priority filter; policy accept;",
    ]
    lines += [f'    iifname "{port}" jump ingress_{port}', "  }"]
    lines += _ingress_chain(port, group)
    return "\n".join([*lines, "}", ""])


# --------------------------------------------------------------------------- from the design


def gateway_groups(
    design: Design,
    layout: Layout,
    views: Mapping[tuple[str, str], str],
    gateway_rules: GatewayRules = rules.gateway_permits,
) -> dict[str, Group]:
    """Each gateway's group, with its peers at the addresses it sees them at (``views``:
    (its address, the peer's) -> a delay relay's address, where one stands between them)."""
    groups = {}
    for name, node in layout.gateways.items():

        def seen(far: Gateway, near: str = str(node.public)) -> Ref:
            real = str(layout.gateways[far.name].public)
            return Ref("eip-ip", far.account, far.region, far.name, views.get((near, real), real))

        groups[name] = Group(f"sg-{name}", gateway_rules(design, name, seen))
    return groups


def routing_groups(
    design: Design, routing_rules: RoutingRules = rules.routing_permits
) -> dict[str, Group]:
    return {vpc: Group(f"sg-{vpc}-routing", routing_rules(design, vpc)) for vpc in design.vpcs}


@dataclass(frozen=True)
class Scripts:
    """Every namespace's ruleset: (namespace, nft script)."""

    rulesets: tuple[tuple[str, str], ...]


def scripts(
    design: Design,
    layout: Layout,
    views: Mapping[tuple[str, str], str],
    gateway_rules: GatewayRules = rules.gateway_permits,
    routing_rules: RoutingRules = rules.routing_permits,
) -> Scripts:
    groups = gateway_groups(design, layout, views, gateway_rules)
    found = []
    for vpc, ns in layout.routers.items():
        ports = {g.port: groups[g.name] for g in layout.gateways.values() if g.vpc == vpc}
        found.append((ns, fabric_script(ports)))
    found.append(
        (layout.internet, fabric_script({g.port: groups[g.name] for g in layout.gateways.values()}))
    )
    hosts = routing_groups(design, routing_rules)
    found += [(h.ns, host_script(hosts[h.vpc])) for h in layout.hosts if h.routed]
    return Scripts(tuple(found))


# --------------------------------------------------------------------------- on the machine


def install(found: Scripts) -> None:
    """Load (or replace, atomically per namespace) every ruleset. Connections already tracked
    stay tracked, as AWS keeps them when a rule changes."""
    for ns, script in found.rulesets:
        shell.run("nft", "-f", "-", ns=ns, stdin=script)


def dropped(ns: str, port: str) -> int:
    """Packets the group on ``port`` in ``ns`` has dropped so far."""
    out = shell.run("nft", "list", "counter", "inet", TABLE, f"dropped_{port}", ns=ns).stdout
    words = out.split()
    return int(words[words.index("packets") + 1])
