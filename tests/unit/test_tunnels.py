"""Pairing: which gateways each link joins, fresh and through the lock file (make before break)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from tests.builders import allocated, doc, parse, vpc
from vpnctl import lockfile
from vpnctl.design import design
from vpnctl.ipam import Lock, allocate, release
from vpnctl.tunnels import all_tunnels, repaired

LINK = "frankfurt--singapore"


def frankfurt_singapore(frankfurt: str = "a", singapore: str = "ab") -> dict[str, Any]:
    return doc(
        vpcs={
            "frankfurt": vpc("eu-central-1", frankfurt),
            "singapore": vpc("ap-southeast-1", singapore),
        },
        links=[{"between": ["frankfurt", "singapore"]}],
    )


def tunnels_of(d: dict[str, Any], lock: Lock | None = None) -> list[str]:
    """The tunnels the design of ``d`` uses, planned through ``lock``."""
    topo = parse(d)
    return [t.name for t in design(topo, allocated(d, lock).lock).tunnels]


def recorded(lock: Lock) -> dict[str, Any]:
    """The lock file's tunnel entries, as the file has them."""
    entries: dict[str, Any] = json.loads(lockfile.dumps(lock))["tunnels"]
    return entries


# ----------------------------------------------------------------------- a fresh topology


def test_fresh_link_pairs_round_robin_as_before() -> None:
    names = [t.name for t in all_tunnels(parse(frankfurt_singapore("abc", "ab")))]
    assert names == ["frankfurt-a--singapore-a", "frankfurt-b--singapore-b",
                     "frankfurt-c--singapore-a"]  # fmt: skip


def test_an_empty_lock_pairs_as_no_lock_does() -> None:
    d = frankfurt_singapore("abc", "ab")
    assert tunnels_of(d, Lock("t")) == tunnels_of(d)


# ----------------------------------------------------------------------- growth


def test_a_new_az_keeps_every_tunnel_byte_identical_and_gets_its_own() -> None:
    d = frankfurt_singapore("a", "ab")
    before = allocated(d).lock
    assert tunnels_of(d) == ["frankfurt-a--singapore-a", "frankfurt-a--singapore-b"]
    d["vpcs"]["frankfurt"]["azs"].append("eu-central-1b")
    after = allocated(d, before).lock
    old, new = recorded(before), recorded(after)
    assert {n: new[n] for n in old} == old  # name, /30 and port untouched
    assert set(new) - set(old) == {"frankfurt-b--singapore-b"}  # a same-AZ way out for b
    assert tunnels_of(d, before) == [
        "frankfurt-a--singapore-a", "frankfurt-a--singapore-b", "frankfurt-b--singapore-b",
    ]  # fmt: skip


def test_a_grown_plan_is_stable_when_planned_again() -> None:
    d = frankfurt_singapore("a", "ab")
    first = allocated(d).lock
    d["vpcs"]["frankfurt"]["azs"].append("eu-central-1b")
    second = allocated(d, first).lock
    assert allocated(d, second).lock == second
    assert tunnels_of(d, second) == tunnels_of(d, first)


def test_growth_on_both_sides_at_once_pairs_the_new_gateways_together() -> None:
    d = frankfurt_singapore("a", "a")
    first = allocated(d).lock
    d["vpcs"]["frankfurt"]["azs"].append("eu-central-1b")
    d["vpcs"]["singapore"]["azs"].append("ap-southeast-1b")
    assert tunnels_of(d, first) == ["frankfurt-a--singapore-a", "frankfurt-b--singapore-b"]


def test_every_gateway_keeps_a_tunnel_on_its_link_after_growth() -> None:
    d = frankfurt_singapore("ab", "a")
    first = allocated(d).lock
    d["vpcs"]["singapore"]["azs"] = ["ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"]
    topo = parse(d)
    plan = design(topo, allocated(d, first).lock)
    assert {"frankfurt-a--singapore-a", "frankfurt-b--singapore-a"} <= set(plan.tunnel_by_name)
    for gateway in plan.gateways:
        assert plan.tunnels_by_gateway[gateway.name], gateway.name


# ----------------------------------------------------------------------- removal


def test_removing_an_az_removes_only_its_tunnels() -> None:
    d = frankfurt_singapore("ab", "abc")
    first = allocated(d).lock
    assert tunnels_of(d) == ["frankfurt-a--singapore-a", "frankfurt-a--singapore-c",
                             "frankfurt-b--singapore-b"]  # fmt: skip
    d["vpcs"]["singapore"]["azs"] = ["ap-southeast-1a", "ap-southeast-1b"]
    assert tunnels_of(d, first) == ["frankfurt-a--singapore-a", "frankfurt-b--singapore-b"]
    second = allocated(d, first).lock
    assert recorded(second) == recorded(first)  # the gone tunnel stays reserved until --prune


def test_removing_an_az_that_carried_another_gateways_only_tunnel_gives_it_a_new_one() -> None:
    d = frankfurt_singapore("ab", "abc")
    first = allocated(d).lock
    d["vpcs"]["frankfurt"]["azs"] = ["eu-central-1b"]  # frankfurt-a carried singapore-a and -c
    names = tunnels_of(d, first)
    assert "frankfurt-b--singapore-b" in names  # kept
    assert set(names) == {"frankfurt-b--singapore-a", "frankfurt-b--singapore-b",
                          "frankfurt-b--singapore-c"}  # fmt: skip
    second = allocated(d, first).lock
    assert (
        recorded(second)["frankfurt-b--singapore-b"] == recorded(first)["frankfurt-b--singapore-b"]
    )


def test_prune_drops_the_removed_azs_tunnels_and_keeps_the_kept_ones() -> None:
    d = frankfurt_singapore("a", "ab")
    first = allocated(d).lock
    d["vpcs"]["frankfurt"]["azs"].append("eu-central-1b")
    grown = allocated(d, first).lock
    topo = parse(d)
    pruned = release(grown, topo, prune=True)
    assert set(pruned.tunnels) == set(grown.tunnels)  # all three still in use
    d["vpcs"]["singapore"]["azs"] = ["ap-southeast-1a"]
    shrunk = parse(d)
    pruned = release(allocated(d, grown).lock, shrunk, prune=True)
    assert set(pruned.tunnels) == {"frankfurt-a--singapore-a", "frankfurt-b--singapore-a"}


# ----------------------------------------------------------------------- re-pairing


def test_repair_re_pairs_round_robin_and_keeps_what_it_shares() -> None:
    d = frankfurt_singapore("a", "ab")
    first = allocated(d).lock
    d["vpcs"]["frankfurt"]["azs"].append("eu-central-1b")
    grown = allocated(d, first).lock
    topo = parse(d)
    after = allocated(d, replace(grown, tunnels=repaired(grown.tunnels, topo, [LINK]))).lock
    assert set(after.tunnels) == {"frankfurt-a--singapore-a", "frankfurt-b--singapore-b"}
    assert recorded(after) == {n: e for n, e in recorded(grown).items() if n in after.tunnels}
    assert tunnels_of(d, after) == ["frankfurt-a--singapore-a", "frankfurt-b--singapore-b"]


def test_repair_leaves_other_links_alone() -> None:
    d = frankfurt_singapore("a", "ab")
    d["vpcs"]["tokyo"] = vpc("ap-northeast-1", "ab")
    d["links"].append({"between": ["frankfurt", "tokyo"]})
    first = allocated(d).lock
    d["vpcs"]["frankfurt"]["azs"].append("eu-central-1b")
    grown = allocated(d, first).lock
    kept = repaired(grown.tunnels, parse(d), [LINK])
    assert {n for n in grown.tunnels if n.startswith("frankfurt-a--tokyo")} <= set(kept)
    assert "frankfurt-a--singapore-b" not in kept


# ----------------------------------------------------------------------- the plan's note


def test_the_plan_says_what_it_keeps_and_how_to_re_pair() -> None:
    d = frankfurt_singapore("a", "ab")
    first = allocated(d).lock
    d["vpcs"]["frankfurt"]["azs"].append("eu-central-1b")
    topo = parse(d)
    plan = design(topo, allocated(d, first).lock)
    assert (
        "link frankfurt--singapore: keeps the recorded tunnel(s) frankfurt-a--singapore-b (make "
        "before break: a new gateway gets tunnels of its own, no working tunnel is removed); "
        "`vpnctl plan --repair-tunnels frankfurt--singapore` re-pairs it round-robin: removes "
        "frankfurt-a--singapore-b"
    ) in plan.warnings


def test_the_note_names_what_a_re_pairing_would_add() -> None:
    d = frankfurt_singapore("abc", "ab")
    first = allocated(d).lock
    d["vpcs"]["frankfurt"]["azs"] = ["eu-central-1b", "eu-central-1c"]
    topo = parse(d)
    plan = design(topo, allocated(d, first).lock)
    note = next(w for w in plan.warnings if "--repair-tunnels" in w)
    assert "removes frankfurt-b--singapore-b, frankfurt-c--singapore-a" in note
    assert "adds frankfurt-b--singapore-a, frankfurt-c--singapore-b" in note


def test_no_note_when_the_pairing_is_the_fresh_one() -> None:
    d = frankfurt_singapore("a", "ab")
    first = allocated(d).lock
    topo = parse(d)
    assert not any("--repair-tunnels" in w for w in design(topo, first).warnings)
    d["vpcs"]["singapore"]["azs"].append("ap-southeast-1c")  # the larger side grows
    topo = parse(d)
    grown = allocate(topo, first).lock
    assert not any("--repair-tunnels" in w for w in design(topo, grown).warnings)
