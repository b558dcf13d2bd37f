"""The hook's pure middle: the design's JSON round trip, and what a read plus an event become."""

from __future__ import annotations

from tests.builders import designed, doc
from vpnctl.failover import observe as ob
from vpnctl.failover.assess import assess
from vpnctl.failover.bundle import Bundle
from vpnctl.failover.events import InstanceStateChanged, InstanceTerminating, Reconcile
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
