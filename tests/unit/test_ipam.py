"""Allocation: pins, blocks, subnets, tunnels, ports, stability and every way it runs out."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Any

from tests.builders import allocated, doc, parse, vpc
from vpnctl.ipam import AWS_RESERVED, allocate, release


def net(text: str) -> IPv4Network:
    return IPv4Network(text)


def problem_text(d: dict[str, Any]) -> str:
    result = allocate(parse(d))
    assert result.problems, "expected a problem"
    return "\n".join(f"{p.key}: {p.message}" for p in result.problems)


def test_vpcs_come_from_the_pool_in_per_region_blocks() -> None:
    lock = allocated(doc()).lock
    assert set(lock.blocks) == {"us-east-1", "us-west-2"}
    for name, region in (("east", "us-east-1"), ("west", "us-west-2")):
        cidr = lock.vpcs[name].cidr
        assert cidr.prefixlen == 16
        assert cidr.subnet_of(net("10.64.0.0/12"))
        assert any(cidr.subnet_of(b) for b in lock.blocks[region])


def test_a_region_block_has_room_to_grow() -> None:
    lock = allocated(doc()).lock
    assert lock.blocks["us-east-1"][0].prefixlen == 15  # one /16 VPC, room for two


def test_vpcs_of_a_region_share_its_block() -> None:
    d = doc()
    d["vpcs"]["east2"] = vpc("us-east-1")
    lock = allocated(d).lock
    block = lock.blocks["us-east-1"][0]
    assert lock.vpcs["east"].cidr.subnet_of(block)
    assert lock.vpcs["east2"].cidr.subnet_of(block)


def test_a_full_block_gets_a_second_one() -> None:
    d = doc()
    first = allocated(d).lock
    d["vpcs"]["east2"] = vpc("us-east-1")
    d["vpcs"]["east3"] = vpc("us-east-1")
    lock = allocated(d, first).lock
    assert len(lock.blocks["us-east-1"]) == 2
    assert lock.blocks["us-east-1"][0] == first.blocks["us-east-1"][0]


def test_pins_are_honoured_exactly_even_outside_the_pool() -> None:
    d = doc()
    d["vpcs"]["east"]["cidr"] = "172.20.0.0/16"
    assert allocated(d).lock.vpcs["east"].cidr == net("172.20.0.0/16")


def test_subnets_lie_in_their_vpc_routing_at_the_bottom_gateways_at_the_top() -> None:
    lock = allocated(doc()).lock
    east = lock.vpcs["east"]
    assert list(east.azs) == ["us-east-1a", "us-east-1b"]
    base = east.cidr.network_address
    assert [a.routing for a in east.azs.values()] == [
        net(f"{base}/24"), IPv4Network((int(base) + 256, 24)),
    ]  # fmt: skip
    assert all(a.gateway.prefixlen == 28 and a.gateway.subnet_of(east.cidr)
               for a in east.azs.values())  # fmt: skip
    assert east.azs["us-east-1a"].gateway.broadcast_address == east.cidr.broadcast_address


def test_reserved_and_aws_ranges_are_never_allocated() -> None:
    d = doc()
    d["addressing"]["reserved"] = ["10.64.0.0/14", "10.68.0.0/15"]
    lock = allocated(d).lock
    for v in lock.vpcs.values():
        assert not v.cidr.overlaps(net("10.64.0.0/14"))
        assert not v.cidr.overlaps(net("10.68.0.0/15"))


def test_docker_bridge_is_skipped_unless_pinned() -> None:
    d = doc()
    d["addressing"]["pool"] = "172.16.0.0/14"
    lock = allocated(d).lock
    assert all(not v.cidr.overlaps(net("172.17.0.0/16")) for v in lock.vpcs.values())
    d["vpcs"]["east"]["cidr"] = "172.17.0.0/16"
    assert allocated(d).lock.vpcs["east"].cidr == net("172.17.0.0/16")


def test_tunnels_get_slash_30s_clear_of_aws_reserved_ones() -> None:
    d = doc()
    d["addressing"]["tunnel_pool"] = "169.254.0.0/21"
    lock = allocated(d).lock
    insides = [t.inside for t in lock.tunnels.values()]
    assert len(insides) == 2
    assert all(i.prefixlen == 30 for i in insides)
    assert not any(i.overlaps(r) for i in insides for r in AWS_RESERVED)


def test_ports_are_unique_per_gateway_and_the_same_at_both_ends() -> None:
    d = doc(links={"hub": "west"})
    d["vpcs"]["north"] = vpc("eu-west-1")
    lock = allocated(d).lock
    by_gateway: dict[str, list[int]] = {}
    for name, t in lock.tunnels.items():
        left, right = name.split("--")
        for end in (left, right):
            by_gateway.setdefault(end, []).append(t.port)
    assert all(len(p) == len(set(p)) for p in by_gateway.values())
    assert sorted(by_gateway["west-a"]) == [1194, 1195]


def test_pinned_ports_are_kept_and_avoided() -> None:
    d = doc(links={"hub": "west"})
    d["vpcs"]["north"] = vpc("eu-west-1")
    d["links"] = [{"between": ["east", "west"], "port": 1194}, {"between": ["north", "west"]}]
    lock = allocated(d).lock
    assert {t.link: t.port for t in lock.tunnels.values()} == {
        "east--west": 1194, "north--west": 1195,
    }  # fmt: skip


def test_unequal_az_counts_pair_round_robin() -> None:
    d = doc()
    d["vpcs"]["west"] = vpc("us-west-2", "abc")
    lock = allocated(d).lock
    assert sorted(lock.tunnels) == [
        "east-a--west-a", "east-a--west-c", "east-b--west-b",
    ]  # fmt: skip


# ----------------------------------------------------------------------- refusals


def test_overlapping_pins_name_both_vpcs() -> None:
    d = doc()
    d["vpcs"]["east"]["cidr"] = "10.70.0.0/16"
    d["vpcs"]["west"]["cidr"] = "10.70.128.0/17"
    message = problem_text(d)
    assert "vpcs.west.cidr" in message
    assert "10.70.128.0/17 overlaps 10.70.0.0/16, pinned for VPC east" in message


def test_pin_overlapping_reserved() -> None:
    d = doc()
    d["addressing"]["reserved"] = ["10.100.0.0/16"]
    d["vpcs"]["east"]["cidr"] = "10.100.0.0/16"
    assert "vpcs.east.cidr: 10.100.0.0/16 overlaps addressing.reserved entry" in problem_text(d)


def test_pool_too_small_says_how_much_is_missing() -> None:
    d = doc()
    d["addressing"]["pool"] = "10.64.0.0/16"
    message = problem_text(d)
    assert message.startswith("addressing.pool: pool 10.64.0.0/16 has no room for 1 more VPC(s)")
    assert "65536 addresses short (need 131072, 65536 free)" in message


def test_tunnel_pool_exhausted() -> None:
    d = doc()
    d["addressing"]["tunnel_pool"] = "169.254.64.0/30"
    assert "addressing.tunnel_pool: 169.254.64.0/30 has no /30 left for 1 tunnel(s)" in (
        problem_text(d)
    )


def test_port_pinned_twice_on_one_gateway() -> None:
    d = doc()
    d["vpcs"]["north"] = vpc("eu-west-1")
    d["links"] = [{"between": ["east", "west"], "port": 1300},
                  {"between": ["north", "west"], "port": 1300}]  # fmt: skip
    message = problem_text(d)
    assert "links[1].port: port 1300 is pinned twice on gw-west-a" in message


def test_vpc_too_small_for_its_subnets() -> None:
    d = doc()
    d["vpcs"]["east"]["cidr"] = "10.70.0.0/24"
    assert "vpcs.east.azs: 10.70.0.0/24 has no room for a /24 routing subnet" in problem_text(d)


# ----------------------------------------------------------------------- stability


def test_recorded_allocations_never_move_when_others_change() -> None:
    d = doc()
    first = allocated(d).lock
    d["vpcs"] = {"zzz": vpc("eu-west-1"), **d["vpcs"]}  # a new VPC, listed first
    d["vpcs"]["west"]["azs"] = ["us-west-2c", "us-west-2b", "us-west-2a"]  # reordered, grown
    d["links"].append({"between": ["zzz", "east"]})
    second = allocated(d, first).lock
    for name, alloc in first.vpcs.items():
        assert second.vpcs[name].cidr == alloc.cidr
        for az, sub in alloc.azs.items():
            assert second.vpcs[name].azs[az] == sub
    for name, tunnel in first.tunnels.items():
        assert second.tunnels[name] == tunnel


def test_removed_vpcs_stay_reserved_until_pruned() -> None:
    d = doc()
    first = allocated(d).lock
    del d["vpcs"]["east"]
    d["links"] = []
    topo = parse(d)
    kept = allocate(topo, first)
    assert kept.lock.vpcs["east"] == first.vpcs["east"]
    assert any("--prune" in n for n in kept.notes)
    pruned = allocate(topo, release(first, topo, prune=True)).lock
    assert "east" not in pruned.vpcs
    assert not pruned.tunnels


def test_release_gives_a_vpc_fresh_addresses() -> None:
    d = doc()
    first = allocated(d).lock
    d["addressing"]["reserved"] = [str(first.vpcs["east"].cidr)]
    topo = parse(d)
    stuck = allocate(topo, first)
    assert any("--release east" in p.message for p in stuck.problems)
    fresh = allocate(topo, release(first, topo, ["east"])).lock
    assert not fresh.vpcs["east"].cidr.overlaps(first.vpcs["east"].cidr)
    assert fresh.vpcs["west"] == first.vpcs["west"]


# ----------------------------------------------------------------------- addressing edits


def test_a_new_vpc_prefix_applies_to_new_vpcs_only_and_says_which_it_leaves() -> None:
    d = doc()
    first = allocated(d).lock
    d["addressing"]["vpc_prefix"] = 20
    d["vpcs"]["north"] = vpc("eu-west-1")
    second = allocated(d, first)
    assert second.lock.vpcs["east"] == first.vpcs["east"]
    assert second.lock.vpcs["north"].cidr.prefixlen == 20
    east, west = first.vpcs["east"].cidr, first.vpcs["west"].cidr
    assert (
        f"addressing.vpc_prefix /20 applies to new VPCs only: the recorded east {east}, west "
        f"{west} (lock file) keep their size; `vpnctl plan --release VPC` re-allocates one "
        "(a new VPC on AWS)"
    ) in second.notes


def test_a_vpcs_own_prefix_is_named_by_its_key() -> None:
    d = doc()
    first = allocated(d).lock
    d["vpcs"]["east"]["prefix"] = 18
    notes = allocated(d, first).notes
    assert any(n.startswith("vpcs.east.prefix /18 applies to new VPCs only: the recorded east ")
               for n in notes)  # fmt: skip
    assert not any("west" in n for n in notes)


def test_a_new_subnet_size_applies_to_new_azs_only() -> None:
    d = doc()
    first = allocated(d).lock
    d["addressing"]["routing_prefix"] = 25
    d["vpcs"]["east"]["azs"].append("us-east-1c")
    second = allocated(d, first)
    east = second.lock.vpcs["east"].azs
    assert east["us-east-1a"] == first.vpcs["east"].azs["us-east-1a"]
    assert east["us-east-1c"].routing.prefixlen == 25
    note = next(n for n in second.notes if n.startswith("addressing.routing_prefix /25"))
    assert f"east us-east-1a {first.vpcs['east'].azs['us-east-1a'].routing}" in note
    assert "us-east-1c" not in note
    assert not any(n.startswith("addressing.gateway_prefix") for n in second.notes)


def test_long_lists_in_a_note_are_cut_short() -> None:
    d = doc()
    for i in range(6):
        d["vpcs"][f"v{i}"] = vpc("eu-west-1")
    first = allocated(d).lock
    d["addressing"]["vpc_prefix"] = 20
    note = next(n for n in allocated(d, first).notes if "vpc_prefix" in n)
    assert "and 3 more (lock file)" in note


def test_unchanged_addressing_adds_no_note() -> None:
    d = doc()
    first = allocated(d).lock
    assert allocated(d, first).notes == ()


def test_a_pool_that_still_holds_every_recorded_vpc_changes_nothing_recorded() -> None:
    d = doc()
    first = allocated(d).lock
    d["addressing"]["pool"] = "10.0.0.0/8"
    second = allocated(d, first)
    assert second.lock == first
    assert second.notes == ()


def test_a_moved_pool_is_refused_naming_the_recorded_vpcs() -> None:
    d = doc()
    first = allocated(d).lock
    d["addressing"]["pool"] = "10.128.0.0/12"
    result = allocate(parse(d), first)
    east, west = first.vpcs["east"].cidr, first.vpcs["west"].cidr
    assert [p.key for p in result.problems] == ["addressing.pool"]
    assert result.problems[0].message.startswith(
        f"the recorded VPC(s) east {east}, west {west} (lock file) lie outside the pool "
        "10.128.0.0/12, and a VPC cannot be re-addressed in place: keep a pool that holds them, "
        "pin one where it is (vpcs.NAME.cidr), or re-plan with --release NAME"
    )


def test_a_moved_pool_is_accepted_once_the_recorded_vpcs_are_pinned_or_released() -> None:
    d = doc()
    first = allocated(d).lock
    d["addressing"]["pool"] = "10.128.0.0/12"
    d["vpcs"]["east"]["cidr"] = str(first.vpcs["east"].cidr)
    topo = parse(d)
    result = allocate(topo, release(first, topo, ["west"]))
    assert not result.problems, result.problems
    assert result.lock.vpcs["east"] == first.vpcs["east"]
    assert result.lock.vpcs["west"].cidr.subnet_of(net("10.128.0.0/12"))
    assert any("does not hold the recorded region block(s)" in n and "us-west-2" in n
               for n in result.notes)  # fmt: skip


def test_a_moved_tunnel_pool_is_refused_naming_the_recorded_tunnels() -> None:
    d = doc()
    first = allocated(d).lock
    d["addressing"]["tunnel_pool"] = "169.254.128.0/18"
    result = allocate(parse(d), first)
    assert result.problems
    text = "\n".join(f"{p.key}: {p.message}" for p in result.problems)
    assert "addressing.tunnel_pool" in text
    for name, tunnel in first.tunnels.items():
        assert any(name in p.message and str(tunnel.inside) in p.message
                   for p in result.problems)  # fmt: skip
    assert "169.254.128.0/18" in text
    assert [p.key for p in result.problems] == ["addressing.tunnel_pool"]  # one refusal


def test_tunnels_no_longer_used_do_not_hold_a_tunnel_pool_edit_back() -> None:
    d = doc()
    first = allocated(d).lock
    d["links"] = []
    d["addressing"]["tunnel_pool"] = "169.254.128.0/18"
    result = allocate(parse(d), first)
    assert not result.problems, result.problems
    assert result.lock.tunnels == first.tunnels  # still reserved until --prune
