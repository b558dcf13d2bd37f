"""The security groups' shape: every packet of every allowed flow, request and reply, is let in
by whichever gateway of its VPC it passes; nothing else widens. Pure."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest

from tests.builders import designed, doc
from vpnctl.aws.changes import Permit, Ref
from vpnctl.aws.rules import gateway_permits, routing_permits
from vpnctl.design import Design, Gateway

EPHEMERAL = (32768, 49152, 60999)  # Linux's default local port range, where replies go


def peer_ip(gateway: Gateway) -> Ref:
    return Ref("eip-ip", gateway.account, gateway.region, gateway.name, "198.51.100.7")


def admits(permits: tuple[Permit, ...], proto: str, source: IPv4Address, port: int) -> bool:
    """Whether an ingress rule lets this packet in (AWS matches protocol, port, source CIDR)."""
    for p in permits:
        if p.protocol not in (proto, "-1") or source not in IPv4Network(str(p.source)):
            continue
        if p.protocol == "-1" or proto == "icmp" or p.from_port <= port <= p.to_port:
            return True
    return False


def flows_doc(*allow: dict[str, Any]) -> Design:
    return designed(doc(allow=list(allow)))


TCP_AND_UDP = (
    {"from": "east", "to": "west", "proto": "tcp", "ports": [443, "8300-8302"]},
    {"from": "west", "to": "east", "proto": "udp", "ports": [8301]},
    {"from": "west", "to": "east", "proto": "icmp"},
)


def host(subnet: IPv4Network) -> IPv4Address:
    return subnet.network_address + 10


@pytest.mark.parametrize("allow", [TCP_AND_UDP, ({"from": "east", "to": "west", "proto": "all"},)])
def test_every_gateway_lets_in_requests_and_replies_of_its_vpcs_flows(
    allow: tuple[dict[str, Any], ...],
) -> None:
    """Any gateway of a VPC may carry a packet (failover, or a reply through another AZ's
    gateway than its request), so each must let in the requests of flows that leave the VPC
    and the replies of flows that come to it, to an ephemeral port."""
    design = flows_doc(*allow)
    for flow in design.flows:
        f = flow.flow
        protos = ["tcp", "udp", "icmp"] if f.proto == "all" else [f.proto]
        ports = [lo for lo, _ in f.ports] or [7]
        for gateway in design.gateways:
            permits = gateway_permits(design, gateway.name, peer_ip)
            if gateway.vpc == f.src:  # requests, from every routing subnet of the source
                packets = [
                    (p, host(s), port) for s in flow.sources for p in protos for port in ports
                ]
            elif gateway.vpc == f.dst:  # replies, to whatever port the client used
                packets = [
                    (p, host(s), e) for s in flow.destinations for p in protos for e in EPHEMERAL
                ]
            else:
                continue
            missing = [pk for pk in packets if not admits(permits, *pk)]
            assert missing == [], (gateway.name, f)


def test_a_gateway_lets_in_nothing_but_its_own_routing_subnets_and_its_peers() -> None:
    design = flows_doc(*TCP_AND_UDP)
    for gateway in design.gateways:
        own = {str(s.cidr) for s in design.vpcs[gateway.vpc].routing_subnets}
        siblings = {str(g.subnet) for g in design.gateways if g.vpc == gateway.vpc and g != gateway}
        for p in gateway_permits(design, gateway.name, peer_ip):
            if p.why.startswith("tunnel"):
                assert (p.protocol, p.source) == ("udp", "198.51.100.7/32")
                assert p.from_port == p.to_port
            elif p.why.startswith("sibling"):
                assert (p.protocol, p.from_port, p.to_port) == ("icmp", 8, -1)
                assert p.source in siblings, p
            else:
                assert p.source in own, p


def data_permits(design: Design, gateway: str) -> list[Permit]:
    """The gateway's data path rules: neither its tunnels nor its siblings' probes."""
    return [
        p
        for p in gateway_permits(design, gateway, peer_ip)
        if not p.why.startswith(("tunnel", "sibling"))
    ]


def test_a_gateway_has_one_rule_per_routing_subnet_of_its_vpc() -> None:
    design = flows_doc({"from": "east", "to": "west", "proto": "tcp", "ports": [443]})
    for gateway in design.gateways:
        data = data_permits(design, gateway.name)
        subnets = design.vpcs[gateway.vpc].routing_subnets
        assert [(p.protocol, p.source) for p in data] == [("-1", str(s.cidr)) for s in subnets]


def test_a_vpc_without_flows_opens_only_its_tunnels() -> None:
    design = flows_doc({"from": "east", "to": "west", "proto": "tcp", "ports": [443]})
    bare = designed(doc(allow=[]))
    for gateway in bare.gateways:
        assert data_permits(bare, gateway.name) == []
    assert len(gateway_permits(design, "gw-east-a", peer_ip)) > 1


def test_a_peer_address_not_known_yet_stays_a_reference() -> None:
    design = flows_doc(*TCP_AND_UDP)

    def unknown(g: Gateway) -> Ref:
        return Ref("eip-ip", g.account, g.region, g.name)

    tunnel = [
        p for p in gateway_permits(design, "gw-east-a", unknown) if p.why.startswith("tunnel")
    ]
    assert len(tunnel) == 1
    assert isinstance(tunnel[0].source, Ref)


def test_the_routing_group_stays_precise_and_stateful() -> None:
    """Hosts are the ends of their flows: only what comes to them, by destination port, from the
    far routing subnets; replies to what they start are tracked on their own interface."""
    design = flows_doc(*TCP_AND_UDP)
    west = routing_permits(design, "west")
    east_subnets = {str(s.cidr) for s in design.vpcs["east"].routing_subnets}
    assert {(p.protocol, p.from_port, p.to_port) for p in west} == {
        ("tcp", 443, 443),
        ("tcp", 8300, 8302),
    }
    assert {str(p.source) for p in west} == east_subnets
    for subnet in design.vpcs["east"].routing_subnets:
        assert not admits(west, "tcp", host(subnet.cidr), EPHEMERAL[0])  # no "reply" by rule
    east = routing_permits(design, "east")
    assert {(p.protocol, p.from_port) for p in east} == {("udp", 8301), ("icmp", -1)}


def icmp_admits(permits: tuple[Permit, ...], source: IPv4Address, icmp_type: int) -> bool:
    """Whether an ingress rule lets this ICMP message in (FromPort is the type, -1 any)."""
    for p in permits:
        if source not in IPv4Network(str(p.source)):
            continue
        if p.protocol == "-1" or (p.protocol == "icmp" and p.from_port in (-1, icmp_type)):
            return True
    return False


@pytest.mark.parametrize("allow", [[], list(TCP_AND_UDP)])
def test_siblings_may_probe_each_other_across_azs_with_or_without_flows(
    allow: list[dict[str, Any]],
) -> None:
    """Each agent sends echo requests to its siblings' VPC addresses, on their gateway
    subnets; the reply needs no rule (ICMP is always tracked, on the sender's interface)."""
    design = designed(doc(allow=allow))
    pairs = [(a, b) for a in design.gateways for b in design.gateways if a.vpc == b.vpc and a != b]
    assert pairs, "the test topology has a VPC in two AZs"
    for sender, receiver in pairs:
        permits = gateway_permits(design, receiver.name, peer_ip)
        assert icmp_admits(permits, host(sender.subnet), 8), (sender.name, receiver.name)
    for gateway in design.gateways:  # no other ICMP than echo requests, and only from siblings
        for p in gateway_permits(design, gateway.name, peer_ip):
            if p.why.startswith("sibling"):
                others = [g.subnet for g in design.gateways if g.vpc == gateway.vpc]
                assert IPv4Network(str(p.source)) in others
                assert IPv4Network(str(p.source)) != gateway.subnet
                assert (p.from_port, p.to_port) == (8, -1)
        foreign = [g for g in design.gateways if g.vpc != gateway.vpc]
        bare = gateway_permits(designed(doc(allow=[])), gateway.name, peer_ip)
        for other in foreign:
            assert not icmp_admits(bare, host(other.subnet), 8)
