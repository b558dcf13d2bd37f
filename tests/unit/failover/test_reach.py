"""Health per destination: a gateway that still reaches part of the topology carries that part."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from vpnctl import pipeline
from vpnctl.failover.decision import GatewayState, Route, decide, routes
from vpnctl.failover.signals import gateway_states
from vpnctl.topology import Failover

TOPOLOGIES = Path(__file__).parents[3] / "topologies"
HUB = pipeline.plan(TOPOLOGIES / "china-hub.yaml").design
POLICY = Failover()
GATEWAYS = [g.name for g in HUB.gateways]


def preferred() -> dict[Route, str | None]:
    return {r: t.via for t in HUB.route_tables for r in routes(t)}


def states_with(dead: set[str]) -> dict[str, GatewayState]:
    return gateway_states(HUB, {g: "terminated" if g in dead else "running" for g in GATEWAYS})


def test_a_second_failure_leaves_each_destination_on_a_gateway_that_reaches_it() -> None:
    """us-west-2-a dies, then cn-north-1-b: cn-north-1-a still reaches the hub's VPC."""
    states = states_with({"gw-us-west-2-a", "gw-cn-north-1-b"})
    assert not states["gw-cn-north-1-a"].healthy  # it cannot reach us-west-2 through hub-a
    current = {**preferred(), **{r: "gw-cn-north-1-b" for r in preferred() if "cn-north" in r[0]}}
    choices = {c.table: c for c in decide(HUB, current, states, POLICY, now=0)}
    for table in ("rt-cn-north-1-a", "rt-cn-north-1-b"):
        assert choices[table].chosen == "gw-cn-north-1-a", choices[table]
        assert "reaches 2 of 4 subnets" in choices[table].reason


def test_after_a_second_failure_each_hub_route_goes_to_the_gateway_reaching_its_spoke() -> None:
    """The hub's tables have a route per spoke: us-west-2's moves to hub-b (hub-a lost its
    tunnel to us-west-2-a), cn-north-1's stays on or moves to hub-a (hub-b lost cn-north-1-b).
    One summary for both could sit on only one of them, losing half the hub's flows."""
    states = states_with({"gw-us-west-2-a", "gw-cn-north-1-b"})
    us = {str(s.cidr) for s in HUB.vpcs["us-west-2"].routing_subnets}
    cn = {str(s.cidr) for s in HUB.vpcs["cn-north-1"].routing_subnets}
    choices = decide(HUB, preferred(), states, POLICY, now=0)
    for table in ("rt-ap-southeast-1-a", "rt-ap-southeast-1-b"):
        chosen: dict[str, str | None] = {}
        for choice in (c for c in choices if c.table == table):
            under = {
                s for s in us | cn if IPv4Network(s).subnet_of(IPv4Network(choice.destination))
            }
            spoke = "us-west-2" if under == us else "cn-north-1" if under == cn else "both"
            chosen[spoke] = choice.chosen
        assert chosen == {"us-west-2": "gw-ap-southeast-1-b", "cn-north-1": "gw-ap-southeast-1-a"}


def test_reach_beyond_the_hub_follows_the_onward_tunnel() -> None:
    states = states_with({"gw-us-west-2-a"})
    cn_a = states["gw-cn-north-1-a"]
    hub = {str(s.cidr) for s in HUB.vpcs["ap-southeast-1"].routing_subnets}
    assert cn_a.reaches == frozenset(hub)
    assert states["gw-cn-north-1-b"].reaches is None  # nothing down: reaches all


@settings(max_examples=200, deadline=None)
@given(st.sets(st.sampled_from(GATEWAYS)), st.sets(st.sampled_from([t.name for t in HUB.tunnels])))
def test_every_destination_reachable_through_a_live_gateway_is_reached(
    dead: set[str], probe_down: set[str]
) -> None:
    """Whatever dies and whatever the probes hold DOWN, each route ends on a gateway reaching
    as much of the subnets under its destination as any usable gateway of its VPC does, and
    never moves when none reaches any of them."""
    instances = {g: ("terminated" if g in dead else "running") for g in GATEWAYS}
    states = gateway_states(HUB, instances, probe_down=frozenset(probe_down))
    for choice in decide(HUB, preferred(), states, POLICY, now=0):
        table = HUB.route_table_by_name[choice.table]
        destination = IPv4Network(choice.destination)
        subnets = {
            str(s.cidr)
            for name, v in HUB.vpcs.items()
            if name != table.vpc
            for s in v.routing_subnets
            if s.cidr.subnet_of(destination)
        }
        best = max(states[g].reach(frozenset(subnets)) for g in table.gateways)
        if best == 0:
            assert not choice.changed
            continue
        target = choice.chosen if choice.chosen is not None else choice.current
        assert target is not None
        assert states[target].reach(frozenset(subnets)) == best, choice
