"""The replacement plan, by example and by property: which gateways go in which step, and that
no step but one that cannot be helped leaves a route reaching less than with every gateway up."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import designed, doc, vpc
from vpnctl import replacement as rp
from vpnctl.design import Design
from vpnctl.failover.decision import Route, routes
from vpnctl.topology import Failover

POLICY = Failover(consecutive_failures=3, recovery_successes=5, failback=False, hold_down_s=300)
TWO = designed(doc())  # east and west, two AZs each
ONE_AZ = designed(
    doc(
        vpcs={"east": vpc("us-east-1"), "west": vpc("us-west-2"), "solo": vpc("eu-west-1", "a")},
        links=[{"between": ["east", "west"]}, {"between": ["east", "solo"]}],
    )
)


def every(design: Design, why: str = "image a -> b") -> list[rp.Why]:
    return [rp.Why(g.name, (why,)) for g in design.gateways]


def preferred(design: Design) -> dict[Route, str | None]:
    return {r: t.via for t in design.route_tables for r in routes(t)}


def test_two_by_two_goes_in_two_steps_first_azs_together() -> None:
    found = rp.plan(TWO, every(TWO))
    assert [s.gateways for s in found.steps] == [
        ("gw-east-a", "gw-west-a"),
        ("gw-east-b", "gw-west-b"),
    ]
    assert all(not s.cuts for s in found.steps)
    assert found.warnings(TWO) == ()


def test_a_gateway_alone_is_one_step() -> None:
    found = rp.plan(TWO, [rp.Why("gw-west-b", ("instance type t3.small -> t3.medium",))])
    assert [s.gateways for s in found.steps] == [("gw-west-b",)]
    assert found.why[0].describe() == "gw-west-b (instance type t3.small -> t3.medium)"


def test_nothing_to_replace_is_no_plan() -> None:
    assert not rp.plan(TWO, [])
    assert not rp.plan(TWO, [rp.Why("gw-gone-a", ("image",))])  # not in the design


def test_a_one_az_vpc_goes_last_alone_and_is_warned_about() -> None:
    found = rp.plan(ONE_AZ, every(ONE_AZ))
    steps = [s.gateways for s in found.steps]
    assert steps[-1] == ("gw-solo-a",)
    assert found.steps[-1].cuts == (("east", "solo"), ("solo", "east"))
    assert all(not s.cuts for s in found.steps[:-1])
    # solo-a's tunnels go to east-a and east-b: neither east gateway alone cuts solo off
    assert sorted(g for s in steps[:-1] for g in s) == ["gw-east-a", "gw-east-b", "gw-west-a",
                                                        "gw-west-b"]  # fmt: skip
    (warning,) = found.warnings(ONE_AZ)
    assert warning.startswith("vpc solo has one AZ: replacing its only gateway gw-solo-a drops")
    assert "for the length of a boot" in warning
    assert "CUTS east -> solo, solo -> east" in found.steps[-1].describe()


def test_both_ends_of_a_link_are_never_out_at_once() -> None:
    """3 AZs against 2 pair a-a, b-b, c-a: with west-a out only east-b's tunnel is left, so
    east-b goes in no step with west-a, and the b gateways never go together."""
    design = designed(doc(vpcs={"east": vpc("us-east-1", "abc"), "west": vpc("us-west-2")}))
    found = rp.plan(design, every(design))
    for step in found.steps:
        assert not step.cuts
        assert not ({"gw-west-a", "gw-east-b"} <= set(step.gateways))
        assert not ({"gw-west-b", "gw-east-a"} <= set(step.gateways))
        assert not ({"gw-west-b", "gw-east-c"} <= set(step.gateways))
    assert sorted(found.gateways) == sorted(g.name for g in design.gateways)


def test_cuts_name_what_a_step_would_unlink() -> None:
    assert rp.cuts(TWO, frozenset({"gw-east-a", "gw-west-b"})) == (
        ("east", "west"),
        ("west", "east"),
    )
    assert rp.cuts(TWO, frozenset({"gw-east-a", "gw-west-a"})) == ()
    assert rp.cuts(TWO, frozenset({"gw-east-a", "gw-east-b"})) != ()


def test_drain_moves_every_route_off_the_step_and_off_tunnels_to_it() -> None:
    out = frozenset({"gw-east-a", "gw-west-a"})
    moves = rp.drain(TWO, preferred(TWO), out, POLICY, now=1000)
    moved = {(c.table, c.destination): c.chosen for c in moves}
    assert {t for t, _ in moved} == {"rt-east-a", "rt-west-a"}
    assert set(moved.values()) == {"gw-east-b", "gw-west-b"}
    after = {**preferred(TWO), **moved}
    assert not set(after.values()) & out


def test_drain_of_one_end_moves_the_far_side_off_its_dead_tunnel() -> None:
    """Only west-a goes: east-a's one tunnel (to west-a) dies with it, so rt-east-a's routes
    to west move to east-b, whose tunnel to west-b stays."""
    moves = rp.drain(TWO, preferred(TWO), frozenset({"gw-west-a"}), POLICY, now=1000)
    moved = {c.table: c.chosen for c in moves}
    assert moved == {"rt-west-a": "gw-west-b", "rt-east-a": "gw-east-b"}


def test_restore_puts_back_only_what_the_drain_moved() -> None:
    before = preferred(TWO)
    out = frozenset({"gw-east-a", "gw-west-a"})
    drained = {**before, **{(c.table, c.destination): c.chosen for c in
                            rp.drain(TWO, before, out, POLICY, now=1000)}}  # fmt: skip
    back = dict(rp.restore(TWO, drained, before))
    assert set(back) == {r for r in before if drained[r] != before[r]}
    assert {**drained, **back} == before


def test_json_says_why_and_the_steps() -> None:
    found = rp.plan(TWO, [rp.Why("gw-east-a", ("image x -> y",))])
    assert found.as_json() == {
        "gateways": [{"name": "gw-east-a", "why": ["image x -> y"]}],
        "steps": [{"gateways": ["gw-east-a"], "cuts": []}],
    }


@settings(max_examples=25, deadline=None)
@given(
    azs=st.lists(st.sampled_from(["a", "ab", "abc"]), min_size=2, max_size=3),
    chain=st.booleans(),
)
def test_every_step_is_safe_unless_nothing_could_be(azs: list[str], chain: bool) -> None:
    regions = ["us-east-1", "us-west-2", "eu-west-1"][: len(azs)]
    names = ["v0", "v1", "v2"][: len(azs)]
    vpcs = {n: vpc(r, z) for n, r, z in zip(names, regions, azs, strict=True)}
    pairs = list(itertools.pairwise(names)) if chain else [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :]]  # fmt: skip
    design = designed(doc(vpcs=vpcs, links=[{"between": list(p)} for p in pairs]))
    found = rp.plan(design, every(design))
    assert sorted(found.gateways) == sorted(g.name for g in design.gateways)
    seen_cut = False
    for step in found.steps:
        vpcs_in = [design.gateway_by_name[g].vpc for g in step.gateways]
        assert len(vpcs_in) == len(set(vpcs_in))  # a VPC keeps a gateway
        assert step.cuts == rp.cuts(design, frozenset(step.gateways))
        if step.cuts:
            seen_cut = True
            assert len(step.gateways) == 1  # what cannot be helped goes alone
        else:
            assert not seen_cut, "a safe step came after one that cuts"
