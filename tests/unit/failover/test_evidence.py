"""The agents' evidence as the hook holds it: freshest reading per tunnel and per sibling view,
and freshness judged against GRACE_S."""

from __future__ import annotations

from tests.builders import designed, doc
from vpnctl.failover import evidence as ev
from vpnctl.health_contract import GRACE_S, SIBLING_UP, TUNNEL_UP

DESIGN = designed(doc())  # east and west, AZs a and b; tunnels east-a--west-a, east-b--west-b
TUNNEL = "east-a--west-a"


def tunnel(gateway: str, at: float, up: bool, name: str = TUNNEL) -> ev.Point:
    return ev.Point(ev.Query(TUNNEL_UP, gateway, name), ev.Reading(at, up))


def sibling(gateway: str, of: str, at: float, up: bool) -> ev.Point:
    return ev.Point(ev.Query(SIBLING_UP, gateway, of), ev.Reading(at, up))


def test_a_reading_is_fresh_only_inside_the_grace_period() -> None:
    reading = ev.Reading(100.0, True)
    assert ev.fresh(reading, 100.0 + GRACE_S - 0.1)
    assert not ev.fresh(reading, 100.0 + GRACE_S)
    assert not ev.fresh(None, 100.0)
    assert ev.says_up(reading, 110.0)
    assert not ev.says_up(reading, 100.0 + GRACE_S + 1)  # silence is not health
    assert not ev.says_down(reading, 110.0)
    assert ev.says_down(ev.Reading(100.0, False), 110.0)
    assert not ev.says_down(ev.Reading(100.0, False), 100.0 + GRACE_S)


def test_a_tunnel_holds_the_freshest_reading_from_either_end() -> None:
    found = ev.gather([tunnel("gw-east-a", 10.0, True), tunnel("gw-west-a", 12.0, False)])
    assert found.tunnels[TUNNEL] == ev.Reading(12.0, False)
    later = found.with_points([tunnel("gw-east-a", 13.0, True)])
    assert later.tunnels[TUNNEL] == ev.Reading(13.0, True)
    assert found.tunnels[TUNNEL] == ev.Reading(12.0, False)  # values stay as they were


def test_at_the_same_instant_down_wins() -> None:
    one = ev.gather([tunnel("gw-east-a", 10.0, True), tunnel("gw-west-a", 10.0, False)])
    other = ev.gather([tunnel("gw-west-a", 10.0, False), tunnel("gw-east-a", 10.0, True)])
    assert one.tunnels[TUNNEL] == other.tunnels[TUNNEL] == ev.Reading(10.0, False)


def test_sibling_views_are_kept_per_watcher() -> None:
    found = ev.gather(
        [
            sibling("gw-east-b", "gw-east-a", 10.0, True),
            sibling("gw-east-b", "gw-east-a", 11.0, False),
            sibling("gw-east-c", "gw-east-a", 9.0, True),
        ]
    )
    assert found.siblings["gw-east-a"] == {
        "gw-east-b": ev.Reading(11.0, False),
        "gw-east-c": ev.Reading(9.0, True),
    }
    assert found.heard == {"gw-east-b", "gw-east-c"}
    assert "gw-east-a" not in found.heard  # what others say of it is not its own voice


def test_ready_events_are_kept_by_instance() -> None:
    assert ev.Evidence().with_ready("i-1").ready == {"i-1"}


def test_queries_cover_every_tunnel_and_sibling_of_the_gateways() -> None:
    found = ev.queries(DESIGN, ["gw-east-a"])
    assert set(found) == {
        ev.Query(TUNNEL_UP, "gw-east-a", TUNNEL),
        ev.Query(SIBLING_UP, "gw-east-a", "gw-east-b"),
    }
    assert ev.Query(TUNNEL_UP, "gw-east-a", TUNNEL).dimensions("t") == {
        "Topology": "t",
        "Gateway": "gw-east-a",
        "Tunnel": TUNNEL,
    }
    assert ev.Query(SIBLING_UP, "gw-east-a", "gw-east-b").dimensions("t")["Sibling"] == "gw-east-b"
