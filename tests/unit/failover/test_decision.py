"""The pure failover decision, by example and by property."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import designed, doc, vpc
from vpnctl.design import Design
from vpnctl.failover.decision import Choice, GatewayState, Route, decide, routes
from vpnctl.probe import health
from vpnctl.topology import Failover

DESIGN = designed(doc())  # east and west, two AZs each: gw-{east,west}-{a,b}
GATEWAYS = [g.name for g in DESIGN.gateways]
UP = GatewayState("running", healthy_since=0.0)
POLICY = Failover(consecutive_failures=3, recovery_successes=5, failback=False, hold_down_s=300)


def on(design: Design, tables: dict[str, str | None]) -> dict[Route, str | None]:
    """Every route of each named table on the given gateway."""
    return {r: g for t, g in tables.items() for r in routes(design.route_table_by_name[t])}


def preferred(design: Design = DESIGN) -> dict[Route, str | None]:
    return on(design, {t.name: t.via for t in design.route_tables})


def by_table(choices: tuple[Choice, ...]) -> dict[str, Choice]:
    return {c.table: c for c in choices}


def all_up(**changes: GatewayState) -> dict[str, GatewayState]:
    states = dict.fromkeys(GATEWAYS, UP)
    states.update({k.replace("_", "-"): v for k, v in changes.items()})
    return states


def test_healthy_preferred_gateways_change_nothing() -> None:
    choices = decide(DESIGN, preferred(), all_up(), POLICY, now=1000)
    assert not any(c.changed for c in choices)
    assert by_table(choices)["rt-east-a"].reason == "gw-east-a (same AZ) is healthy"


def test_a_terminated_gateway_loses_its_tables_to_the_other_az() -> None:
    states = all_up(gw_east_a=GatewayState("terminated"))
    choice = by_table(decide(DESIGN, preferred(), states, POLICY, now=1000))["rt-east-a"]
    assert choice.changed
    assert choice.chosen == "gw-east-b"
    assert choice.reason == "gw-east-a is terminated; moving to gw-east-b"


def test_a_live_gateway_with_a_dead_tunnel_is_unhealthy() -> None:
    states = all_up(gw_east_a=GatewayState("running", down_tunnels=frozenset({"east-a--west-a"})))
    choice = by_table(decide(DESIGN, preferred(), states, POLICY, now=1000))["rt-east-a"]
    assert choice.chosen == "gw-east-b"
    assert "DOWN on east-a--west-a" in choice.reason


def test_terminating_and_alarmed_gateways_are_left() -> None:
    for state in (
        GatewayState("running", terminating=True),
        GatewayState("running", alarm="ALARM"),
    ):
        choice = by_table(decide(DESIGN, preferred(), all_up(gw_west_b=state), POLICY, 0))
        assert choice["rt-west-b"].chosen == "gw-west-a"


def test_no_healthy_gateway_changes_nothing() -> None:
    states = all_up(gw_east_a=GatewayState("stopped"), gw_east_b=GatewayState("stopped"))
    choice = by_table(decide(DESIGN, preferred(), states, POLICY, now=1000))["rt-east-a"]
    assert not choice.changed
    assert choice.chosen is None
    assert "no usable gateway" in choice.reason


def test_failback_waits_for_hold_down_and_only_when_enabled() -> None:
    moved = {**preferred(), **on(DESIGN, {"rt-east-a": "gw-east-b"})}
    recovered = all_up(gw_east_a=GatewayState("running", healthy_since=900.0))
    stay = by_table(decide(DESIGN, moved, recovered, POLICY, now=1000))["rt-east-a"]
    assert not stay.changed
    back = Failover(3, 5, failback=True, hold_down_s=300)
    early = by_table(decide(DESIGN, moved, recovered, back, now=1100))["rt-east-a"]
    assert not early.changed
    late = by_table(decide(DESIGN, moved, recovered, back, now=1200))["rt-east-a"]
    assert (late.changed, late.chosen) == (True, "gw-east-a")


def test_a_table_pointing_nowhere_is_repaired() -> None:
    choice = by_table(decide(DESIGN, {}, all_up(), POLICY, now=0))["rt-west-a"]
    assert (choice.changed, choice.chosen) == (True, "gw-west-a")


def test_alarm_without_data_ranks_after_ok() -> None:
    design = designed({**doc(), "vpcs": {**doc()["vpcs"], "east": vpc("us-east-1", "abc")}})
    states = {g.name: UP for g in design.gateways}
    states["gw-east-a"] = GatewayState("stopped")
    states["gw-east-b"] = GatewayState("running", alarm="INSUFFICIENT_DATA")
    choice = by_table(decide(design, on(design, {"rt-east-a": "gw-east-a"}), states, POLICY, 0))[
        "rt-east-a"
    ]
    assert choice.chosen == "gw-east-c"


# ----------------------------------------------------------------------- properties

instance_states = st.sampled_from(
    ["running", "pending", "stopping", "stopped", "shutting-down", "terminated", "missing"]
)
gateway_states = st.builds(
    GatewayState,
    instance=instance_states,
    alarm=st.sampled_from(["OK", "ALARM", "INSUFFICIENT_DATA"]),
    down_tunnels=st.frozensets(st.sampled_from([t.name for t in DESIGN.tunnels]), max_size=1),
    terminating=st.booleans(),
    healthy_since=st.one_of(st.none(), st.floats(0, 2000)),
)
currents = st.dictionaries(
    st.sampled_from([r for t in DESIGN.route_tables for r in routes(t)]),
    st.sampled_from([*GATEWAYS, None]),
)
policies = st.builds(
    Failover, st.integers(1, 5), st.integers(1, 8), st.booleans(), st.integers(0, 900)
)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries(dict.fromkeys(GATEWAYS, gateway_states)), currents, policies)
def test_never_an_unhealthy_choice_when_a_healthy_gateway_exists(
    states: dict[str, GatewayState], current: dict[Route, str | None], policy: Failover
) -> None:
    for choice in decide(DESIGN, current, states, policy, now=1000):
        vpc_gateways = DESIGN.vpcs[choice.vpc].gateways
        if any(states[g].healthy for g in vpc_gateways):
            assert choice.chosen is not None
            assert states[choice.chosen].healthy
            assert choice.chosen in vpc_gateways
        else:
            assert not choice.changed


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 6),
    st.lists(st.integers(1, 5), min_size=1, max_size=30),
)
def test_bad_streaks_shorter_than_the_threshold_never_move_a_route(
    threshold: int, streaks: list[int]
) -> None:
    """Probe runs alternate: a streak of failures shorter than ``threshold``, then one good run.

    Fed through the probe's health state machine and the decision, routes never move."""
    policy = Failover(consecutive_failures=threshold, recovery_successes=threshold + 2)
    state = health.Health()
    now = 0.0
    current = preferred()
    for streak in streaks:
        runs = ["CRITICAL"] * min(streak, threshold - 1) + ["OK"]
        for status in runs:
            now += 60
            state = health.step(state, health.Run(now, status, None, None), policy)
            down = frozenset({"east-a--west-a"}) if state.state == "DOWN" else frozenset()
            states = all_up(gw_east_a=GatewayState("running", down_tunnels=down))
            choices = decide(DESIGN, current, states, policy, now)
            assert not any(c.changed for c in choices)
