"""The policy evaluator the permission proof stands on: each rule it claims, shown to bite."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vpnctl.aws.iameval import Request, allowances, allows, arn_like

EIP = "arn:aws-cn:ec2:cn-north-1:123456789012:elastic-ip/eipalloc-1"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_actions_match_case_insensitively_with_wildcards() -> None:
    doc = policy(allow("EC2:Describe*"))
    assert allows(doc, Request("ec2:DescribeInstances", "*"))
    assert allows(doc, Request("ec2:describeaddresses", "*"))
    assert not allows(doc, Request("ec2:AssociateAddress", "*"))
    assert allows(policy(allow("ssm:GetParameter?")), Request("ssm:GetParameters", "*"))
    assert not allows(policy(allow("ssm:GetParameter?")), Request("ssm:GetParameter", "*"))


def test_not_action() -> None:
    doc = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert allows(doc, Request("ec2:RunInstances", "*"))
    assert not allows(doc, Request("iam:PassRole", "*"))


def test_resources_match_with_wildcards_case_sensitively() -> None:
    doc = policy(allow("ssm:GetParameters", "arn:aws:ssm:*:1:parameter/vpnctl/t/*/gw-a/*"))
    assert allows(
        doc, Request("ssm:GetParameters", "arn:aws:ssm:r:1:parameter/vpnctl/t/x--y/gw-a/key")
    )
    assert not allows(
        doc, Request("ssm:GetParameters", "arn:aws:ssm:r:1:parameter/vpnctl/t/x--y/gw-b/key")
    )
    assert not allows(
        doc, Request("ssm:GetParameters", "arn:aws:ssm:r:1:parameter/vpnctl/T/x--y/gw-a/key")
    )
    assert not allows(doc, Request("ssm:GetParameters", "arn:aws:ssm:r:1:parameter/vpnctl/t2/x/gw-a/key"))  # fmt: skip


def test_not_resource() -> None:
    doc = policy({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"})
    assert allows(doc, Request("s3:GetObject", "arn:aws:s3:::public/a"))
    assert not allows(doc, Request("s3:GetObject", "arn:aws:s3:::secret/a"))


def test_resource_tag_conditions() -> None:
    own = {"StringEquals": {"aws:ResourceTag/vpnctl:name": "gw-a", "aws:ResourceTag/vpnctl:topology": "t"}}  # fmt: skip
    doc = policy(allow("ec2:AssociateAddress", "arn:aws-cn:ec2:*:*:elastic-ip/*", Condition=own))
    mine = {"aws:ResourceTag/vpnctl:name": "gw-a", "aws:ResourceTag/vpnctl:topology": "t"}
    assert allows(doc, Request("ec2:AssociateAddress", EIP, mine))
    # keys are case-insensitive, values are not
    assert allows(
        doc, Request("ec2:AssociateAddress", EIP, {k.upper(): v for k, v in mine.items()})
    )
    assert not allows(doc, Request("ec2:AssociateAddress", EIP, {**mine, "aws:ResourceTag/vpnctl:name": "GW-A"}))  # fmt: skip
    # every key must match, and a missing one fails a positive operator
    assert not allows(doc, Request("ec2:AssociateAddress", EIP, {**mine, "aws:ResourceTag/vpnctl:topology": "u"}))  # fmt: skip
    assert not allows(doc, Request("ec2:AssociateAddress", EIP, {"aws:ResourceTag/vpnctl:name": "gw-a"}))  # fmt: skip


def test_several_values_of_one_key_are_alternatives() -> None:
    doc = policy(allow("x:Y", Condition={"StringEquals": {"k": ["a", "b"]}}))
    assert allows(doc, Request("x:Y", "*", {"k": "b"}))
    assert not allows(doc, Request("x:Y", "*", {"k": "c"}))


def test_string_like_and_negated_operators() -> None:
    like = policy(allow("x:Y", Condition={"StringLike": {"k": "vpnctl-*"}}))
    assert allows(like, Request("x:Y", "*", {"k": "vpnctl-t"}))
    assert not allows(like, Request("x:Y", "*", {"k": "other"}))
    negated = policy(allow("x:Y", Condition={"StringNotEquals": {"k": "a"}}))
    assert allows(negated, Request("x:Y", "*", {"k": "b"}))
    assert not allows(negated, Request("x:Y", "*", {"k": "a"}))
    assert allows(negated, Request("x:Y", "*"))  # missing: a negated operator passes
    if_exists = policy(allow("x:Y", Condition={"StringEqualsIfExists": {"k": "a"}}))
    assert allows(if_exists, Request("x:Y", "*"))
    assert not allows(if_exists, Request("x:Y", "*", {"k": "b"}))


def test_arn_like_compares_part_by_part() -> None:
    assert arn_like("arn:aws:sns:*:123456789012:topic", "arn:aws:sns:us-east-1:123456789012:topic")
    # a * in one part does not reach into the next
    assert not arn_like("arn:aws:sns:*", "arn:aws:sns:us-east-1:123456789012:topic")
    assert arn_like("arn:aws:logs:*:*:log-group:/a:*", "arn:aws:logs:r:1:log-group:/a:log-stream:s")
    doc = policy(allow("lambda:InvokeFunction", Condition={"ArnLike": {"aws:SourceArn": "arn:aws-cn:events:*:1:rule/vpnctl-*"}}))  # fmt: skip
    assert allows(doc, Request("lambda:InvokeFunction", "*", {"aws:SourceArn": "arn:aws-cn:events:cn-north-1:1:rule/vpnctl-t"}))  # fmt: skip
    assert not allows(doc, Request("lambda:InvokeFunction", "*", {"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/vpnctl-t"}))  # fmt: skip


def test_an_explicit_deny_wins_and_nothing_allowed_is_denied() -> None:
    doc = policy(
        allow("ec2:*"), {"Effect": "Deny", "Action": "ec2:TerminateInstances", "Resource": "*"}
    )
    assert allows(doc, Request("ec2:RunInstances", "*"))
    assert not allows(doc, Request("ec2:TerminateInstances", "*"))
    assert not allows(doc, Request("s3:GetObject", "*"))


@pytest.mark.parametrize(
    "statement",
    [
        allow("x:Y", "arn:aws:s3:::${aws:username}/*"),
        allow("x:Y", Condition={"ForSomeValues:StringEquals": {"k": "a"}}),
        allow("x:Y", Condition={"ForAllValues:Null": {"k": "true"}}),
        allow("x:Y", Condition={"ForAllValues:NumericLessThan": {"k": "1"}}),
        allow("x:Y", Condition={"NumericLessThan": {"k": "1"}}),
        {**allow("x:Y"), "Principal": "*"},
    ],
)
def test_what_it_cannot_judge_it_refuses(statement: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"not evaluated here|no Principal"):
        allows(policy(statement), Request("x:Y", "*"))


def test_allowances_lists_every_grant() -> None:
    doc = policy({**allow(["a:B", "a:C"], ["r1", "r2"]), "Sid": "S"})
    assert sorted(allowances(doc)) == [("S", "a:B", "r1"), ("S", "a:B", "r2"), ("S", "a:C", "r1"), ("S", "a:C", "r2")]  # fmt: skip


TAG = "arn:aws:ec2:us-east-1:123456789012:instance/i-1"


def tag_keys(*keys: str) -> dict[str, list[str]]:
    return {"aws:TagKeys": list(keys)}


def test_for_all_values_holds_when_every_request_value_is_among_the_policy_values() -> None:
    # IAM User Guide, "Single-valued vs. multivalued context keys": the request's set must be
    # a subset of the policy's values
    doc = policy(allow("ec2:CreateTags", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}))  # fmt: skip
    assert allows(doc, Request("ec2:CreateTags", TAG, tag_keys("a")))
    assert allows(doc, Request("ec2:CreateTags", TAG, tag_keys("b", "a")))
    assert not allows(doc, Request("ec2:CreateTags", TAG, tag_keys("a", "c")))
    assert not allows(doc, Request("ec2:CreateTags", TAG, tag_keys("c")))
    # ... and, as AWS warns, also when the key is missing or its set is empty
    assert allows(doc, Request("ec2:CreateTags", TAG))
    assert allows(doc, Request("ec2:CreateTags", TAG, tag_keys()))


def test_null_false_closes_for_all_values_on_a_missing_key() -> None:
    condition = {"ForAllValues:StringEquals": {"aws:TagKeys": "a"}, "Null": {"aws:TagKeys": "false"}}  # fmt: skip
    doc = policy(allow("ec2:CreateTags", Condition=condition))
    assert allows(doc, Request("ec2:CreateTags", TAG, tag_keys("a")))
    assert not allows(doc, Request("ec2:CreateTags", TAG))
    assert not allows(doc, Request("ec2:CreateTags", TAG, tag_keys()))
    missing = policy(allow("x:Y", Condition={"Null": {"k": "true"}}))
    assert allows(missing, Request("x:Y", "*"))
    assert not allows(missing, Request("x:Y", "*", {"k": "v"}))


def test_for_any_value_holds_when_one_request_value_is_among_the_policy_values() -> None:
    doc = policy(allow("ec2:CreateTags", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}))  # fmt: skip
    assert allows(doc, Request("ec2:CreateTags", TAG, tag_keys("a", "c")))
    assert not allows(doc, Request("ec2:CreateTags", TAG, tag_keys("c", "d")))
    assert not allows(doc, Request("ec2:CreateTags", TAG))  # a missing key: nothing matches
    assert not allows(doc, Request("ec2:CreateTags", TAG, tag_keys()))
    lenient = policy(allow("x:Y", Condition={"ForAnyValue:StringEqualsIfExists": {"k": "a"}}))
    assert allows(lenient, Request("x:Y", "*"))


def test_set_operators_with_negated_and_like_operators() -> None:
    # "every tag key is not vpnctl:*" / "some tag key is not vpnctl:*"
    none_ours = policy(allow("x:Y", Condition={"ForAllValues:StringNotLike": {"aws:TagKeys": "vpnctl:*"}}))  # fmt: skip
    assert allows(none_ours, Request("x:Y", "*", tag_keys("owner", "team")))
    assert not allows(none_ours, Request("x:Y", "*", tag_keys("owner", "vpnctl:name")))
    some_other = policy(allow("x:Y", Condition={"ForAnyValue:StringNotLike": {"aws:TagKeys": "vpnctl:*"}}))  # fmt: skip
    assert allows(some_other, Request("x:Y", "*", tag_keys("vpnctl:ready", "owner")))
    assert not allows(some_other, Request("x:Y", "*", tag_keys("vpnctl:ready")))
    prefix = policy(allow("x:Y", Condition={"ForAllValues:StringLike": {"aws:TagKeys": "vpnctl:*"}}))  # fmt: skip
    assert allows(prefix, Request("x:Y", "*", tag_keys("vpnctl:ready", "vpnctl:name")))
    assert not allows(prefix, Request("x:Y", "*", tag_keys("vpnctl:ready", "Name")))


def test_a_deny_with_for_any_value_bites_on_one_forbidden_key() -> None:
    doc = policy(
        allow("ec2:CreateTags", TAG),
        {"Effect": "Deny", "Action": "ec2:CreateTags", "Resource": "*",
         "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": "vpnctl:name"}}},
    )  # fmt: skip
    assert allows(doc, Request("ec2:CreateTags", TAG, tag_keys("vpnctl:ready")))
    assert not allows(doc, Request("ec2:CreateTags", TAG, tag_keys("vpnctl:ready", "vpnctl:name")))
