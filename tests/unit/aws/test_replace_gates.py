"""apply's replacement, its pure parts: what a new instance must show before the next step,
and what is left to replace from an earlier apply."""

from __future__ import annotations

from tests.builders import designed, doc
from tests.unit.aws.test_diff import empty
from vpnctl.aws import live as lv
from vpnctl.aws.replace import gate, pending
from vpnctl.failover import evidence as ev
from vpnctl.failover import seen as ob
from vpnctl.health_contract import TUNNEL_UP

DESIGN = designed(doc())
GW = "gw-east-a"
TUNNELS = [t.name for t in DESIGN.tunnels_by_gateway[GW]]
DIGEST = "d" * 64
NOW = 1000.0


def instance(iid: str, state: str = "running", ready: str | None = DIGEST) -> ob.Instance:
    return ob.Instance(iid, GW, state, "eni-1", False, 900.0, "main", "us-east-1", ready)


def seen(at: float = 990.0, up: bool = True) -> ob.Seen:
    points = [ev.Point(ev.Query(TUNNEL_UP, GW, t), ev.Reading(at, up)) for t in TUNNELS]
    return ob.Seen(frozenset(), evidence=ev.gather(points))


def check(now: ob.Instance | None, old: ob.Instance | None = None, read: ob.Seen | None = None
          ) -> str:  # fmt: skip
    return gate(DESIGN, GW, now, old, {GW: DIGEST}, read or seen(), NOW)


def test_a_new_ready_instance_with_its_tunnels_up_passes() -> None:
    assert check(instance("i-new"), instance("i-old")) == ""


def test_the_old_instance_or_none_is_not_a_new_one() -> None:
    assert "a new running instance" in check(None)
    assert "a new running instance" in check(instance("i-old"), instance("i-old"))
    assert "a new running instance" in check(instance("i-new", "pending"), instance("i-old"))


def test_ready_means_the_designed_digest() -> None:
    assert "to report vpnctl:ready = dddddddddddd (it reports None)" in check(
        instance("i-new", ready=None)
    )
    assert "it reports eeee" in check(instance("i-new", ready="e" * 64))


def test_tunnels_must_be_up_since_the_new_instance_launched() -> None:
    assert check(instance("i-new"), read=seen(at=899.0)).startswith("TunnelUp 1 of")  # before
    assert check(instance("i-new"), read=seen(up=False)).startswith("TunnelUp 1 of")  # down
    assert check(instance("i-new"), read=seen(at=960.0)).startswith("TunnelUp 1 of")  # stale
    assert check(instance("i-new"), read=ob.Seen(frozenset())).startswith("TunnelUp 1 of")


def test_what_an_earlier_apply_left_is_pending() -> None:
    region = lv.Region("main", "us-east-1", instances=(
        lv.Instance("i-1", "gw-east-a", "running", None, False, None, DIGEST, "boots ami-2"),
        lv.Instance("i-2", "gw-east-b", "running", None, False, None, DIGEST),
        lv.Instance("i-3", "gw-west-a", "shutting-down", None, False, None, None, "boots ami-2"),
    ))  # fmt: skip
    live = empty(regions={("main", "us-east-1"): region})
    found = pending(live)
    assert [(w.gateway, w.reasons) for w in found] == [("gw-east-a", ("boots ami-2",))]
