"""Converged or not, and why; the wait's bounds. Pure (the poll is a function given)."""

from __future__ import annotations

from tests.unit.aws.test_diff import intent
from vpnctl.aws import convergence
from vpnctl.aws import live as lv

D = "d" * 64


def instance(name: str, ready: str | None, state: str = "running", id_: str = "i-1") -> lv.Instance:
    return lv.Instance(id_, name, state, None, True, None, ready)


def test_each_gateway_is_judged_by_its_current_instances_ready_tag() -> None:
    wanted = intent()
    gateways = wanted.design.gateways
    a, b = gateways[0], gateways[1]
    here = (a.account, a.region)
    found = {here: (instance(a.name, D), instance(b.name, "e" * 64, id_="i-2"))}
    if (b.account, b.region) != here:
        found[(b.account, b.region)] = found[here]
    states = {
        s.gateway: s for s in convergence.judge(gateways, dict.fromkeys([a.name, b.name], D), found)
    }
    assert states[a.name].converged
    assert states[a.name].why() == ""
    assert states[b.name].ready
    assert not states[b.name].converged
    assert "runs configuration eeeeeeeeeeee, not the designed dddddddddddd" in states[b.name].why()
    others = [g for g in gateways if g.name not in (a.name, b.name)]
    if others:
        assert "no live instance" in states[others[0].name].why()


def test_a_terminated_instance_does_not_count_and_a_silent_one_says_so() -> None:
    g = intent().design.gateways[0]
    gone = {(g.account, g.region): (instance(g.name, D, state="terminated"),)}
    (state,) = convergence.judge([g], {g.name: D}, gone)
    assert state.instance is None
    assert not state.converged
    silent = {(g.account, g.region): (instance(g.name, None),)}
    (state,) = convergence.judge([g], {g.name: D}, silent)
    assert not state.ready
    assert "has not reported vpnctl:ready" in state.why()


def test_the_wait_ends_when_all_converge_or_after_its_bounded_number_of_polls() -> None:
    g = intent().design.gateways[0]
    pending = convergence.State(g.name, g.account, g.region, "i-1", D, None)
    done = convergence.State(g.name, g.account, g.region, "i-1", D, D)
    answers = [(pending,), (pending,), (done,)]
    said: list[str] = []
    slept: list[float] = []
    left = convergence.wait(lambda: answers.pop(0), 60, 5, slept.append, lambda: 0.0, said.append)
    assert left == ()
    assert slept == [5, 5]
    assert said == [f"converged: 0/1 gateways (waiting for {g.name})", "converged: 1/1 gateways"]
    polls: list[int] = []

    def never() -> tuple[convergence.State, ...]:
        polls.append(1)
        return (pending,)

    left = convergence.wait(never, 20, 5, lambda _s: None, lambda: 0.0, lambda _m: None)
    assert left == (pending,)
    assert len(polls) == 5  # a clock that stands still does not make it wait forever
