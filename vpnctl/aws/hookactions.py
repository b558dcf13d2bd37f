"""The failover hook's deployment against AWS: its read (for ``observe``) and the handlers of
its changes (for the executor). The decisions are in ``hooks``, pure.

The read adds three calls per account and region, whatever the number of gateways:
``GetFunction``, and ``ListRules`` and ``DescribeAlarms`` by name prefix. Whether a group
carries the lifecycle hook is read from its ``vpnctl:drain-hook`` tag, which the group read
of ``observe`` already returns (``DescribeLifecycleHooks`` would cost a call per group).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from vpnctl.aws import hooks, names, pages
from vpnctl.aws import live as lv
from vpnctl.aws.actions import (
    DRAIN_HOOK,
    POLICY_NAME,
    call,
    group_tags,
    make_role,
    tag_list,
)
from vpnctl.aws.changes import Change, Ref
from vpnctl.aws.context import Executor
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Client, Sessions, aws_errors, error_code

if TYPE_CHECKING:
    from vpnctl.aws.scope import Scope

TARGET_ID = "failover-hook"


# ------------------------------------------------------------------ reading


def read(sessions: Sessions, at: lv.RegionKey, scope: Scope, retry: Retry) -> lv.HookLive:
    topology = scope.topology
    with aws_errors(*at, "the failover hook's objects (reading what exists)"):
        return lv.HookLive(
            _function(sessions.client(*at, "lambda"), topology, retry),
            _rules(sessions.client(*at, "events"), topology, retry),
            _alarms(sessions.client(*at, "cloudwatch"), topology, retry),
        )


def _function(client: Client, topology: str, retry: Retry) -> lv.FunctionLive | None:
    name = hooks.function_name(topology)
    try:
        found = retry.call(lambda: client.get_function(FunctionName=name))["Configuration"]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    env = found.get("Environment", {}).get("Variables", {})
    settings = {
        "Role": found["Role"],
        "Handler": found["Handler"],
        "Runtime": found["Runtime"],
        "Timeout": found["Timeout"],
        "MemorySize": found["MemorySize"],
        "Environment": {"Variables": env},
    }
    return lv.FunctionLive(name, found["CodeSha256"], hooks.digest(settings))


def _rules(client: Client, topology: str, retry: Retry) -> dict[str, str]:
    prefix = hooks.rule_prefix(topology)
    found = retry.call(lambda: pages.items(client, "list_rules", "Rules", NamePrefix=prefix))
    rules = {}
    for rule in found:
        args = (
            {"EventPattern": lv.canonical_json(json.loads(rule["EventPattern"]))}
            if rule.get("EventPattern")
            else {"ScheduleExpression": rule.get("ScheduleExpression")}
        )
        rules[rule["Name"]] = hooks.digest(args)
    return rules


def _alarms(client: Client, topology: str, retry: Retry) -> dict[str, str]:
    prefix = hooks.alarm_prefix(topology)
    found = retry.call(
        lambda: pages.items(client, "describe_alarms", "MetricAlarms", AlarmNamePrefix=prefix)
    )
    return {a["AlarmName"]: hooks.alarm_digest(a) for a in found if "Metrics" in a}


# ------------------------------------------------------------------ the changes


def _client(ex: Executor, change: Change, service: str) -> Client:
    return ex.sessions.client(change.where.account, change.where.region, service)


def put_role(ex: Executor, ch: hooks.PutHookRole) -> None:
    iam = _client(ex, ch, "iam")
    if ch.create:
        description = f"vpnctl {ex.intent.topology}: failover hook"
        make_role(ex, iam, ch.role_name, ch.path, ch.trust, description, "failover-hook")
    call(
        ex,
        iam.put_role_policy,
        RoleName=ch.role_name,
        PolicyName=POLICY_NAME,
        PolicyDocument=ch.policy,
    )


def _role_arn(ex: Executor, ch: hooks.PutHookFunction) -> str:
    iam = ex.sessions.global_client(ch.where.account, "iam")
    return str(call(ex, iam.get_role, RoleName=ch.role_name)["Role"]["Arn"])


def put_function(ex: Executor, ch: hooks.PutHookFunction) -> None:
    assert ex.intent.hook is not None
    client = _client(ex, ch, "lambda")
    wanted = hooks.settings(_role_arn(ex, ch), ch.where.account, ex.intent.hook)
    if ch.create:
        _create_function(ex, ch, client, wanted)
    else:
        call(ex, client.update_function_code, FunctionName=ch.function, ZipFile=ex.intent.hook.data)
        call(ex, client.update_function_configuration, FunctionName=ch.function, **wanted)


def _create_function(
    ex: Executor, ch: hooks.PutHookFunction, client: Client, wanted: dict[str, Any]
) -> None:
    assert ex.intent.hook is not None
    tags = {t["Key"]: t["Value"] for t in tag_list(ex, "failover-hook")}
    deadline = ex.clock() + 60.0
    while True:  # a role made a moment ago cannot be assumed by Lambda yet
        try:
            made = call(ex, client.create_function, FunctionName=ch.function, Code={"ZipFile": ex.intent.hook.data},
                        Tags=tags, Description=f"vpnctl {ex.intent.topology}: failover hook", **wanted)  # fmt: skip
            _remember_arn(ex, ch, made)
            break
        except botocore.exceptions.ClientError as exc:
            if "cannot be assumed" not in str(exc) or ex.clock() > deadline:
                raise
            ex.sleep(3.0)
    source = ex.sessions.partition(ch.where.account).arn(
        "events",
        ch.where.region,
        _account_id(_role_arn(ex, ch)),
        f"rule/{hooks.rule_prefix(ex.intent.topology)}*",
    )
    call(
        ex,
        client.add_permission,
        ok=("ResourceConflictException",),
        FunctionName=ch.function,
        StatementId="eventbridge",
        Action="lambda:InvokeFunction",
        Principal=ex.sessions.partition(ch.where.account).service_principal("events"),
        SourceArn=source,
    )


def _account_id(arn: str) -> str:
    return arn.split(":")[4]


def put_rule(ex: Executor, ch: hooks.PutHookRule) -> None:
    client = _client(ex, ch, "events")
    args = hooks.rules(ex.intent.topology)[ch.rule]
    tags = tag_list(ex, ch.rule)
    call(ex, client.put_rule, Name=ch.rule, State="ENABLED", Tags=tags, **args)
    call(
        ex,
        client.put_targets,
        Rule=ch.rule,
        Targets=[{"Id": TARGET_ID, "Arn": _function_arn(ex, ch)}],
    )


def _remember_arn(ex: Executor, ch: Change, made: Any) -> None:
    """The function's ARN as CreateFunction returned it: the rules' targets need no read."""
    if made and made.get("FunctionArn"):
        w = ch.where
        ex.registry.put(
            "function-arn",
            w.account,
            w.region,
            hooks.function_name(ex.intent.topology),
            str(made["FunctionArn"]),
        )


def _function_arn(ex: Executor, ch: hooks.PutHookRule) -> str:
    known = ex.registry.get(Ref("function-arn", ch.where.account, ch.where.region, ch.function))
    if known is not None:
        return known
    client = _client(ex, ch, "lambda")
    return str(
        call(ex, client.get_function, FunctionName=ch.function)["Configuration"]["FunctionArn"]
    )


def put_alarm(ex: Executor, ch: hooks.PutProbeAlarm) -> None:
    args = hooks.alarm(ex.intent, ch.gateway, ex.intent.alarm_threshold, ex.intent.alarm_periods)
    call(ex, _client(ex, ch, "cloudwatch").put_metric_alarm, Tags=tag_list(ex, ch.gateway), **args)


def put_lifecycle_hook(ex: Executor, ch: hooks.PutLifecycleHook) -> None:
    made = Ref("drain-hook", ch.where.account, ch.where.region, ch.group_name)
    if ex.registry.get(made) is not None:
        return  # the group was made with it in this apply (actions.create_scaling_group)
    client = _client(ex, ch, "autoscaling")
    call(ex, client.put_lifecycle_hook, AutoScalingGroupName=ch.group_name, **DRAIN_HOOK)
    drain = {names.DRAIN_TAG: hooks.LIFECYCLE_HOOK}
    call(ex, client.create_or_update_tags, Tags=group_tags(ex, ch.group_name, drain, False))


def delete_function(ex: Executor, ch: hooks.DeleteHookFunction) -> None:
    call(
        ex,
        _client(ex, ch, "lambda").delete_function,
        ok=("ResourceNotFoundException",),
        FunctionName=ch.function,
    )


def delete_rule(ex: Executor, ch: hooks.DeleteHookRule) -> None:
    client = _client(ex, ch, "events")
    gone = ("ResourceNotFoundException",)
    call(ex, client.remove_targets, ok=gone, Rule=ch.rule, Ids=[TARGET_ID])
    call(ex, client.delete_rule, ok=gone, Name=ch.rule)


def delete_alarm(ex: Executor, ch: hooks.DeleteProbeAlarm) -> None:
    call(ex, _client(ex, ch, "cloudwatch").delete_alarms, AlarmNames=[ch.alarm])
