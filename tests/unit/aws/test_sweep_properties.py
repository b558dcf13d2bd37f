"""Sweep keeps what diff makes: for any design, the world its diff builds from nothing is one
that sweep leaves alone and a new diff finds complete. And sweep is exact the other way: an
owned object the design does not want is removed, alone, by its kind's removal.

The world is ``world.built``: a pure model of what AWS holds after the changes are carried out.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import allocated
from tests.strategies import growths, topologies
from tests.unit.aws import world
from tests.unit.aws.intents import intent
from vpnctl.aws import changes as c
from vpnctl.aws import hooks, kinds
from vpnctl.aws import live as lv
from vpnctl.aws.diff import diff
from vpnctl.aws.intent import HookPackage, Intent
from vpnctl.aws.sweep import sweep
from vpnctl.ipam import Lock

HOOK = HookPackage(b"PK\x05\x06" + b"\0" * 18, "c2hhMjU2", "vpnctl.failover.handler", "python3.12")
ACCOUNT_IDS = {"main": "111111111111", "china": "222222222222"}


def intent_of(d: dict[str, Any], hook: bool, lock: Lock | None = None) -> Intent:
    """``d``'s intent, allocated afresh or after ``lock`` (what apply wrote for it before)."""
    return intent(d, hook=HOOK if hook else None, lock=lock, stored=True)


def nothing(intent: Intent) -> lv.Live:
    """No object at all, the zone not made yet: only the accounts."""
    accounts = {a: lv.AccountLive(a, ACCOUNT_IDS[a]) for a in intent.partitions}
    return lv.Live(intent.topology, {}, accounts, lv.Zone(intent.design.zone, None))


def applied(intent: Intent, live: lv.Live) -> lv.Live:
    return world.built(intent, live, diff(intent, live).changes)


@settings(max_examples=40, deadline=None)
@given(topologies(max_vpcs=4), st.booleans())
def test_what_diff_makes_from_nothing_sweep_keeps_and_a_new_diff_finds_complete(
    d: dict[str, Any], hook: bool
) -> None:
    intent = intent_of(d, hook)
    made = applied(intent, nothing(intent))
    assert made.regions  # the world holds what was made
    assert sweep(intent, made) == []
    assert diff(intent, made).changes == ()


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_what_a_grown_design_made_is_swept_when_the_growth_is_undone(data: st.DataObject) -> None:
    d = data.draw(topologies(max_vpcs=3))
    grown = data.draw(growths(d))
    small = intent_of(d, False)
    large = intent_of(grown, False, allocated(d).lock)
    before = applied(small, nothing(small))
    after = applied(large, before)
    assert diff(large, after).changes == ()
    removed = sweep(small, after)
    for kind in kinds.KINDS:
        had = {(k, o.name) for k, r in before.regions.items() for o in kind.objects(r) if o.owned}
        grew = [
            o
            for k, r in after.regions.items()
            for o in kind.objects(r)
            if o.owned and (k, o.name) not in had
        ]
        assert sum(isinstance(ch, kind.deletes) for ch in removed) == len(grew), kind.noun


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_an_owned_object_the_design_does_not_want_gets_exactly_its_removal(
    data: st.DataObject,
) -> None:
    intent = intent_of(data.draw(topologies(max_vpcs=3)), False)
    made = applied(intent, nothing(intent))
    kind = data.draw(st.sampled_from(kinds.KINDS))
    key = data.draw(st.sampled_from(sorted(made.regions)))
    region = made.regions[key]
    owned = [o for o in kind.objects(region) if o.owned]
    found = data.draw(st.sampled_from(owned))
    stray = replace(found, name=f"{found.name}-gone")  # named as nothing the design wants
    field = next(f for _, f, o in world.objects(made) if o is found)
    items: dict[str, Any] = {
        field: tuple(stray if o is found else o for o in getattr(region, field))
    }
    changed = replace(region, **items)
    removed = sweep(intent, replace(made, regions={**made.regions, key: changed}))
    vpc_names = {v.id: v.name or v.id for v in changed.vpcs}
    at = c.Where(key[0], key[1], vpc_names.get(kind.vpc_id(stray) or "", ""))
    assert removed == [kind.removal(at, stray)]


@settings(max_examples=20, deadline=None)
@given(topologies(max_vpcs=3))
def test_destroy_removes_every_owned_object_of_every_kind(d: dict[str, Any]) -> None:
    intent = intent_of(d, False)
    made = applied(intent, nothing(intent))
    removed = sweep(intent, made, everything=True)
    for kind in kinds.KINDS:
        owned = sum(1 for r in made.regions.values() for o in kind.objects(r) if o.owned)
        assert owned > 0, kind.noun
        assert sum(isinstance(ch, kind.deletes) for ch in removed) == owned, kind.noun


def test_every_change_class_belongs_to_one_kind_and_the_world_models_it() -> None:
    claimed = [k for kind in kinds.KINDS for k in kind.changes]
    claimed += [k for group in kinds.OTHERS.values() for k in group]
    every = {
        k
        for module in (c, hooks)
        for _, k in inspect.getmembers(module, inspect.isclass)
        if issubclass(k, c.Change) and k.__module__ == module.__name__
    } - {c.Change, c.Removal}
    assert sorted(k.__name__ for k in claimed) == sorted(k.__name__ for k in every)
    assert every - {c.UnfinishedRotation} == set(world.RULES)
