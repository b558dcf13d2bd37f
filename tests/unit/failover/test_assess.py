"""The hook's pure middle: the design's JSON round trip, and what a read plus an event become."""

from __future__ import annotations

from tests.builders import designed, doc
from vpnctl.failover import evidence as ev
from vpnctl.failover import seen as ob
from vpnctl.failover.assess import assess
from vpnctl.failover.bundle import Bundle
from vpnctl.failover.events import (
    GatewayHealth,
    InstanceStateChanged,
    InstanceTerminating,
    Reconcile,
)
from vpnctl.health_contract import TUNNEL_UP
from vpnctl.topology import Account, Failover

DESIGN = designed(doc())  # east (us-east-1) and west (us-west-2), AZs a and b
BUNDLE = Bundle(
    DESIGN,
    Failover(),
    {"main": Account("main", "aws"), "china": Account("china", "aws-cn")},
    "main",
)
REGIONS = frozenset({("main", "us-east-1"), ("main", "us-west-2")})


def instance(gateway: str, state: str = "running", id_: str | None = None) -> ob.Instance:
    g = DESIGN.gateway_by_name[gateway]
    return ob.Instance(id_ or f"i-{gateway}", gateway, state, f"eni-{gateway}", False, 0.0,
                       g.account, g.region)  # fmt: skip


def tables(on: dict[str, str] | None = None) -> tuple[ob.Table, ...]:
    """Every routing table, on its preferred gateway unless ``on`` says otherwise."""
    on = on or {}
    found = []
    for t in DESIGN.route_tables:
        vpc = DESIGN.vpcs[t.vpc]
        eni = f"eni-{on.get(t.name, t.via)}"
        routes = {str(d): eni for d in t.destinations}
        found.append(ob.Table(f"rtb-{t.name}", t.name, vpc.account, vpc.region, routes))
    return tuple(found)


def seen(*instances: ob.Instance, on: dict[str, str] | None = None, **kw: object) -> ob.Seen:
    every = {i.gateway: i for i in (instance(g.name) for g in DESIGN.gateways)}
    every.update({i.gateway: i for i in instances})
    return ob.Seen(REGIONS, tuple(every.values()), tables(on), **kw)  # type: ignore[arg-type]


def test_the_design_survives_its_json_round_trip() -> None:
    assert Bundle.from_json(BUNDLE.to_json()) == BUNDLE


def test_all_well_means_no_work() -> None:
    found = assess(BUNDLE, seen(), Reconcile(None, None, None), 0.0)
    assert not found.mutating
    assert all(not c.changed for c in found.choices)


def test_a_stopped_gateway_moves_its_tables_once_per_destination() -> None:
    event = InstanceStateChanged(None, None, None, "i-gw-east-a", "stopped")
    found = assess(BUNDLE, seen(), event, 0.0)  # the read still says running: the event wins
    moved = {m.table for m in found.moves}
    assert "rt-east-a" in moved
    assert all(m.eni != "eni-gw-east-a" for m in found.moves)
    assert found.accounts() == frozenset({"main"})


def test_a_route_to_a_replaced_instance_is_a_route_to_nothing() -> None:
    import dataclasses

    old = dataclasses.replace(instance("gw-west-b", "terminated", "i-old"), eni="eni-old")
    view = seen(old, on={"rt-west-b": "old"})  # the table still points at the old ENI
    view = dataclasses.replace(view, instances=(*view.instances, instance("gw-west-b")))
    found = assess(BUNDLE, view, Reconcile(None, None, None), 0.0)
    assert {(m.table, m.was, m.eni) for m in found.moves} == {
        ("rt-west-b", "eni-old", "eni-gw-west-b")
    }


def test_a_foreign_instance_is_ignored_before_any_work() -> None:
    event = InstanceStateChanged(None, None, None, "i-someone-else", "terminated")
    found = assess(BUNDLE, seen(), event, 0.0)
    assert found.ignored is not None
    assert not found.mutating


def test_a_lifecycle_action_is_completed_once() -> None:
    event = InstanceTerminating(
        None, None, None, "i-gw-east-a", "t-gw-east-a", "vpnctl-drain", "x" * 36
    )
    waiting = assess(BUNDLE, seen(lifecycle={"i-gw-east-a": "Terminating:Wait"}), event, 0.0)
    assert waiting.complete is not None
    assert "rt-east-a" in {m.table for m in waiting.moves}
    done = assess(BUNDLE, seen(lifecycle={"i-gw-east-a": "Terminating:Proceed"}), event, 0.0)
    assert done.complete is None


def _ready(view: ob.Seen) -> ob.Seen:
    import dataclasses

    ready = tuple(dataclasses.replace(i, ready="digest-1") for i in view.instances)
    return dataclasses.replace(view, instances=ready)


def _up(view: ob.Seen, now: float, *, but: str | None = None) -> ob.Seen:
    import dataclasses

    points = [
        ev.Point(ev.Query(TUNNEL_UP, t.a.gateway, t.name), ev.Reading(now - 1, t.name != but))
        for t in DESIGN.tunnels
    ]
    return dataclasses.replace(view, evidence=ev.gather(points))


def test_an_agent_event_is_evidence_before_the_figures_show_it() -> None:
    view = _up(_ready(seen()), 100.0)
    event = GatewayHealth(None, None, None, DESIGN.name, "gw-west-a", "i-gw-west-a", "tunnel",
                          "east-a--west-a", False, 100.0)  # fmt: skip
    found = assess(BUNDLE, view, event, 100.0)
    assert found.states["gw-east-a"].describe() == "DOWN on east-a--west-a"
    assert "rt-east-a" in {m.table for m in found.moves}


def test_a_ready_event_makes_its_instance_usable_before_the_tag_shows() -> None:
    import dataclasses

    view = _up(_ready(seen()), 100.0)
    untagged = tuple(
        dataclasses.replace(i, ready=None) if i.gateway == "gw-east-a" else i
        for i in view.instances
    )
    view = dataclasses.replace(view, instances=untagged)
    assert not assess(BUNDLE, view, Reconcile(None, None, None), 100.0).states["gw-east-a"].usable
    event = GatewayHealth(None, None, None, DESIGN.name, "gw-east-a", "i-gw-east-a", "ready",
                          "digest-1", True, 100.0)  # fmt: skip
    assert assess(BUNDLE, view, event, 100.0).states["gw-east-a"].healthy


def test_health_of_another_topology_is_ignored() -> None:
    event = GatewayHealth(None, None, None, "other", "gw-east-a", "i-1", "tunnel", "x", False, 0.0)
    assert assess(BUNDLE, seen(), event, 0.0).ignored is not None


def test_no_evidence_at_all_from_ready_gateways_moves_nothing() -> None:
    """Every gateway is tagged ready but nothing was read (the metrics service is out): a
    stopped gateway's event moves no route, since no other gateway is proven either."""
    event = InstanceStateChanged(None, None, None, "i-gw-east-a", "stopped")
    found = assess(BUNDLE, _ready(seen()), event, 100.0)
    assert not found.moves


def test_the_pure_middle_imports_no_boto3() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import vpnctl.failover.assess, vpnctl.failover.signals, "
        "vpnctl.failover.evidence, vpnctl.failover.events; "
        "sys.exit('boto3' in sys.modules or 'botocore' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
