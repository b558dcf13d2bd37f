"""The pure diff and sweep, on plain data: no AWS, no emulator."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from tests.builders import doc, vpc
from tests.unit.aws import world
from tests.unit.aws.intents import intent as intent_of
from vpnctl.aws import changes as c
from vpnctl.aws import live as lv
from vpnctl.aws.diff import diff
from vpnctl.aws.intent import Intent
from vpnctl.aws.sweep import sweep
from vpnctl.aws.view import to_json, to_text
from vpnctl.errors import AwsError


def intent(d: dict[str, Any] | None = None) -> Intent:
    return intent_of(d or doc())


def empty(topology: str = "t", regions: dict[lv.RegionKey, lv.Region] | None = None) -> lv.Live:
    accounts = {a: lv.AccountLive(a, "123456789012") for a in ("main", "china")}
    return lv.Live(topology, regions or {}, accounts, lv.Zone("vpn.example.com", "Z1"))


def kinds(changes: c.ChangeSet) -> list[str]:
    return [type(ch).__name__ for ch in changes.changes]


def test_from_nothing_everything_is_created_in_dependency_stages() -> None:
    changes = diff(intent(), empty())
    assert kinds(changes).count("CreateVpc") == 2
    assert kinds(changes).count("AllocateAddress") == 4
    assert kinds(changes).count("CreateAutoScalingGroup") == 4
    assert kinds(changes).count("PutKeys") == 4  # 2 tunnels, each end's half in its region
    assert [ch.stage for ch in changes.changes] == sorted(ch.stage for ch in changes.changes)
    assert changes.counts()["destroy"] == 0


def test_routes_wait_for_the_gateway_instance_known_after_apply() -> None:
    routes = [ch for ch in diff(intent(), empty()).changes if isinstance(ch, c.RouteToGateway)]
    assert {r.table.name for r in routes} == {"rt-east-a", "rt-east-b", "rt-west-a", "rt-west-b"}
    assert all(r.gateway.id is None and r.gateway.kind == "gateway-eni" for r in routes)
    assert "gw-east-a" in next(r.describe() for r in routes if r.table.name == "rt-east-a")


def test_an_instance_without_its_address_or_with_its_check_on_is_not_apply_drift() -> None:
    """Boot and the failover hook associate a gateway's Elastic IP and turn its
    source/destination check off (``userdata/gateway_aws.py``, ``failover.assess``); apply
    makes everything else and then, with every instance fresh from its group, has nothing left."""
    it = intent()
    live = world.built(it, empty(), diff(it, empty()).changes)
    fresh = {
        key: replace(
            region,
            instances=tuple(replace(i, source_dest_check=True) for i in region.instances),
            addresses=tuple(replace(a, association_id=None, instance_id=None)
                            for a in region.addresses),
        )
        for key, region in live.regions.items()
    }  # fmt: skip
    assert sum(len(r.instances) for r in fresh.values()) == 4
    assert all(i.source_dest_check for r in fresh.values() for i in r.instances)
    assert diff(it, replace(live, regions=fresh)).changes == ()


def test_tunnel_port_opens_only_to_the_peer_address() -> None:
    permits = [
        ch.permit
        for ch in diff(intent(), empty()).changes
        if isinstance(ch, c.AuthorizeIngress) and ch.group.name == "sg-gw-east-a"
    ]
    tunnel = [p for p in permits if p.why.startswith("tunnel")]
    assert len(tunnel) == 1
    assert (tunnel[0].protocol, tunnel[0].from_port) == ("udp", 1194)
    assert isinstance(tunnel[0].source, c.Ref)
    assert tunnel[0].source.name == "gw-west-a"


def test_missing_adopted_vpc_names_account_region_and_id() -> None:
    east = vpc("us-east-1", vpc_id="vpc-0123456789abcdef0", cidr="10.70.0.0/16")
    d = doc(vpcs={"east": east, "west": vpc("us-west-2")})
    with pytest.raises(AwsError) as err:
        diff(intent(d), empty())
    assert "account main, region us-east-1" in str(err.value)
    assert "vpc-0123456789abcdef0" in str(err.value)


def test_adopted_vpc_with_another_cidr_is_refused() -> None:
    d = doc(
        vpcs={
            "east": vpc("us-east-1", vpc_id="vpc-0123456789abcdef0", cidr="10.70.0.0/16"),
            "west": vpc("us-west-2"),
        }
    )
    region = lv.Region(
        "main", "us-east-1", vpcs=(lv.Vpc("vpc-0123456789abcdef0", "10.99.0.0/16", None, False),)
    )
    with pytest.raises(AwsError, match=r"10\.99\.0\.0/16"):
        diff(intent(d), empty(regions={("main", "us-east-1"): region}))


def test_adopted_vpc_is_never_created_and_its_own_gateway_is_used() -> None:
    d = doc(
        vpcs={
            "east": vpc("us-east-1", vpc_id="vpc-0123456789abcdef0", cidr="10.70.0.0/16"),
            "west": vpc("us-west-2"),
        }
    )
    region = lv.Region(
        "main",
        "us-east-1",
        vpcs=(lv.Vpc("vpc-0123456789abcdef0", "10.70.0.0/16", None, False),),
        internet_gateways=(lv.InternetGateway("igw-1", "vpc-0123456789abcdef0", None, False),),
    )
    found = diff(intent(d), empty(regions={("main", "us-east-1"): region})).changes
    east = [ch for ch in found if ch.where.region == "us-east-1"]
    assert not any(isinstance(ch, c.CreateVpc | c.CreateInternetGateway) for ch in east)
    to_igw = next(ch for ch in east if isinstance(ch, c.RouteToInternet))
    assert to_igw.internet_gateway.id == "igw-1"


def live_table(routes: tuple[lv.Route, ...]) -> lv.Live:
    instances = (
        lv.Instance("i-a", "gw-east-a", "running", "eni-a", False, None),
        lv.Instance("i-b", "gw-east-b", "running", "eni-b", False, None),
    )
    table = lv.RouteTable("rtb-1", "vpc-1", "rt-east-a", True, routes)
    region = lv.Region(
        "main",
        "us-east-1",
        vpcs=(lv.Vpc("vpc-1", "10.64.0.0/16", "east", True),),
        route_tables=(table,),
        instances=instances,
    )
    return empty(regions={("main", "us-east-1"): region})


def east_a_routes(live: lv.Live) -> list[c.RouteToGateway]:
    return [
        ch
        for ch in diff(intent(), live).changes
        if isinstance(ch, c.RouteToGateway) and ch.table.name == "rt-east-a"
    ]


def test_a_route_moved_to_the_other_az_gateway_by_failover_is_left_alone() -> None:
    destination = str(intent().design.route_table_by_name["rt-east-a"].destinations[0])
    assert east_a_routes(live_table((lv.Route(destination, "eni-b"),))) == []


def test_a_blackholed_route_is_pointed_back_at_the_preferred_gateway() -> None:
    destination = str(intent().design.route_table_by_name["rt-east-a"].destinations[0])
    (change,) = east_a_routes(live_table((lv.Route(destination, "eni-dead", True),)))
    assert change.replaces == "eni-dead"
    assert change.gateway.id == "eni-a"
    assert change.sign == "~"


def key_writes(it: Intent, regions: dict[lv.RegionKey, lv.Region]) -> list[c.PutKeys]:
    tunnel = it.design.tunnels[0]
    found = diff(it, empty(regions=regions)).changes
    return [ch for ch in found if isinstance(ch, c.PutKeys) and ch.tunnel == tunnel.name]


EAST_A = lv.Instance("i-a", "gw-east-a", "running", "eni-a", False, None)


def test_each_region_stores_only_its_own_gateways_pieces_of_a_tunnels_keys() -> None:
    for mode in ("psk", "fingerprint"):
        it = intent(doc(tunnel={"mode": mode}))
        writes = {ch.where.region: ch for ch in key_writes(it, {})}
        assert set(writes) == {"us-east-1", "us-west-2"}
        assert all("/gw-east-a/" in n for n in writes["us-east-1"].names)
        assert all("/gw-west-a/" in n for n in writes["us-west-2"].names)
        both = writes["us-east-1"].names + writes["us-west-2"].names
        assert sorted(both) == sorted(it.parameters(it.design.tunnels[0]))
        assert all(ch.copy_from is None and ch.overwrite == () for ch in writes.values())


def test_a_running_psk_tunnels_missing_half_is_copied_never_regenerated() -> None:
    it = intent()
    tunnel = it.design.tunnels[0]
    east = lv.Region("main", "us-east-1", parameters=frozenset(it.parameters(tunnel)),
                     instances=(EAST_A,))  # fmt: skip
    (copy,) = key_writes(it, {("main", "us-east-1"): east})
    assert copy.where.region == "us-west-2"
    assert copy.copy_from == c.Where("main", "us-east-1")
    assert copy.names == it.parameters_at(tunnel, "main", "us-west-2")


def test_an_unfinished_write_before_any_gateway_runs_gets_a_fresh_set_everywhere() -> None:
    """No instance of the tunnel's gateways: no key can have been read, so the half that
    exists is overwritten with the new set's pieces, and the other half written."""
    it = intent(doc(tunnel={"mode": "fingerprint"}))
    tunnel = it.design.tunnels[0]
    east_names = it.parameters_at(tunnel, "main", "us-east-1")
    east = lv.Region("main", "us-east-1", parameters=frozenset(east_names[:2]))
    writes = {ch.where.region: ch for ch in key_writes(it, {("main", "us-east-1"): east})}
    assert writes["us-east-1"].names == east_names
    assert writes["us-east-1"].overwrite == east_names[:2]
    assert "2 overwritten" in writes["us-east-1"].describe()
    assert (writes["us-east-1"].sign, writes["us-west-2"].sign) == ("~", "+")
    assert writes["us-west-2"].overwrite == ()
    assert all(ch.copy_from is None for ch in writes.values())


def test_sweep_removes_the_far_ends_pieces_a_region_used_to_hold_as_well() -> None:
    """Each region stored a tunnel's whole key set once; now a private key lives only in the
    region that uses it, so the far end's pieces there are stale, its own are kept."""
    it = intent(doc(tunnel={"mode": "fingerprint"}))
    every = frozenset(n for t in it.design.tunnels for n in it.parameters(t))
    regions = {key: lv.Region(*key, parameters=every)
               for key in (("main", "us-east-1"), ("main", "us-west-2"))}  # fmt: skip
    removed = {ch.where.region: set(ch.names) for ch in sweep(it, empty(regions=regions))
               if isinstance(ch, c.DeleteParameters)}  # fmt: skip
    for (_, region), held in regions.items():
        keep = {n for t in it.design.tunnels for n in it.parameters_at(t, "main", region)}
        assert keep
        assert removed[region] == set(held.parameters) - keep


@pytest.mark.parametrize("east_has", [slice(0, 1), slice(0, None)])
def test_an_unfinished_write_is_refused_once_a_gateway_runs_unless_copyable(
    east_has: slice,
) -> None:
    """A fingerprint tunnel's far half is that end's own private key: nowhere to copy it from,
    and the near half may be loaded already, so only ``keys rotate`` may renew it."""
    it = intent(doc(tunnel={"mode": "fingerprint"}))
    tunnel = it.design.tunnels[0]
    some = frozenset(it.parameters_at(tunnel, "main", "us-east-1")[east_has])
    east = lv.Region("main", "us-east-1", parameters=some, instances=(EAST_A,))
    with pytest.raises(AwsError, match="keys rotate --link"):
        key_writes(it, {("main", "us-east-1"): east})


def owned_region() -> lv.Region:
    return lv.Region(
        "main",
        "us-east-1",
        vpcs=(
            lv.Vpc("vpc-1", "10.64.0.0/16", "east", True),
            lv.Vpc("vpc-foreign", "10.99.0.0/16", None, False),
        ),
        route_tables=(
            lv.RouteTable(
                "rtb-foreign",
                "vpc-foreign",
                None,
                False,
                (lv.Route("10.50.0.0/16", "eni-a"), lv.Route("0.0.0.0/0", "igw-f")),
            ),
        ),
        addresses=(lv.Address("eipalloc-1", "198.51.100.1", "gw-east-a"),),
        instances=(lv.Instance("i-a", "gw-east-a", "running", "eni-a", False, None),),
    )


def test_destroy_removes_only_owned_things_and_routes_to_vpnctl_gateways() -> None:
    zone = lv.Zone(
        "vpn.example.com",
        "Z1",
        records=(
            lv.Record("gw-east-a.vpn.example.com", "A", 30, ("198.51.100.1",)),
            lv.Record("www.vpn.example.com", "A", 60, ("192.0.2.80",)),
        ),
    )
    live = replace(empty(regions={("main", "us-east-1"): owned_region()}), zone=zone)
    removals = sweep(intent(), live, everything=True)
    described = [ch.describe() for ch in removals]
    assert "vpc east 10.64.0.0/16" in described
    assert not any("10.99.0.0/16" in d for d in described)
    assert "route rtb-foreign: 10.50.0.0/16 -> eni-a" in described
    assert not any("0.0.0.0/0" in d for d in described)
    assert [ch.fqdn for ch in removals if isinstance(ch, c.DeleteRecord)] == [
        "gw-east-a.vpn.example.com"
    ]
    assert [ch.stage for ch in removals] == sorted(ch.stage for ch in removals)


def test_apply_leaves_foreign_tables_alone() -> None:
    live = empty(regions={("main", "us-east-1"): owned_region()})
    found = diff(intent(), live).changes
    assert not any(isinstance(ch, c.DeleteRoute) for ch in found)


def test_text_groups_by_account_region_vpc_and_sums_up() -> None:
    text = to_text(diff(intent(), empty()))
    assert "account main, region us-east-1, vpc east:\n" in text
    assert "  + vpc east 10.64.0.0/16" in text or "  + vpc east " in text
    assert text.rstrip().splitlines()[-1].startswith("Plan: ")
    assert "to destroy." in text


def test_json_carries_format_version_and_the_live_fingerprint() -> None:
    live = empty()
    document = json.loads(to_json(diff(intent(), live)))
    assert document["format_version"] == 1
    assert document["fingerprint"] == live.fingerprint()
    assert sum(document["summary"].values()) == len(document["changes"])


def test_fingerprint_follows_the_live_state() -> None:
    assert empty().fingerprint() == empty().fingerprint()
    assert empty().fingerprint() != live_table(()).fingerprint()
