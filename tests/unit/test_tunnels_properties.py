"""Properties of pairing through the lock file: make before break over any sequence of edits."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import parse
from tests.strategies import growths, shrinks, topologies
from vpnctl.design import Design, design
from vpnctl.ipam import Lock, allocate


def planned(d: dict[str, Any], lock: Lock | None) -> tuple[Lock, Design]:
    topo = parse(d)
    result = allocate(topo, lock)
    assert not result.problems, result.problems
    return result.lock, design(topo, result.lock)


def tunnel_facts(plan: Design) -> dict[str, tuple[str, str, str, str, int]]:
    """What must not move for a kept tunnel: its gateways, link, /30 and port."""
    return {
        t.name: (t.a.gateway, t.b.gateway, t.link, str(t.inside_cidr), t.a.port)
        for t in plan.tunnels
    }


def assert_kept(before: Design, after: Design, lock_before: Lock, lock_after: Lock) -> None:
    gateways = set(after.gateway_by_name)
    links = {t.link for t in after.tunnels}
    now = tunnel_facts(after)
    for name, (a, b, link, inside, port) in tunnel_facts(before).items():
        if {a, b} <= gateways and link in links:
            assert now.get(name) == (a, b, link, inside, port), name
            assert lock_after.tunnels[name] == lock_before.tunnels[name], name


def assert_covered(plan: Design, d: dict[str, Any]) -> None:
    """Every gateway of both VPCs of a link has a tunnel on it."""
    on: dict[str, set[str]] = {}
    for t in plan.tunnels:
        for end in t.ends():
            on.setdefault(t.link, set()).add(end.gateway)
    for link in parse(d).links:
        expected = {*plan.vpcs[link.a].gateways, *plan.vpcs[link.b].gateways}
        assert on.get(link.name) == expected, link.name


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_growth_never_removes_a_tunnel_whose_gateways_exist(data: st.DataObject) -> None:
    d = data.draw(topologies(max_vpcs=4))
    lock, plan = planned(d, None)
    for step in range(data.draw(st.integers(1, 4))):
        d = data.draw(growths(d, new=f"new{step}"))
        grown_lock, grown = planned(d, lock)
        assert_kept(plan, grown, lock, grown_lock)
        assert_covered(grown, d)
        lock, plan = grown_lock, grown


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_edit_keeps_the_tunnels_whose_gateways_exist(data: st.DataObject) -> None:
    d = data.draw(topologies(max_vpcs=4))
    lock, plan = planned(d, None)
    for step in range(data.draw(st.integers(1, 4))):
        edit = data.draw(st.sampled_from([growths, shrinks]))
        d = data.draw(growths(d, new=f"new{step}") if edit is growths else shrinks(d))
        edited_lock, edited = planned(d, lock)
        assert_kept(plan, edited, lock, edited_lock)
        assert_covered(edited, d)
        assert planned(d, edited_lock)[1].tunnels == edited.tunnels  # planning again: no change
        lock, plan = edited_lock, edited


@settings(max_examples=40, deadline=None)
@given(topologies(max_vpcs=5))
def test_a_fresh_topology_pairs_as_through_an_empty_lock(d: dict[str, Any]) -> None:
    topo = parse(d)
    assert planned(d, None)[1].tunnels == planned(d, Lock(topo.name))[1].tunnels
