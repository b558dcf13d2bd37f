"""The health rules: a tunnel is up only on fresh evidence, a gateway is usable only once ready
and not seen DOWN by its siblings, silence is not health, and a topology that publishes
nothing keeps the instance-and-alarm treatment."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import designed, doc
from vpnctl.failover import evidence as ev
from vpnctl.failover.decision import Route, decide, routes
from vpnctl.failover.signals import Heard, gateway_states
from vpnctl.health_contract import GRACE_S, SIBLING_UP, TUNNEL_UP
from vpnctl.topology import Failover

DESIGN = designed(doc())  # east and west, AZs a and b; tunnels east-a--west-a, east-b--west-b
GATEWAYS = frozenset(g.name for g in DESIGN.gateways)
RUNNING = dict.fromkeys(GATEWAYS, "running")
NOW = 1000.0


def says(gateway: str, tunnel: str, up: bool = True, age: float = 1.0) -> ev.Point:
    return ev.Point(ev.Query(TUNNEL_UP, gateway, tunnel), ev.Reading(NOW - age, up))


def sees(gateway: str, sibling: str, up: bool, age: float = 1.0) -> ev.Point:
    return ev.Point(ev.Query(SIBLING_UP, gateway, sibling), ev.Reading(NOW - age, up))


def all_up(age: float = 1.0) -> list[ev.Point]:
    return [says(t.a.gateway, t.name, age=age) for t in DESIGN.tunnels]


def heard(
    points: list[ev.Point],
    ready: frozenset[str] = GATEWAYS,
    observed: frozenset[str] = GATEWAYS,
) -> Heard:
    return Heard(ev.gather(points), observed, ready, NOW)


def preferred() -> dict[Route, str | None]:
    return {r: t.via for t in DESIGN.route_tables for r in routes(t)}


def test_fresh_up_from_either_end_is_health() -> None:
    points = [says("gw-west-a", "east-a--west-a"), says("gw-east-b", "east-b--west-b")]
    states = gateway_states(DESIGN, RUNNING, heard=heard(points))
    assert all(s.healthy for s in states.values())


def test_silence_past_the_grace_period_is_not_health() -> None:
    points = [says("gw-east-a", "east-a--west-a", age=GRACE_S), says("gw-east-b", "east-b--west-b")]
    states = gateway_states(DESIGN, RUNNING, heard=heard(points))
    assert states["gw-east-a"].down_tunnels == {"east-a--west-a"}
    assert states["gw-east-a"].silent_tunnels == {"east-a--west-a"}
    assert states["gw-east-a"].describe() == "silent on east-a--west-a"
    assert states["gw-east-b"].healthy


def test_a_fresh_down_from_one_end_is_down_whatever_older_news_says() -> None:
    points = [*all_up(age=5.0), says("gw-west-b", "east-b--west-b", up=False, age=1.0)]
    states = gateway_states(DESIGN, RUNNING, heard=heard(points))
    assert states["gw-east-b"].describe() == "DOWN on east-b--west-b"
    assert not states["gw-east-b"].silent_tunnels


def test_a_gateway_not_ready_is_not_usable_though_its_tunnels_are_up() -> None:
    states = gateway_states(DESIGN, RUNNING, heard=heard(all_up(), GATEWAYS - {"gw-east-a"}))
    assert not states["gw-east-a"].usable
    assert states["gw-east-a"].describe() == "not ready (booting)"
    choice = next(c for c in decide(DESIGN, {}, states, Failover(), NOW) if c.table == "rt-east-a")
    assert choice.chosen == "gw-east-b"  # routes never move onto a booting replacement


def test_a_hung_gateway_its_siblings_see_down_is_not_usable() -> None:
    """It publishes nothing; the far end of its tunnel still has an UP a moment old."""
    points = [*all_up(), sees("gw-east-b", "gw-east-a", up=False)]
    states = gateway_states(DESIGN, RUNNING, heard=heard(points))
    assert states["gw-east-a"].siblings_down
    assert states["gw-east-a"].describe() == "seen DOWN by its siblings"
    moved = {c.table: c for c in decide(DESIGN, preferred(), states, Failover(), NOW)}
    assert moved["rt-east-a"].chosen == "gw-east-b"


def test_a_stale_or_up_sibling_view_does_not_condemn() -> None:
    stale = [*all_up(), sees("gw-east-b", "gw-east-a", up=False, age=GRACE_S + 1)]
    assert not gateway_states(DESIGN, RUNNING, heard=heard(stale))["gw-east-a"].siblings_down
    up = [*all_up(), sees("gw-east-b", "gw-east-a", up=True)]
    assert not gateway_states(DESIGN, RUNNING, heard=heard(up))["gw-east-a"].siblings_down


def test_no_evidence_anywhere_moves_nothing() -> None:
    """The metrics service is out: every gateway (ready before) is silent, none is usable, and
    rule 2 leaves every route as it is, even the one on a terminated gateway."""
    states = gateway_states(DESIGN, {**RUNNING, "gw-east-a": "terminated"}, heard=heard([]))
    assert not any(s.reach(frozenset({"*"})) for s in states.values())
    choices = decide(DESIGN, preferred(), states, Failover(), NOW)
    assert not any(c.changed for c in choices)
    assert all(c.chosen is None for c in choices)


def test_the_far_end_speaks_for_a_region_whose_own_figures_are_missing() -> None:
    west = [says("gw-west-a", "east-a--west-a"), says("gw-west-b", "east-b--west-b")]
    states = gateway_states(DESIGN, RUNNING, heard=heard(west))
    assert states["gw-east-a"].healthy


def test_a_topology_that_publishes_nothing_keeps_the_alarm_treatment_and_says_so() -> None:
    quiet = heard([], ready=frozenset())
    assert not quiet.speaks
    states = gateway_states(DESIGN, RUNNING, heard=quiet)
    assert all(s.healthy and s.unheard for s in states.values())
    choice = decide(DESIGN, preferred(), states, Failover(), NOW)[0]
    assert not choice.changed
    assert "no agent evidence" in choice.reason


def test_once_anything_publishes_an_unheard_gateway_is_not_usable() -> None:
    points = [says("gw-west-a", "east-a--west-a"), says("gw-west-b", "east-b--west-b")]
    states = gateway_states(DESIGN, RUNNING, heard=heard(points, ready=GATEWAYS - {"gw-east-a"}))
    assert states["gw-east-a"].unheard
    assert states["gw-east-a"].describe() == "publishes no health evidence"
    assert not states["gw-east-a"].usable


def test_gateways_this_run_cannot_read_keep_their_alarm_treatment() -> None:
    west = frozenset({"gw-west-a", "gw-west-b"})
    points = [says("gw-west-a", "east-a--west-a"), says("gw-west-b", "east-b--west-b")]
    states = gateway_states(DESIGN, RUNNING, heard=heard(points, ready=west, observed=west))
    assert states["gw-east-a"].healthy
    assert not states["gw-east-a"].unheard
    alarmed = gateway_states(
        DESIGN, RUNNING, alarms={"gw-east-a": "ALARM"}, heard=heard(points, west, west)
    )
    assert not alarmed["gw-east-a"].usable  # its alarm speaks for it


# ----------------------------------------------------------------------- properties

ages = st.floats(0, 2 * GRACE_S)
readings = st.one_of(st.none(), st.tuples(ages, st.booleans()))
ENDS = [(t.name, g) for t in DESIGN.tunnels for g in (t.a.gateway, t.b.gateway)]
WATCHES = [(g, s) for v in DESIGN.vpcs.values() for g in v.gateways for s in v.gateways if g != s]
currents = st.dictionaries(
    st.sampled_from([r for t in DESIGN.route_tables for r in routes(t)]),
    st.sampled_from([*sorted(GATEWAYS), None]),
)
worlds = st.fixed_dictionaries(
    {
        "instances": st.fixed_dictionaries(
            {g: st.sampled_from(["running", "running", "pending", "terminated"]) for g in GATEWAYS}
        ),
        "ready": st.frozensets(st.sampled_from(sorted(GATEWAYS))),
        "alarms": st.dictionaries(
            st.sampled_from(sorted(GATEWAYS)), st.sampled_from(["OK", "ALARM", "INSUFFICIENT_DATA"])
        ),
        "tunnels": st.fixed_dictionaries(dict.fromkeys(ENDS, readings)),
        "siblings": st.fixed_dictionaries(dict.fromkeys(WATCHES, readings)),
        "failback": st.booleans(),
    }
)


def _points(world: dict[str, Any], stale: bool) -> list[ev.Point]:
    shift = GRACE_S if stale else 0.0
    found = [
        says(g, t, up, age + shift)
        for (t, g), r in world["tunnels"].items()
        if r
        for age, up in [r]
    ]
    found += [
        sees(g, s, up, age + shift)
        for (g, s), r in world["siblings"].items()
        if r
        for age, up in [r]
    ]
    return found


def _fresh_up(points: list[ev.Point], tunnel: str) -> bool:
    mine = [p.reading for p in points if p.query.metric == TUNNEL_UP and p.query.subject == tunnel]
    latest = max(mine, key=lambda r: (r.at, not r.up), default=None)
    return latest is not None and NOW - latest.at < GRACE_S and latest.up


@settings(max_examples=300)
@given(worlds, currents)
def test_with_stale_inputs_never_an_unproven_choice(
    world: dict[str, Any], current: dict[Route, str | None]
) -> None:
    points = _points(world, stale=False)
    told = heard(points, world["ready"])
    states = gateway_states(DESIGN, world["instances"], alarms=world["alarms"], heard=told)
    if not told.speaks:  # nothing published at all: the instance-and-alarm treatment
        assert all(s.ready for s in states.values())
        return
    policy = Failover(failback=world["failback"], hold_down_s=0)
    for choice in decide(DESIGN, current, states, policy, NOW):
        vpc = DESIGN.vpcs[choice.vpc].gateways
        if any(states[g].healthy for g in vpc):
            assert choice.chosen is not None
            assert states[choice.chosen].healthy
        if not any(states[g].usable and states[g].reach(frozenset({"*"})) for g in vpc):
            assert not choice.changed
        if choice.changed:  # checked against the raw inputs, not the states
            chosen = choice.chosen
            assert chosen is not None
            assert chosen in vpc
            assert world["instances"][chosen] == "running"
            assert chosen in world["ready"]
            assert world["alarms"].get(chosen) != "ALARM"
            assert any(_fresh_up(points, t.name) for t in DESIGN.tunnels_by_gateway[chosen])
    for name, state in states.items():
        if state.healthy:
            assert all(_fresh_up(points, t.name) for t in DESIGN.tunnels_by_gateway[name])


@settings(max_examples=200)
@given(worlds, currents)
def test_when_every_reading_is_stale_nothing_moves(
    world: dict[str, Any], current: dict[Route, str | None]
) -> None:
    points = _points(world, stale=True)
    told = heard(points, world["ready"] | {"gw-east-a"})  # one at least was ready: it speaks
    states = gateway_states(DESIGN, world["instances"], alarms=world["alarms"], heard=told)
    policy = Failover(failback=world["failback"], hold_down_s=0)
    assert not any(c.changed for c in decide(DESIGN, current, states, policy, NOW))


def test_a_tunnel_to_a_replacement_still_booting_is_down_before_any_probe_says_so() -> None:
    """Auto Scaling replaces a terminated instance at once: the gateway's current instance
    then runs but has not reported ready. The far end's tunnel to it is down now, though its
    agent's last UP is still fresh, so its routes move on the termination, not three silent
    probe runs later."""
    ready = GATEWAYS - {"gw-east-a"}  # gw-east-a's replacement is booting
    states = gateway_states(DESIGN, RUNNING, heard=heard(all_up(), ready=ready))
    assert states["gw-east-a"].describe() == "not ready (booting)"
    assert states["gw-west-a"].down_tunnels == {"east-a--west-a"}
    assert not states["gw-west-a"].healthy
    assert states["gw-west-b"].healthy
    chosen = {c.table: c.chosen for c in decide(DESIGN, preferred(), states, Failover(), NOW)}
    assert chosen["rt-west-a"] == "gw-west-b"


def test_without_agent_evidence_a_running_far_end_keeps_its_tunnel_up() -> None:
    """A topology that publishes nothing has no ready marks: running is enough, as before."""
    states = gateway_states(DESIGN, RUNNING, heard=heard([], ready=frozenset()))
    assert all(not s.down_tunnels for s in states.values())
