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

from vpnctl.aws import hooks, names
from vpnctl.aws import live as lv
from vpnctl.aws.actions import DRAIN_HOOK, POLICY_NAME, aws, make_role, tags
from vpnctl.aws.changes import Change, Ref
from vpnctl.aws.context import Executor
from vpnctl.aws.door import At, Door
from vpnctl.errors import AwsError

if TYPE_CHECKING:
    from vpnctl.aws.scope import Scope

TARGET_ID = "failover-hook"


# ------------------------------------------------------------------ reading


def read(door: Door, at: lv.RegionKey, scope: Scope) -> lv.HookLive:
    topology = scope.topology
    here = door.at(*at, "the failover hook's objects (reading what exists)")
    return lv.HookLive(_function(here, topology), _rules(here, topology), _alarms(here, topology))


def _function(here: At, topology: str) -> lv.FunctionLive | None:
    name = hooks.function_name(topology)
    found = here.functions.function(name)
    if found is None:
        return None
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


def _rules(here: At, topology: str) -> dict[str, str]:
    rules = {}
    for rule in here.events.rules(hooks.rule_prefix(topology)):
        args = (
            {"EventPattern": lv.canonical_json(json.loads(rule["EventPattern"]))}
            if rule.get("EventPattern")
            else {"ScheduleExpression": rule.get("ScheduleExpression")}
        )
        rules[rule["Name"]] = hooks.digest(args)
    return rules


def _alarms(here: At, topology: str) -> dict[str, str]:
    found = here.cloudwatch.alarms(hooks.alarm_prefix(topology))
    return {a["AlarmName"]: hooks.alarm_digest(a) for a in found if "Metrics" in a}


# ------------------------------------------------------------------ the changes


def put_role(ex: Executor, ch: hooks.PutHookRole) -> None:
    iam = aws(ex, ch).iam
    if ch.create:
        description = f"vpnctl {ex.intent.topology}: failover hook"
        made = make_role(ex, iam, ch.role_name, ch.path, ch.trust, description, "failover-hook")
        if made is not None:  # CreateRole answers with the ARN: the functions need no read
            ex.registry.put("role-arn", ch.where.account, "iam", ch.role_name, made)
    iam.put_role_policy(ch.role_name, POLICY_NAME, ch.policy)


def _role_arn(ex: Executor, ch: hooks.PutHookFunction) -> str:
    """The hook role's ARN, as CreateRole gave it or else read (then kept: the role is the
    account's, IAM is global, and each region's function asks twice)."""
    known = Ref("role-arn", ch.where.account, "iam", ch.role_name)
    found = ex.registry.get(known)
    if found is None:
        found = ex.door.home(ch.where.account, ch.describe()).iam.role_arn(ch.role_name)
        ex.registry.put(known.kind, known.account, known.region, known.name, found)
    return found


def put_function(ex: Executor, ch: hooks.PutHookFunction) -> None:
    assert ex.intent.hook is not None
    wanted = hooks.settings(_role_arn(ex, ch), ch.where.account, ex.intent.hook)
    if ch.create:
        _create_function(ex, ch, wanted)
    else:
        aws(ex, ch).functions.update_function(ch.function, ex.intent.hook.data, **wanted)


def _create_function(ex: Executor, ch: hooks.PutHookFunction, wanted: dict[str, Any]) -> None:
    assert ex.intent.hook is not None
    functions = aws(ex, ch).functions
    description = f"vpnctl {ex.intent.topology}: failover hook"
    deadline = ex.clock() + 60.0
    while True:  # a role made a moment ago cannot be assumed by Lambda yet
        made = functions.create_function(
            ch.function, ex.intent.hook.data, description, tags(ex, "failover-hook"), **wanted
        )
        if made is not None:
            _remember_arn(ex, ch, made)
            break
        if ex.clock() > deadline:
            w = ch.where
            raise AwsError(w.account, w.region, ch.describe(), "Lambda cannot assume its role")
        ex.sleep(3.0)
    partition = ex.sessions.partition(ch.where.account)
    source = partition.arn(
        "events",
        ch.where.region,
        _account_id(_role_arn(ex, ch)),
        f"rule/{hooks.rule_prefix(ex.intent.topology)}*",
    )
    functions.allow(ch.function, "eventbridge", partition.service_principal("events"), source)


def _account_id(arn: str) -> str:
    return arn.split(":")[4]


def put_rule(ex: Executor, ch: hooks.PutHookRule) -> None:
    args = hooks.rules(ex.intent.topology)[ch.rule]
    arn = _function_arn(ex, ch)
    aws(ex, ch).events.put_rule(ch.rule, tags(ex, ch.rule), TARGET_ID, arn, **args)


def _remember_arn(ex: Executor, ch: Change, arn: str) -> None:
    """The function's ARN as CreateFunction returned it: the rules' targets need no read."""
    if arn:
        w = ch.where
        name = hooks.function_name(ex.intent.topology)
        ex.registry.put("function-arn", w.account, w.region, name, arn)


def _function_arn(ex: Executor, ch: hooks.PutHookRule) -> str:
    known = ex.registry.get(Ref("function-arn", ch.where.account, ch.where.region, ch.function))
    if known is not None:
        return known
    found = aws(ex, ch).functions.function(ch.function)
    if found is None:
        raise AwsError(ch.where.account, ch.where.region, ch.describe(), "no function to target")
    return str(found["FunctionArn"])


def put_alarm(ex: Executor, ch: hooks.PutProbeAlarm) -> None:
    args = hooks.alarm(ex.intent, ch.gateway, ex.intent.alarm_threshold, ex.intent.alarm_periods)
    aws(ex, ch).cloudwatch.put_alarm(tags(ex, ch.gateway), **args)


def put_lifecycle_hook(ex: Executor, ch: hooks.PutLifecycleHook) -> None:
    made = Ref("drain-hook", ch.where.account, ch.where.region, ch.group_name)
    if ex.registry.get(made) is not None:
        return  # the group was made with it in this apply (actions.create_scaling_group)
    drain = {names.DRAIN_TAG: hooks.LIFECYCLE_HOOK}
    aws(ex, ch).autoscaling.put_lifecycle_hook(ch.group_name, DRAIN_HOOK, drain)


def delete_function(ex: Executor, ch: hooks.DeleteHookFunction) -> None:
    aws(ex, ch).functions.delete_function(ch.function)


def delete_rule(ex: Executor, ch: hooks.DeleteHookRule) -> None:
    aws(ex, ch).events.delete_rule(ch.rule, [TARGET_ID])


def delete_alarm(ex: Executor, ch: hooks.DeleteProbeAlarm) -> None:
    aws(ex, ch).cloudwatch.delete_alarms([ch.alarm])
