"""Gateway states derived from instance states, probe results and the paths tunnels carry."""

from __future__ import annotations

from pathlib import Path

from tests.builders import designed, doc
from vpnctl import pipeline
from vpnctl.design import Design
from vpnctl.failover.signals import gateway_states

TOPOLOGIES = Path(__file__).parents[3] / "topologies"


def running(design: Design, **overrides: str) -> dict[str, str]:
    states = {g.name: "running" for g in design.gateways}
    states.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return states


def test_all_running_and_probed_up_is_all_healthy() -> None:
    design = designed(doc())
    states = gateway_states(design, running(design))
    assert all(s.healthy for s in states.values())


def test_a_dead_peer_takes_its_tunnels_down_at_once() -> None:
    design = designed(doc())
    states = gateway_states(design, running(design, gw_west_a="terminated"))
    assert states["gw-east-a"].down_tunnels == {"east-a--west-a"}
    assert not states["gw-east-a"].healthy
    assert states["gw-east-b"].healthy


def test_probe_down_marks_only_that_tunnel() -> None:
    design = designed(doc())
    states = gateway_states(design, running(design), probe_down=frozenset({"east-b--west-b"}))
    assert [g for g, s in states.items() if not s.healthy] == ["gw-east-b", "gw-west-b"]


def test_transit_breaks_beyond_the_hub() -> None:
    design = pipeline.plan(TOPOLOGIES / "china-hub.yaml").design
    states = gateway_states(design, running(design, gw_cn_north_1_a="terminated"))
    unhealthy = sorted(g for g, s in states.items() if not s.healthy)
    # the hub's AZ-a gateway lost cn-a; us-west-2-a routes cn through it, so it goes too
    assert unhealthy == ["gw-ap-southeast-1-a", "gw-cn-north-1-a", "gw-us-west-2-a"]
    assert states["gw-us-west-2-a"].down_tunnels == {"ap-southeast-1-a--us-west-2-a"}


def test_alarms_terminating_and_since_are_carried() -> None:
    design = designed(doc())
    states = gateway_states(
        design,
        running(design),
        alarms={"gw-east-a": "ALARM"},
        healthy_since={"gw-east-b": 12.0},
        terminating=frozenset({"gw-west-a"}),
    )
    assert states["gw-east-a"].alarm == "ALARM"
    assert states["gw-east-b"].healthy_since == 12.0
    assert states["gw-west-a"].terminating


def test_a_reason_names_the_tunnel_lost_beyond_the_hub() -> None:
    from vpnctl.failover.decision import decide, routes

    planned = pipeline.plan(TOPOLOGIES / "china-hub.yaml")
    design = planned.design
    states = gateway_states(design, running(design, gw_cn_north_1_a="terminated"))
    current = {r: t.gateways[0] for t in design.route_tables for r in routes(t)}
    reasons = {
        c.table: c.reason for c in decide(design, current, states, planned.topology.failover, 0)
    }
    # us-west-2-a's own tunnel to the hub is up: what broke is the hub's tunnel to cn-north-1
    assert reasons["rt-us-west-2-a"] == (
        "gw-us-west-2-a is cut off: ap-southeast-1-a--cn-north-1-a is DOWN beyond "
        "ap-southeast-1-a--us-west-2-a, reaching less than another gateway; "
        "moving to gw-us-west-2-b"
    )
    assert "DOWN on ap-southeast-1-a--cn-north-1-a" in reasons["rt-ap-southeast-1-a"]
