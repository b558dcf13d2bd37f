"""The gateway and hook policies, proven against every call listed in ``permissions``.

For every example topology in ``topologies/`` (in both tunnel modes), each generated policy
allows every call its role makes, refuses the neighbours' objects, grants nothing no call uses,
and names only its own partition's ARNs. Removing any one statement breaks the proof.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders import designed
from vpnctl.aws import hooks, iameval, permissions, store
from vpnctl.aws.iameval import Request
from vpnctl.aws.intent import Intent
from vpnctl.aws.policy import gateway_policy
from vpnctl.partitions import PARTITIONS

TOPOLOGIES = sorted(Path(__file__).parents[3].joinpath("topologies").glob("*.yaml"))
ACCOUNT_ID = "123456789012"


def intent_of(path: Path, mode: str) -> Intent:
    d: dict[str, Any] = yaml.safe_load(path.read_text())
    d["tunnel"] = {**(d.get("tunnel") or {}), "mode": mode}
    design = designed(d)
    partitions = {n: a["partition"] for n, a in d["accounts"].items()}
    software, configs = store.stand_ins(design.name, (g.name for g in design.gateways))
    return Intent(design, "t3.micro", {}, {}, d["dns"]["account"], partitions,
                  software=software, configs=configs)  # fmt: skip


CASES = [(p, mode) for p in TOPOLOGIES for mode in ("psk", "fingerprint")]
IDS = [f"{p.stem}-{mode}" for p, mode in CASES]


def documents(intent: Intent) -> Iterator[tuple[str, str, str, tuple[permissions.Call, ...], tuple[permissions.Call, ...]]]:  # fmt: skip
    """(what, partition, policy, calls, refusals) for every role the topology makes."""
    for g in intent.design.gateways:
        yield (
            f"gateway {g.name}",
            g.partition,
            gateway_policy(intent, g, ACCOUNT_ID),
            permissions.gateway_calls(intent, g, ACCOUNT_ID),
            permissions.gateway_refusals(intent, g, ACCOUNT_ID),
        )
    for account in sorted({g.account for g in intent.design.gateways}):
        yield (
            f"hook role in {account}",
            intent.partitions[account],
            hooks.policy(intent, account, ACCOUNT_ID),
            permissions.hook_calls(intent, account, ACCOUNT_ID),
            permissions.hook_refusals(intent, account, ACCOUNT_ID),
        )


def test_the_examples_cover_both_partitions() -> None:
    partitions = {p for path, mode in CASES for _, p, *_ in documents(intent_of(path, mode))}
    assert {"aws", "aws-cn"} <= partitions


@pytest.mark.parametrize(("path", "mode"), CASES, ids=IDS)
def test_every_policy_allows_exactly_what_its_role_calls(path: Path, mode: str) -> None:
    for what, _, policy, calls, refusals in documents(intent_of(path, mode)):
        assert permissions.proof(policy, calls, refusals) == [], what


@pytest.mark.parametrize(("path", "mode"), CASES, ids=IDS)
def test_policies_and_calls_name_their_own_partition(path: Path, mode: str) -> None:
    for what, partition, policy, calls, _ in documents(intent_of(path, mode)):
        prefix = PARTITIONS[partition].arn_prefix + ":"
        resources = [r for s in json.loads(policy)["Statement"] for r in _list(s["Resource"])]
        resources += [c.request.resource for c in calls]
        assert all(r == "*" or r.startswith(prefix) for r in resources), what


@pytest.mark.parametrize(("path", "mode"), CASES, ids=IDS)
def test_removing_any_statement_breaks_the_proof(path: Path, mode: str) -> None:
    for what, _, policy, calls, refusals in documents(intent_of(path, mode)):
        document = json.loads(policy)
        for i, statement in enumerate(document["Statement"]):
            rest = document["Statement"][:i] + document["Statement"][i + 1 :]
            smaller = json.dumps({**document, "Statement": rest})
            assert permissions.proof(smaller, calls, refusals), (what, statement["Sid"])


def test_a_grant_nothing_uses_is_found() -> None:
    intent = intent_of(TOPOLOGIES[0], "psk")
    gateway = intent.design.gateways[0]
    document = json.loads(gateway_policy(intent, gateway, ACCOUNT_ID))
    extra = {"Sid": "Extra", "Effect": "Allow", "Action": "ec2:ReplaceRoute", "Resource": "*"}
    wider = json.dumps({**document, "Statement": [*document["Statement"], extra]})
    calls = permissions.gateway_calls(intent, gateway, ACCOUNT_ID)
    assert permissions.proof(wider, calls) == [
        "statement Extra grants ec2:ReplaceRoute on *: nothing calls it"
    ]


def test_a_call_nobody_allowed_is_found() -> None:
    intent = intent_of(TOPOLOGIES[0], "psk")
    gateway = intent.design.gateways[0]
    policy = gateway_policy(intent, gateway, ACCOUNT_ID)
    call = permissions.Call("a new caller", Request("ec2:DescribeVpcs", "*"))
    calls = (*permissions.gateway_calls(intent, gateway, ACCOUNT_ID), call)
    assert [p for p in permissions.proof(policy, calls) if "DescribeVpcs" in p]


def test_the_gateway_may_publish_probe_figures_and_report_itself_unhealthy() -> None:
    """Issue: AccessDenied every minute, so loss alarms never had data."""
    intent = intent_of(TOPOLOGIES[0], "psk")
    gateway = intent.design.gateways[0]
    actions = {a for s in json.loads(gateway_policy(intent, gateway, ACCOUNT_ID))["Statement"] for a in _list(s["Action"])}  # fmt: skip
    assert {"cloudwatch:PutMetricData", "autoscaling:SetInstanceHealth"} <= actions


def _without(policy: str, sid: str, operator: str, key: str | None = None) -> str:
    """The policy with one condition operator (or one key of it) of one statement removed."""
    document = json.loads(policy)
    for statement in document["Statement"]:
        if statement["Sid"] == sid:
            if key is None:
                del statement["Condition"][operator]
            else:
                del statement["Condition"][operator][key]
    return json.dumps(document)


@pytest.mark.parametrize(
    ("operator", "key", "caught"),
    [
        ("ForAllValues:StringEquals", None, "its own name tag"),
        ("Null", None, "a tagging with no keys"),
        ("StringEquals", "aws:ResourceTag/vpnctl:name", "another gateway's ready tag"),
    ],
)
def test_the_ready_tag_conditions_each_bite(operator: str, key: str | None, caught: str) -> None:
    """The agent may set vpnctl:ready on its own instance and nothing else: without each
    condition the proof names the refusal that gets through."""
    intent = intent_of(TOPOLOGIES[0], "psk")
    gateway = intent.design.gateways[0]
    policy = gateway_policy(intent, gateway, ACCOUNT_ID)
    calls = permissions.gateway_calls(intent, gateway, ACCOUNT_ID)
    refusals = permissions.gateway_refusals(intent, gateway, ACCOUNT_ID)
    assert permissions.proof(policy, calls, refusals) == []
    wrong = permissions.proof(_without(policy, "AgentReadyTag", operator, key), calls, refusals)
    assert [w for w in wrong if caught in w], wrong


@pytest.mark.parametrize(
    ("key", "caught"), [("events:source", "events as AWS"), ("events:detail-type", "another detail type")]
)  # fmt: skip
def test_the_event_conditions_each_bite(key: str, caught: str) -> None:
    intent = intent_of(TOPOLOGIES[0], "psk")
    gateway = intent.design.gateways[0]
    policy = gateway_policy(intent, gateway, ACCOUNT_ID)
    calls = permissions.gateway_calls(intent, gateway, ACCOUNT_ID)
    refusals = permissions.gateway_refusals(intent, gateway, ACCOUNT_ID)
    wrong = permissions.proof(_without(policy, "AgentEvents", "StringEquals", key), calls, refusals)
    assert [w for w in wrong if caught in w], wrong


def test_the_agent_may_not_rewrite_its_own_name() -> None:
    """CreateTags of vpnctl:name on its own instance: DENIED, alone or beside vpnctl:ready."""
    intent = intent_of(TOPOLOGIES[0], "psk")
    gateway = intent.design.gateways[0]
    found = iameval.statements(gateway_policy(intent, gateway, ACCOUNT_ID))
    refusals = {
        c.caller: c.request for c in permissions.gateway_refusals(intent, gateway, ACCOUNT_ID)
    }
    ready = next(c.request for c in permissions.gateway_calls(intent, gateway, ACCOUNT_ID)
                 if c.request.action == "ec2:CreateTags")  # fmt: skip
    assert iameval.decide(found, ready)
    assert ready.resource == refusals["its own name tag"].resource
    assert not iameval.decide(found, refusals["its own name tag"])
    assert not iameval.decide(found, refusals["its name beside ready"])


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value
