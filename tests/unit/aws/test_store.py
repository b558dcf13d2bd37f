"""The artifact store, purely: who its policies let read what, and how diff and sweep treat it.

moto stores a bucket policy but does not evaluate conditions the way AWS does (see
tests/functional/conftest.py), so the bucket policy is evaluated here by a small evaluator of
the IAM policy language as the IAM User Guide documents it ("Policy evaluation logic": an
explicit Deny in any policy wins; in one account, an identity policy's Allow suffices when no
Deny applies; "Condition operators": Bool, StringLike, StringNotLike with * and ?; "IAM policy
elements: Variables and tags": ``${aws:PrincipalTag/...}``, a missing key matches nothing). It
covers only the elements our policies use, and fails on any other.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from tests.unit.aws.test_diff import empty, intent
from vpnctl.aws import changes as c
from vpnctl.aws import live as lv
from vpnctl.aws import store
from vpnctl.aws.diff import diff
from vpnctl.aws.intent import Intent
from vpnctl.aws.policy import gateway_policy
from vpnctl.aws.sweep import sweep

ACCOUNT = "123456789012"
SHA = "a" * 64


@dataclass(frozen=True)
class Request:
    principal: str  # aws:PrincipalArn: a role's ARN, path included
    key: str
    tags: dict[str, str] = field(default_factory=dict)  # the role's tags (aws:PrincipalTag)
    tls: bool = True
    action: str = "s3:GetObject"


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)  # IAM's * and ? (no [..] in our policies)


def _variables(text: str, request: Request) -> str | None:
    """``${aws:PrincipalTag/K}`` replaced; None when a key is missing (nothing matches)."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1).removeprefix("aws:PrincipalTag/")
        if name not in request.tags:
            missing = True
            return ""
        return request.tags[name]

    found = re.sub(r"\$\{([^}]+)\}", value, text)
    return None if missing else found


def _matches_resource(patterns: list[str], arn: str, request: Request) -> bool:
    resolved = [_variables(p, request) for p in patterns]
    return any(p is not None and _like(p, arn) for p in resolved)


def _condition_holds(condition: dict[str, Any], request: Request) -> bool:
    context = {"aws:SecureTransport": "true" if request.tls else "false",
               "aws:PrincipalArn": request.principal}  # fmt: skip
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            values = wanted if isinstance(wanted, list) else [wanted]
            if operator == "Bool":
                holds = context[key] in values
            elif operator == "StringLike":
                holds = any(_like(v, context[key]) for v in values)
            elif operator == "StringNotLike":
                holds = not any(_like(v, context[key]) for v in values)
            else:
                raise AssertionError(f"the evaluator does not know {operator}")
            if not holds:
                return False
    return True


def _applies(statement: dict[str, Any], request: Request, arn: str) -> bool:
    actions = (
        statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    )
    if not any(_like(a, request.action) for a in actions):
        return False
    if "NotResource" in statement:
        if _matches_resource(statement["NotResource"], arn, request):
            return False
    else:
        resources = statement["Resource"]
        if not _matches_resource(
            resources if isinstance(resources, list) else [resources], arn, request
        ):
            return False
    return _condition_holds(statement.get("Condition", {}), request)


def allowed(bucket_policy: str, role_policy: str, request: Request, bucket: str) -> bool:
    """Same-account S3 access: no Deny applies, and the caller's own policy allows."""
    arn = f"arn:aws:s3:::{bucket}/{request.key}"
    if request.principal.startswith("arn:aws-cn"):
        arn = arn.replace("arn:aws:", "arn:aws-cn:")
    for statement in json.loads(bucket_policy)["Statement"] + json.loads(role_policy)["Statement"]:
        assert statement["Effect"] in ("Allow", "Deny")
        if statement["Effect"] == "Deny" and _applies(statement, request, arn):
            return False
    return any(
        s["Effect"] == "Allow" and _applies(s, request, arn)
        for s in json.loads(role_policy)["Statement"]
    )


# ------------------------------------------------------------------ who may read what


def stored(d: dict[str, Any] | None = None) -> Intent:
    base = intent(d)
    software = store.Blob(store.software_key("t", SHA), b"pyz", SHA)
    configs = {
        g.name: store.Blob(store.config_key("t", g.name, f"{i:064x}"), b"{}", f"{i:064x}")
        for i, g in enumerate(base.design.gateways)
    }
    return replace(base, software=software, configs=configs)


def role(name: str, topology: str = "t") -> tuple[str, dict[str, str]]:
    arn = f"arn:aws:iam::{ACCOUNT}:role/vpnctl/{topology}/{topology}-{name}"
    return arn, {"vpnctl:topology": topology, "vpnctl:name": name}


@pytest.fixture
def world() -> tuple[Intent, str, str]:
    wanted = stored()
    gateway = wanted.design.gateway_by_name["gw-east-a"]
    bucket = store.bucket_name(ACCOUNT, gateway.region)
    return wanted, bucket, store.bucket_policy("aws", bucket, ACCOUNT)


def test_a_gateway_reads_the_software_and_its_own_folder_only(
    world: tuple[Intent, str, str],
) -> None:
    wanted, bucket, policy = world
    gateway = wanted.design.gateway_by_name["gw-east-a"]
    mine = gateway_policy(wanted, gateway, ACCOUNT)
    principal, tags = role("gw-east-a")
    own = wanted.configs["gw-east-a"].key
    assert allowed(policy, mine, Request(principal, own, tags), bucket)
    assert allowed(policy, mine, Request(principal, wanted.software.key, tags), bucket)  # type: ignore[union-attr]
    sibling = wanted.configs["gw-east-b"].key
    assert not allowed(policy, mine, Request(principal, sibling, tags), bucket)
    assert not allowed(policy, mine, Request(principal, own, tags, tls=False), bucket)
    # its own folder: the pointer and any configuration it names (the agent follows them)
    older = store.config_key("t", "gw-east-a", "b" * 64)
    assert allowed(policy, mine, Request(principal, older, tags), bucket)
    pointer = store.pointer_key("t", "gw-east-a")
    assert allowed(policy, mine, Request(principal, pointer, tags), bucket)
    assert not allowed(policy, mine, Request(principal, pointer, tags, tls=False), bucket)
    theirs = store.pointer_key("t", "gw-east-b")
    assert not allowed(policy, mine, Request(principal, theirs, tags), bucket)
    # a name that only starts like its own is another gateway's folder
    assert not allowed(
        policy, mine, Request(principal, "t/gateways/gw-east-ab/x.json", tags), bucket
    )
    other_software = store.software_key("t", "c" * 64)
    assert not allowed(policy, mine, Request(principal, other_software, tags), bucket)


def test_the_bucket_policy_denies_every_other_principal_even_with_broad_rights(
    world: tuple[Intent, str, str],
) -> None:
    wanted, bucket, policy = world
    everything = json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    own = wanted.configs["gw-east-a"].key
    admin = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    assert not allowed(policy, everything, Request(admin, own), bucket)
    # a sibling gateway role that somehow had s3:* still reads only its own
    sibling, tags = role("gw-east-b")
    assert not allowed(policy, everything, Request(sibling, own, tags), bucket)
    assert allowed(
        policy, everything, Request(sibling, wanted.configs["gw-east-b"].key, tags), bucket
    )
    # another topology's gateway, sharing the bucket: not this topology's software
    other, tags = role("gw-east-a", topology="other")
    assert not allowed(policy, everything, Request(other, wanted.software.key, tags), bucket)  # type: ignore[union-attr]
    # a role on the gateway path without vpnctl's tags matches nothing: denied
    untagged = f"arn:aws:iam::{ACCOUNT}:role/vpnctl/t/impostor"
    assert not allowed(policy, everything, Request(untagged, wanted.software.key), bucket)  # type: ignore[union-attr]


def test_china_gets_its_partitions_arns() -> None:
    policy = store.bucket_policy("aws-cn", "vpnctl-1-cn-north-1", "1")
    assert "arn:aws:" not in policy
    assert "arn:aws-cn:s3:::vpnctl-1-cn-north-1/*" in policy
    assert "arn:aws-cn:iam::1:role/vpnctl/*" in policy


# ------------------------------------------------------------------ diff and sweep


def store_live(
    wanted: Intent,
    keys: frozenset[str],
    extra: frozenset[str] = frozenset(),
    public_blocked: bool = True,
) -> dict[lv.RegionKey, lv.StoreLive]:
    """Each region's bucket holding those of ``keys`` (and ``extra``) that belong there."""
    found = {}
    for account, region in {(g.account, g.region) for g in wanted.design.gateways}:
        bucket = store.bucket_name(ACCOUNT, region)
        mine = {b.key for b in wanted.blobs(account, region)} | extra
        policy = store.bucket_policy("aws", bucket, ACCOUNT)
        held = frozenset(k for k in keys | extra if k in mine)
        found[(account, region)] = lv.StoreLive(bucket, True, policy, public_blocked, held)
    return found


def store_changes(changes: c.ChangeSet) -> list[c.Change]:
    kinds = (c.PutArtifactStore, c.PutArtifact, c.DeleteArtifacts, c.DeleteArtifactStore)
    return [ch for ch in changes.changes if isinstance(ch, kinds)]


def test_from_nothing_each_region_gets_its_bucket_the_software_and_its_gateways_configs() -> None:
    wanted = stored()
    found = store_changes(diff(wanted, empty()))
    buckets = [ch for ch in found if isinstance(ch, c.PutArtifactStore)]
    assert sorted(b.bucket for b in buckets) == [
        "vpnctl-123456789012-us-east-1", "vpnctl-123456789012-us-west-2"]  # fmt: skip
    assert all(b.create and b.sign == "+" for b in buckets)
    puts = [ch for ch in found if isinstance(ch, c.PutArtifact)]
    assert len(puts) == 2 + 4  # the software in each region, a config per gateway
    assert {p.key for p in puts if p.where.region == "us-east-1"} == {
        wanted.software.key, wanted.configs["gw-east-a"].key, wanted.configs["gw-east-b"].key}  # type: ignore[union-attr]  # fmt: skip
    assert max(ch.stage for ch in found) < c.CreateLaunchTemplate.stage


def test_what_is_there_by_key_costs_no_change_and_drift_is_put_back() -> None:
    wanted = stored()
    every = frozenset(b.key for g in wanted.design.gateways for b in wanted.gateway_blobs(g.name))
    assert store_changes(diff(wanted, replace(empty(), stores=store_live(wanted, every)))) == []
    opened = replace(empty(), stores=store_live(wanted, every, public_blocked=False))
    fixes = store_changes(diff(wanted, opened))
    assert [type(f) for f in fixes] == [c.PutArtifactStore, c.PutArtifactStore]
    assert all(not f.create and f.sign == "~" for f in fixes)  # type: ignore[attr-defined]


def test_sweep_keeps_what_diff_declares_and_removes_only_stale_keys_of_the_topology() -> None:
    wanted = stored()
    every = frozenset(b.key for g in wanted.design.gateways for b in wanted.gateway_blobs(g.name))
    stale = store.config_key("t", "gw-east-a", "b" * 64)
    live = replace(empty(), stores=store_live(wanted, every, extra=frozenset({stale})))
    removals = [ch for ch in sweep(wanted, live) if isinstance(ch, c.DeleteArtifacts)]
    assert {r.keys for r in removals} == {(stale,)}  # only it, wherever it lies
    assert not [ch for ch in sweep(wanted, live) if isinstance(ch, c.DeleteArtifactStore)]
    everything = sweep(wanted, live, everything=True)
    gone = {k for ch in everything if isinstance(ch, c.DeleteArtifacts) for k in ch.keys}
    assert gone == every | {stale}
    assert len([ch for ch in everything if isinstance(ch, c.DeleteArtifactStore)]) == 2


# ------------------------------------------------------------------ pointers


def pointed(wanted: Intent, names: dict[str, str] | None = None) -> lv.Live:
    """Every object there; each gateway's pointer names ``names[gateway]`` (default: its
    designed configuration)."""
    names = names or {}
    every = frozenset(b.key for g in wanted.design.gateways for b in wanted.gateway_blobs(g.name))
    stores = {}
    for key, have in store_live(wanted, every).items():
        here = [g.name for g in wanted.design.gateways if (g.account, g.region) == key]
        pointers = {store.pointer_key("t", g): names.get(g, wanted.configs[g].key) for g in here}
        held = have.keys | frozenset(pointers) | frozenset(pointers.values())
        stores[key] = replace(have, keys=held, pointers=pointers)
    return replace(empty(), stores=stores)


def test_each_gateway_gets_a_pointer_after_its_configuration_and_a_current_one_costs_nothing() -> (
    None
):
    wanted = stored()
    found = [ch for ch in diff(wanted, empty()).changes if isinstance(ch, c.PutPointer)]
    assert sorted(p.gateway for p in found) == sorted(g.name for g in wanted.design.gateways)
    first = found[0]
    assert json.loads(first.data) == {
        "key": wanted.configs[first.gateway].key, "sha256": wanted.configs[first.gateway].sha256}  # fmt: skip
    assert first.sign == "+"
    assert "its first instance boots with it" in first.describe()
    order = [ch for ch in diff(wanted, empty()).changes if ch.where.region == first.where.region]
    config = next(i for i, ch in enumerate(order) if isinstance(ch, c.PutArtifact)
                  and ch.key == wanted.configs[first.gateway].key)  # fmt: skip
    assert config < order.index(first)  # the executor walks a region's changes in order
    assert not [ch for ch in diff(wanted, pointed(wanted)).changes if isinstance(ch, c.PutPointer)]


def test_a_pointer_naming_an_older_configuration_is_rewritten_before_sweep_removes_that() -> None:
    wanted = stored()
    older = store.config_key("t", "gw-east-a", "b" * 64)
    live = pointed(wanted, {"gw-east-a": older})
    changes = diff(wanted, live).changes
    found = [ch for ch in changes if isinstance(ch, c.PutPointer)]
    assert [(p.gateway, p.was, p.sign) for p in found] == [("gw-east-a", older, "~")]
    assert "in place" in found[0].describe() or "boots" in found[0].describe()
    removals = [ch for ch in changes if isinstance(ch, c.DeleteArtifacts)]
    removed = {k for ch in removals for k in ch.keys}
    assert older in removed
    assert not any(store.is_pointer(k) for k in removed)
    assert all(found[0].stage < r.stage for r in removals)  # the pointer moves on first


def test_a_pointer_of_a_removed_gateway_goes_and_a_pointer_naming_elsewhere_keeps_nothing() -> None:
    wanted = stored()
    live = pointed(wanted, {"gw-east-a": "t/gateways/gw-east-b/" + "c" * 64 + ".json"})
    key, have = next(iter(live.stores.items()))
    gone = store.pointer_key("t", "gw-removed-a")
    with_gone = replace(live, stores={**live.stores, key: replace(have, keys=have.keys | {gone})})
    removed = {k for ch in sweep(wanted, with_gone) if isinstance(ch, c.DeleteArtifacts)
               for k in ch.keys}  # fmt: skip
    assert gone in removed
    assert "t/gateways/gw-east-b/" + "c" * 64 + ".json" in removed  # nobody's designed one
