"""The design: gateways, tunnels, route tables and their summaries, flows, warnings."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from itertools import combinations
from pathlib import Path
from typing import Any

from tests.builders import designed, doc, vpc
from vpnctl import pipeline
from vpnctl.design import Design
from vpnctl.space import Space
from vpnctl.summary import Summariser, merge

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


def net(text: str) -> IPv4Network:
    return IPv4Network(text)


def covered(d: Design, route: IPv4Network, vpc: str) -> list[str]:
    """The other VPCs a route of ``vpc``'s tables covers, wholly or in part."""
    return sorted(n for n, v in d.vpcs.items() if n != vpc and v.cidr.overlaps(route))


def test_one_gateway_per_az_with_stable_names_under_the_zone() -> None:
    d = designed(doc())
    assert [g.name for g in d.gateways] == [
        "gw-east-a", "gw-east-b", "gw-west-a", "gw-west-b",
    ]  # fmt: skip
    gw = d.gateway_by_name["gw-west-b"]
    assert (gw.az, gw.fqdn, gw.region) == ("us-west-2b", "gw-west-b.vpn.example.com", "us-west-2")


def test_tunnels_join_matching_az_positions_with_their_slash_30() -> None:
    d = designed(doc())
    assert [t.name for t in d.tunnels] == ["east-a--west-a", "east-b--west-b"]
    t = d.tunnels[0]
    assert (t.a.gateway, t.b.gateway) == ("gw-east-a", "gw-west-a")
    assert t.inside_cidr == net("169.254.64.0/30")
    assert (t.a.inside_ip, t.b.inside_ip) == (
        IPv4Address("169.254.64.1"),
        IPv4Address("169.254.64.2"),
    )
    assert t.a.port == t.b.port == 1194


def test_route_tables_prefer_the_same_az_gateway_then_fail_over() -> None:
    d = designed(doc())
    tables = {t.name: t for t in d.route_tables}
    assert tables["rt-east-a"].gateways == ("gw-east-a", "gw-east-b")
    assert tables["rt-east-b"].gateways == ("gw-east-b", "gw-east-a")
    assert tables["rt-east-b"].via == "gw-east-b"


def test_routes_summarise_within_the_pool_but_never_over_reserved_space() -> None:
    base = doc()
    base["addressing"]["reserved"] = ["10.79.0.0/16"]
    d = designed(base)
    dests = d.route_table_by_name["rt-east-a"].destinations
    west = d.vpcs["west"].cidr
    assert any(west.subnet_of(x) for x in dests)
    assert not any(x.overlaps(net("10.79.0.0/16")) for x in dests)
    assert all(x.subnet_of(net("10.64.0.0/12")) for x in dests)
    assert len(dests) <= 4


def test_routes_never_cover_a_vpc_that_is_not_reached() -> None:
    base = doc()
    base["vpcs"]["north"] = vpc("eu-west-1")
    d = designed(base)  # north has no link
    north = d.vpcs["north"].cidr
    for table in d.route_tables:
        if table.vpc != "north":
            assert not any(x.overlaps(north) for x in table.destinations), table
    assert d.route_table_by_name["rt-north-a"].destinations == ()


def test_without_summarising_routes_are_the_remote_routing_subnets() -> None:
    base = doc()
    base["addressing"]["summarise"] = False
    d = designed(base)
    west = [s.cidr for s in d.vpcs["west"].routing_subnets]
    assert d.route_table_by_name["rt-east-a"].destinations == merge(west)
    assert len(merge(west)) == 1  # two adjacent /24s at the bottom of the VPC make one /23


def test_transit_routes_reach_through_the_via_vpc() -> None:
    base = doc()
    base["vpcs"]["north"] = vpc("eu-west-1")
    base["addressing"]["summarise"] = False
    base["links"] = [{"between": ["east", "west"]}, {"between": ["north", "west"]}]
    base["transit"] = [{"between": ["east", "north"], "via": "west"}]
    d = designed(base)
    east = d.route_table_by_name["rt-east-a"].destinations
    for remote in ("west", "north"):
        assert all(any(s.cidr.subnet_of(x) for x in east) for s in d.vpcs[remote].routing_subnets)
    # the hub's gateway sends each spoke exactly its own routing subnets
    hub = next(t for t in d.tunnels if t.name == "east-a--west-a")
    here, _ = hub.end("gw-west-a")
    assert here.routes == merge(s.cidr for s in d.vpcs["east"].routing_subnets)


def test_a_single_tunnel_gateway_sends_its_vpc_summary_into_the_tunnel() -> None:
    d = designed(doc())
    t = d.tunnels[0]
    assert t.a.routes == d.route_table_by_name["rt-east-a"].destinations


def test_flows_expand_to_routing_subnets() -> None:
    d = designed(doc(allow=[{"from": "east", "to": "west", "proto": "tcp", "ports": [443]}]))
    (flow,) = d.flows
    assert flow.sources == tuple(s.cidr for s in d.vpcs["east"].routing_subnets)
    assert flow.destinations == tuple(s.cidr for s in d.vpcs["west"].routing_subnets)


def test_warnings_cover_psk_and_unequal_az_counts() -> None:
    base = doc()
    base["vpcs"]["west"] = vpc("us-west-2", "abc")
    warnings = designed(base).warnings
    assert any("OpenVPN 2.6 deprecates static keys" in w for w in warnings)
    assert any("link east--west: west has 3 AZs and east 2" in w for w in warnings)
    base["tunnel"] = {"mode": "fingerprint"}
    assert not any("static keys" in w for w in designed(base).warnings)


def test_route_quota_warning() -> None:
    base = doc(links="mesh")
    base["addressing"].update(summarise=False, route_quota=2)
    for region in ("eu-west-1", "eu-central-1", "ap-south-1"):
        base["vpcs"][region] = vpc(region, "a")
    warnings = designed(base).warnings
    assert any("over the quota of 2" in w for w in warnings)


# ----------------------------------------------------------------------- routes per next hop


def test_a_hub_table_gets_one_route_per_spoke_and_the_spokes_keep_their_summary() -> None:
    d = pipeline.plan(TOPOLOGIES / "china-hub.yaml").design  # us-west-2, cn-north-1 via the hub
    for name in ("rt-ap-southeast-1-a", "rt-ap-southeast-1-b"):
        dests = d.route_table_by_name[name].destinations
        assert dests == (net("10.64.0.0/14"), net("10.68.0.0/14"))
        assert [covered(d, x, "ap-southeast-1") for x in dests] == [["us-west-2"], ["cn-north-1"]]
        assert not dests[0].overlaps(dests[1])
    for spoke in ("cn-north-1", "us-west-2"):
        for table in d.vpcs[spoke].route_tables:  # one next hop: the summary as before
            assert d.route_table_by_name[table].destinations == (net("10.64.0.0/12"),)
    assert not any("fail over as one route" in w for w in d.warnings)


def test_a_mesh_table_gets_one_route_per_linked_vpc() -> None:
    d = pipeline.plan(TOPOLOGIES / "mesh.yaml").design
    for table in d.route_tables:
        others = sorted(n for n in d.vpcs if n != table.vpc)
        assert len(table.destinations) == len(others), table
        assert sorted(n for x in table.destinations for n in covered(d, x, table.vpc)) == others
        assert not any(x.overlaps(y) for x, y in combinations(table.destinations, 2))
    assert d.route_table_by_name["rt-euw1-apps-a"].destinations == (
        net("10.32.0.0/16"),  # euw1-data, with euw1-apps' own /18 and free space
        net("10.33.0.0/18"),
        net("10.33.64.0/18"),
        net("10.34.0.0/15"),
    )


def hub_of(spokes: int) -> dict[str, Any]:
    base = doc(links={"hub": "east"})
    for i in range(spokes - 1):
        base["vpcs"][f"s{i}"] = vpc("eu-west-1", "a")
    return base


def test_a_hub_over_the_quota_keeps_one_summary_and_says_so() -> None:
    base = hub_of(3)
    base["addressing"]["route_quota"] = 2
    d = designed(base)  # east has three next hops: a route each would not fit 2
    assert d.route_table_by_name["rt-east-a"].destinations == (net("10.64.0.0/12"),)
    assert (
        d.warnings.count(
            "route tables of VPC east fail over as one route: a route per next hop needs at least "
            "3 routes, over the quota of 2"
        )
        == 1
    )  # one line per VPC, not per table
    base["addressing"]["route_quota"] = 3
    d = designed(base)
    assert len(d.route_table_by_name["rt-east-a"].destinations) == 3
    assert not any("fail over as one route" in w for w in d.warnings)


def test_more_routes_than_next_hops_over_the_quota_keeps_one_summary() -> None:
    """Two next hops, three routes: west carries north too, and mid lies between them."""
    base = doc()
    pins = {"east": "10.64.0.0/16", "west": "10.65.0.0/16", "mid": "10.66.0.0/16"}
    for name, cidr in pins.items():
        base["vpcs"].setdefault(name, vpc("eu-west-1"))["cidr"] = cidr
    base["vpcs"]["north"] = vpc("eu-north-1", cidr="10.67.0.0/16")
    base["links"] = [
        {"between": ["east", "west"]},
        {"between": ["east", "mid"]},
        {"between": ["north", "west"]},
    ]
    base["transit"] = [{"between": ["east", "north"], "via": "west"}]
    base["addressing"]["route_quota"] = 3
    # west's group: 10.64.0.0/15 (east and west) and 10.67.0.0/16; mid's: 10.66.0.0/16
    assert designed(base).route_table_by_name["rt-east-a"].destinations == (
        net("10.64.0.0/15"), net("10.66.0.0/16"), net("10.67.0.0/16"),
    )  # fmt: skip
    base["addressing"]["route_quota"] = 2
    d = designed(base)
    assert d.route_table_by_name["rt-east-a"].destinations == (net("10.64.0.0/12"),)
    assert (
        "route tables of VPC east fail over as one route: a route per next hop needs 3 routes, "
        "over the quota of 2"
    ) in d.warnings


def test_many_vpcs_over_the_quota_are_named_ten_at_a_time() -> None:
    base = doc(links="mesh")
    base["addressing"]["route_quota"] = 2
    for i in range(10):
        base["vpcs"][f"v{i}"] = vpc("eu-west-1", "a")
    found = [w for w in designed(base).warnings if "fail over as one route" in w]
    assert len(found) == 11
    assert found[-1] == "... and 2 more VPCs whose tables fail over as one route"


def test_without_summarising_routes_stay_exact_per_routing_subnet() -> None:
    base = hub_of(3)
    base["addressing"]["summarise"] = False
    d = designed(base)
    spokes = merge(s.cidr for n in ("s0", "s1", "west") for s in d.vpcs[n].routing_subnets)
    assert d.route_table_by_name["rt-east-a"].destinations == spokes
    assert not any("fail over as one route" in w for w in d.warnings)


# ----------------------------------------------------------------------- summariser


def test_summary_takes_the_largest_allowed_supernet() -> None:
    cidrs = {"a": net("10.0.0.0/16"), "b": net("10.1.0.0/16"), "c": net("10.2.0.0/16")}
    s = Summariser(cidrs, net("10.0.0.0/14"), [net("10.3.0.0/16")])
    assert s.for_all_others("a") == (net("10.0.0.0/15"), net("10.2.0.0/16"))
    assert s.for_some("a", ["b"]) == (net("10.0.0.0/15"),)


def test_summary_never_covers_an_unreached_vpc() -> None:
    cidrs = {"a": net("10.0.0.0/16"), "b": net("10.1.0.0/16"), "c": net("10.2.0.0/16")}
    s = Summariser(cidrs, net("10.0.0.0/14"), [])
    routes = s.for_some("a", ["c"])
    assert not any(r.overlaps(net("10.1.0.0/16")) for r in routes)
    assert any(net("10.2.0.0/16").subnet_of(r) for r in routes)


def test_space_takes_aligned_blocks_first_fit_and_from_the_top() -> None:
    space = Space.from_networks([net("10.0.0.0/24")], [net("10.0.0.0/28")])
    assert space.take(27) == net("10.0.0.32/27")
    assert space.take(28, from_top=True) == net("10.0.0.240/28")
    assert space.take(28) == net("10.0.0.16/28")
    assert not space.contains(net("10.0.0.0/26"))
    assert space.contains(net("10.0.0.64/26"))
    assert space.size() == 256 - 16 - 32 - 16 - 16
