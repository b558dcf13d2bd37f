"""Derived AWS names: within their limits, unique, stable, and one copy of each."""

from __future__ import annotations

from tests.builders import designed, doc, vpc
from vpnctl.aws import hooks, names
from vpnctl.aws.intent import Intent
from vpnctl.failover import observe as ob

LONG = "v" * 32  # the longest VPC name the topology allows
TOPOLOGY = "t" * 32


def long_intent() -> Intent:
    d = doc(
        name=TOPOLOGY,
        vpcs={LONG: vpc("us-east-1"), "west": vpc("us-west-2")},
        links=[{"between": [LONG, "west"]}],
    )
    return Intent(designed(d), "t3.micro", {}, {}, "main", {"main": "aws", "china": "aws-cn"})


def test_a_short_name_is_kept() -> None:
    assert names.aws_name("t", "gw-east-a") == "t-gw-east-a"


def test_long_names_stay_unique_and_within_the_limit() -> None:
    """Cut at 64, gw-vvv…-a and gw-vvv…-b were one role and one security group."""
    intent = long_intent()
    gateways = [g.name for g in intent.design.gateways if g.vpc == LONG]
    assert len(gateways) == 2
    for kind in (lambda g: g, names.gateway_group):
        made = {intent.aws_name(kind(g)) for g in gateways}
        assert len(made) == 2
        assert all(len(n) <= 64 and n.startswith(f"{TOPOLOGY}-") for n in made)


def test_the_hash_is_stable() -> None:
    # a literal: a change here renames every long-named object on the next apply
    assert names.aws_name(TOPOLOGY, f"gw-{LONG}-a") == f"{TOPOLOGY}-gw-{'v' * 19}-2582db22"


def test_fit_never_cuts_silently() -> None:
    for length in range(60, 70):
        name = "x" * length
        fitted = names.fit(name, 64)
        assert len(fitted) <= 64
        assert (fitted == name) == (length <= 64)


def test_the_hook_finds_what_apply_names() -> None:
    intent = long_intent()
    for g in intent.design.gateways:
        assert ob.group_name(intent.topology, g.name) == intent.aws_name(g.name)
        assert ob.alarm_name(intent.topology, g.name).startswith(
            hooks.alarm_prefix(intent.topology)
        )
    assert all(r.startswith(hooks.rule_prefix(intent.topology)) for r in hooks.rules(TOPOLOGY))
    assert all(len(r) <= names.LIMITS["eventbridge rule"] for r in hooks.rules(TOPOLOGY))


def test_state_sets() -> None:
    assert names.RUNNING not in names.GONE_STATES
    assert set(names.LIVE_STATES) == {"pending", "running"}
    assert set(names.NOT_TERMINATED) | {"terminated"} == set(names.STATE_RANK)
    assert set(names.HOOK_RULE_STATES) == names.GONE_STATES | {names.RUNNING}
