"""A gateway's forward filter as data: which flows each gateway carries, and the sets they make."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import designed, doc, parse, vpc
from vpnctl import firewall
from vpnctl.design import Design, design
from vpnctl.ipam import allocate
from vpnctl.summary import merge


def hub_doc(spokes: int, **changes: Any) -> dict[str, Any]:
    """A hub and ``spokes`` spokes; each spoke opens tcp/443 on the hub and tcp/5432 on the next
    spoke (transit through the hub), and the hub pings each spoke."""
    names = [f"s{i:03d}" for i in range(spokes)]
    allow: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        allow.append({"from": name, "to": "hub", "proto": "tcp", "ports": [443]})
        allow.append({"from": "hub", "to": name, "proto": "icmp"})
        if i + 1 < spokes:
            allow.append({"from": name, "to": names[i + 1], "proto": "tcp", "ports": [5432]})
    regions = ("us-east-1", "us-west-2")
    vpcs = {"hub": vpc("us-east-1")}
    vpcs |= {n: vpc(regions[i % 2]) for i, n in enumerate(names)}
    return doc(
        addressing={"pool": "10.0.0.0/8", "vpc_prefix": 20},
        vpcs=vpcs,
        links={"hub": "hub"},
        allow=allow,
        **changes,
    )


def flows_of(d: Design, vpc_name: str) -> set[tuple[str, str, str]]:
    return {(f.flow.src, f.flow.dst, f.flow.proto) for f in d.flows_by_vpc[vpc_name]}


def elements(f: firewall.Filter, name: str) -> list[str]:
    (found,) = (s for s in f.sets if s.name == name)
    return [e for g in found.groups for e in g.elements]


def routing(d: Design, name: str) -> str:
    (net,) = merge(s.cidr for s in d.vpcs[name].routing_subnets)
    return str(net)


# --------------------------------------------------------------------------- what is carried


def test_a_spoke_carries_its_own_flows_and_the_hub_every_flow_in_transit() -> None:
    d = designed(hub_doc(4))
    assert flows_of(d, "s001") == {
        ("s001", "hub", "tcp"), ("hub", "s001", "icmp"),
        ("s000", "s001", "tcp"), ("s001", "s002", "tcp"),
    }  # fmt: skip
    assert set(d.flows_by_vpc["hub"]) == set(d.flows)


def test_a_transit_via_carries_what_crosses_it_and_the_far_ends_only_their_own() -> None:
    d = designed(
        doc(
            vpcs={"a": vpc("us-east-1"), "v": vpc("us-west-2"), "b": vpc("eu-west-1")},
            links=[{"between": ["a", "v"]}, {"between": ["v", "b"]}],
            transit=[{"between": ["a", "b"], "via": "v"}],
            allow=[
                {"from": "a", "to": "b", "proto": "udp", "ports": [8301]},
                {"from": "v", "to": "b", "proto": "tcp", "ports": [443]},
            ],
        )
    )
    assert flows_of(d, "v") == {("a", "b", "udp"), ("v", "b", "tcp")}
    assert flows_of(d, "a") == {("a", "b", "udp")}
    assert flows_of(d, "b") == {("a", "b", "udp"), ("v", "b", "tcp")}


def test_a_spokes_filter_does_not_grow_with_the_hub() -> None:
    small = parse(hub_doc(10))
    lock = allocate(small, None).lock
    large = parse(hub_doc(60))
    big = design(large, allocate(large, lock).lock)
    few = design(small, lock)
    assert firewall.gateway_filter(few, "gw-s004-a") == firewall.gateway_filter(big, "gw-s004-a")
    hub = firewall.gateway_filter(big, "gw-hub-a")
    assert len(elements(hub, "tcp_flows")) == 60 + 59


# --------------------------------------------------------------------------- the sets


def test_flows_become_elements_of_merged_routing_subnets_and_port_ranges() -> None:
    d = designed(
        doc(
            allow=[
                {"from": "east", "to": "west", "proto": "tcp", "ports": [443, "8300-8302", 8303]},
                {"from": "east", "to": "west", "proto": "tcp", "ports": ["440-443"]},
                {"from": "west", "to": "east", "proto": "udp"},
            ]
        )
    )
    f = firewall.gateway_filter(d, "gw-east-a")
    east, west = routing(d, "east"), routing(d, "west")
    # two AZs' routing subnets are one aligned run: one prefix per side
    assert len(d.vpcs["east"].routing_subnets) == 2
    assert elements(f, "tcp_flows") == [
        f"{east} . {west} . 440-443",
        f"{east} . {west} . 8300-8303",
    ]
    assert elements(f, "udp_flows") == [f"{west} . {east} . 0-65535"]
    assert elements(f, "icmp_flows") == []
    assert elements(f, "flow_ends") == [f"{east} . {west}", f"{west} . {east}"]
    assert f.tunnel_ports == "{ 1194 }"
    assert f.ephemeral == "32768-65535"


def test_proto_all_is_every_protocol_and_swallows_narrower_flows_of_its_pair() -> None:
    d = designed(
        doc(
            allow=[
                {"from": "east", "to": "west", "proto": "tcp", "ports": [443]},
                {"from": "east", "to": "west", "proto": "all"},
            ]
        )
    )
    f = firewall.gateway_filter(d, "gw-west-b")
    east, west = routing(d, "east"), routing(d, "west")
    assert elements(f, "tcp_flows") == [f"{east} . {west} . 0-65535"]
    assert elements(f, "udp_flows") == [f"{east} . {west} . 0-65535"]
    assert elements(f, "icmp_flows") == elements(f, "other_flows") == [f"{east} . {west}"]


def test_a_gateway_without_flows_has_empty_sets() -> None:
    f = firewall.gateway_filter(designed(doc()), "gw-east-a")
    assert all(s.groups == () for s in f.sets)


def test_the_ephemeral_range_keeps_out_the_ports_services_listen_on() -> None:
    lo, hi = firewall.EPHEMERAL
    assert (lo, hi) == (32768, 65535)  # Linux 32768-60999 and IANA dynamic 49152-65535
    for service in (22, 53, 443, 5432, 8301, 8500, 27017):
        assert not lo <= service <= hi


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([(5, 5), (1, 3), (4, 4)], [(1, 5)]),
        ([(1, 10), (2, 3), (12, 12)], [(1, 10), (12, 12)]),
        ([], []),
    ],
)
def test_port_ranges_coalesce(
    given: list[tuple[int, int]], expected: list[tuple[int, int]]
) -> None:
    assert firewall.coalesce(given) == expected


def test_tunnel_ports_are_written_as_ranges() -> None:
    assert firewall.ports([1196, 1194, 1195, 1300]) == "{ 1194-1196, 1300 }"
    assert firewall.ports([]) == ""
