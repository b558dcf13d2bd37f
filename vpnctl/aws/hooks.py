"""What apply deploys for the failover hook, and the pure diff and sweep of it.

Per account and region with gateways: the function (the package ``vpnctl failover package``
builds, ``VPNCTL_ACCOUNT`` naming its account), five EventBridge rules targeting it (EC2 state
changes, Auto Scaling launches and terminate lifecycle actions of the topology's groups, its
probe alarms, the gateway agents' health events, a reconcile every few minutes), a probe alarm
per gateway (the worst ``LossPercent`` of its tunnels; the backstop of the agents' evidence,
so missing data breaches) and a terminate lifecycle hook on each gateway's group. Per
account: one role for the function, allowed only what the hook does, on the topology's own
objects (ReplaceRoute on route tables tagged with the topology, CompleteLifecycleAction on its
groups, its own lease item).

``changes(intent, live)`` and ``removals(intent, live, everything)`` are pure, like ``diff``
and ``sweep``; ``hookactions`` reads and executes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from vpnctl.aws import changes as c
from vpnctl.aws import names
from vpnctl.aws.intent import HookPackage, Intent
from vpnctl.aws.live import HookLive, Live, canonical_json
from vpnctl.aws.names import TOPOLOGY_TAG
from vpnctl.health_contract import EVENT_DETAIL_TYPE, EVENT_SOURCE
from vpnctl.partitions import PARTITIONS

LIFECYCLE_HOOK = names.LIFECYCLE_HOOK
SCHEDULE = "rate(5 minutes)"
TIMEOUT_S = 60


# ------------------------------------------------------------------ names and documents


function_name = names.hook_function
role_name = names.hook_role
rule_prefix = names.hook_rule_prefix
alarm_prefix = names.alarm_prefix


def digest(document: object) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()[:16]


def rules(topology: str) -> dict[str, dict[str, Any]]:
    """Rule name -> its put_rule arguments (an event pattern or a schedule)."""
    group = [{"prefix": f"{topology}-"}]
    patterns = {
        "ec2": {
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Instance State-change Notification"],
            "detail": {"state": list(names.HOOK_RULE_STATES)},
        },
        "autoscaling": {
            "source": ["aws.autoscaling"],
            "detail-type": [
                "EC2 Instance Launch Successful",
                "EC2 Instance-terminate Lifecycle Action",
            ],
            "detail": {"AutoScalingGroupName": group},
        },
        "alarms": {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": [{"prefix": alarm_prefix(topology)}]},
        },
        "agent": {  # PutEvents by the gateways' agents, in their own region
            "source": [EVENT_SOURCE],
            "detail-type": [EVENT_DETAIL_TYPE],
            "detail": {"topology": [topology]},
        },
    }
    found = {
        names.hook_rule(topology, k): {"EventPattern": canonical_json(p)}
        for k, p in patterns.items()
    }
    found[names.hook_rule(topology, "reconcile")] = {"ScheduleExpression": SCHEDULE}
    return found


def alarm(intent: Intent, gateway: str, threshold: float, periods: int) -> dict[str, Any]:
    """put_metric_alarm's arguments: the worst probe loss across the gateway's tunnels."""
    topo = intent.topology
    metrics: list[dict[str, Any]] = []
    for i, tunnel in enumerate(intent.design.tunnels_by_gateway[gateway]):
        dims = {"Topology": topo, "Link": tunnel.link, "Gateway": gateway}
        metric = {
            "Namespace": names.METRIC_NAMESPACE,
            "MetricName": "LossPercent",
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
        }
        stat = {"Metric": metric, "Period": 60, "Stat": "Maximum"}
        metrics.append({"Id": f"m{i}", "MetricStat": stat, "ReturnData": False})
    ids = ",".join(m["Id"] for m in metrics)
    metrics.append({"Id": "loss", "Expression": f"MAX([{ids}])", "ReturnData": True})
    return {
        "AlarmName": names.alarm(topo, gateway),
        "AlarmDescription": f"vpnctl {topo}: probe loss on {gateway}'s tunnels",
        "Metrics": metrics,
        "EvaluationPeriods": periods,
        "DatapointsToAlarm": periods,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        # The backstop of the agents' evidence: a gateway whose instance runs and publishes
        # nothing is hung, not well (the hook ignores the alarm of an instance that is not
        # running). "breaching": https://docs.aws.amazon.com/AmazonCloudWatch/latest/
        # monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data
        "TreatMissingData": "breaching",
    }


def alarm_digest(args: Mapping[str, Any]) -> str:
    keys = ("Metrics", "EvaluationPeriods", "DatapointsToAlarm", "Threshold")
    found = {k: args[k] for k in keys}
    return digest({**found, "TreatMissingData": args.get("TreatMissingData", "missing")})


def settings(role_arn: str, account: str, package: HookPackage) -> dict[str, Any]:
    return {
        "Role": role_arn,
        "Handler": package.handler,
        "Runtime": package.runtime,
        "Timeout": TIMEOUT_S,
        "MemorySize": 256,
        "Environment": {"Variables": {"VPNCTL_ACCOUNT": account}},
    }


def trust(partition: str) -> str:
    principal = PARTITIONS[partition].service_principal("lambda")
    statement = {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}
    return canonical_json({"Version": "2012-10-17", "Statement": [statement]})


def policy(intent: Intent, account: str, account_id: str) -> str:
    """The hook's least privilege in one account (all of its regions).

    Every statement is there for calls listed in ``vpnctl.aws.permissions.hook_calls``; a test
    evaluates this document against that list for every example topology."""
    partition = PARTITIONS[intent.partitions[account]]
    topo = intent.topology

    def arn(service: str, resource: str, region: str = "*") -> str:
        return partition.arn(service, region, account_id, resource)

    own = {"StringEquals": {f"aws:ResourceTag/{TOPOLOGY_TAG}": topo}}
    home = partition.global_region
    statements: list[dict[str, Any]] = [
        _allow(
            "Read",
            [
                "ec2:DescribeInstances",
                "ec2:DescribeRouteTables",
                "ec2:DescribeAddresses",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:GetMetricData",  # the agents' TunnelUp/SiblingUp evidence
                "autoscaling:DescribeAutoScalingGroups",
            ],
            "*",
        ),
        _allow(
            "OwnRoutes", ["ec2:ReplaceRoute", "ec2:CreateRoute"], arn("ec2", "route-table/*"), own
        ),
        _allow("OwnInstances", "ec2:ModifyInstanceAttribute", arn("ec2", "instance/*"), own),
        _allow(
            "OwnAddresses",
            "ec2:AssociateAddress",
            [arn("ec2", "instance/*"), arn("ec2", "elastic-ip/*")],
            own,
        ),
        _allow("Interfaces", "ec2:AssociateAddress", arn("ec2", "network-interface/*")),
        _allow(
            "OwnGroups",
            "autoscaling:CompleteLifecycleAction",
            arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{topo}-*"),
            own,  # the name prefix alone would also match topology "<topo>-x"'s groups
        ),
        _allow(
            "Lease",
            [
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:DescribeTable",
                "dynamodb:CreateTable",
            ],
            arn("dynamodb", f"table/{names.LOCK_TABLE}", home),
        ),
        _allow(
            "Logs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            arn("logs", f"log-group:/aws/lambda/{function_name(topo)}:*"),
        ),
    ]
    if account == intent.dns_account and PARTITIONS[intent.partitions[account]].route53:
        zones = f"{partition.arn_prefix}:route53:::hostedzone/*"
        statements += [
            _allow("FindZone", "route53:ListHostedZonesByName", "*"),
            _allow(
                "Names",
                ["route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"],
                zones,
            ),
        ]
    return canonical_json({"Version": "2012-10-17", "Statement": statements})


def _allow(
    sid: str, action: str | list[str], resource: str | list[str], condition: Any = None
) -> dict[str, Any]:
    found: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
    return found | ({"Condition": condition} if condition else {})


# ------------------------------------------------------------------ changes


@dataclass(frozen=True)
class PutHookRole(c.Change):
    role_name: str
    path: str
    trust: str
    policy: str
    create: bool
    stage: ClassVar[c.Stage] = c.Stage.INSIDE_VPC

    @property
    def sign(self) -> str:  # type: ignore[override]
        return "+" if self.create else "~"

    def describe(self) -> str:
        return f"iam role {self.role_name} for the failover hook (least-privilege policy)"


@dataclass(frozen=True)
class PutHookFunction(c.Change):
    function: str
    role_name: str
    create: bool
    stage: ClassVar[c.Stage] = c.Stage.HOOK

    @property
    def sign(self) -> str:  # type: ignore[override]
        return "+" if self.create else "~"

    def describe(self) -> str:
        what = "" if self.create else ": new code or settings"
        return f"lambda function {self.function} (failover hook){what}"


@dataclass(frozen=True)
class PutHookRule(c.Change):
    rule: str
    function: str
    stage: ClassVar[c.Stage] = c.Stage.HOOK_RULES

    def describe(self) -> str:
        return f"eventbridge rule {self.rule} -> {self.function}"


@dataclass(frozen=True)
class PutProbeAlarm(c.Change):
    gateway: str
    alarm: str
    stage: ClassVar[c.Stage] = c.Stage.HOOK

    def describe(self) -> str:
        return f"cloudwatch alarm {self.alarm} (probe loss on {self.gateway}'s tunnels)"


@dataclass(frozen=True)
class PutLifecycleHook(c.Change):
    group_name: str
    stage: ClassVar[c.Stage] = c.Stage.HOOK

    def describe(self) -> str:
        return f"auto scaling group {self.group_name}: terminate lifecycle hook {LIFECYCLE_HOOK}"


@dataclass(frozen=True)
class DeleteHookFunction(c.Removal):
    function: str
    stage: ClassVar[c.Stage] = c.Stage.DROP_NAMES

    def describe(self) -> str:
        return f"lambda function {self.function}"


@dataclass(frozen=True)
class DeleteHookRule(c.Removal):
    rule: str
    stage: ClassVar[c.Stage] = c.Stage.DROP_NAMES

    def describe(self) -> str:
        return f"eventbridge rule {self.rule}"


@dataclass(frozen=True)
class DeleteProbeAlarm(c.Removal):
    alarm: str
    stage: ClassVar[c.Stage] = c.Stage.DROP_NAMES

    def describe(self) -> str:
        return f"cloudwatch alarm {self.alarm}"


# ------------------------------------------------------------------ the diff


def regions(intent: Intent) -> list[tuple[str, str]]:
    return sorted({(g.account, g.region) for g in intent.design.gateways})


def changes(intent: Intent, live: Live) -> Iterator[c.Change]:
    if intent.hook is None:
        return
    for account in sorted({a for a, _ in regions(intent)}):
        yield from _role(intent, live, account)
    for account, region in regions(intent):
        yield from _region(intent, live, account, region)


def _role(intent: Intent, live: Live, account: str) -> Iterator[c.Change]:
    found = live.accounts.get(account)
    name = role_name(intent.topology)
    role = next((r for r in found.roles if r.name == name), None) if found else None
    wanted = policy(intent, account, found.account_id if found else "")
    if role is None or role.policy != wanted:
        home = PARTITIONS[intent.partitions[account]].global_region
        yield PutHookRole(
            c.Where(account, home),
            name,
            intent.iam_path,
            trust(intent.partitions[account]),
            wanted,
            role is None,
        )


def role_arn(intent: Intent, live: Live, account: str) -> str:
    found = live.accounts.get(account)
    partition = PARTITIONS[intent.partitions[account]]
    account_id = found.account_id if found else ""
    return f"{partition.arn_prefix}:iam::{account_id}:role{intent.iam_path}{role_name(intent.topology)}"


def _region(intent: Intent, live: Live, account: str, region: str) -> Iterator[c.Change]:
    assert intent.hook is not None
    here = c.Where(account, region)
    have = live.hooks.get((account, region), HookLive())
    name = function_name(intent.topology)
    wanted = digest(settings(role_arn(intent, live, account), account, intent.hook))
    fn = have.function
    if fn is None or fn.code_sha256 != intent.hook.sha256 or fn.settings != wanted:
        yield PutHookFunction(here, name, role_name(intent.topology), fn is None)
    for rule, args in rules(intent.topology).items():
        if have.rules.get(rule) != digest(args):
            yield PutHookRule(here, rule, name)
    for gateway in (
        g for g in intent.design.gateways if (g.account, g.region) == (account, region)
    ):
        args = alarm(intent, gateway.name, intent.alarm_threshold, intent.alarm_periods)
        if have.alarms.get(args["AlarmName"]) != alarm_digest(args):
            yield PutProbeAlarm(here, gateway.name, args["AlarmName"])
        group = intent.aws_name(gateway.name)
        groups = live.region(account, region).groups
        if not any(g.group_name == group and g.drain_hook for g in groups):
            yield PutLifecycleHook(here, group)


def removals(intent: Intent, live: Live, everything: bool) -> Iterator[c.Change]:
    wanted_regions = set(regions(intent)) if intent.hook and not everything else set()
    wanted_rules = set(rules(intent.topology))
    wanted_alarms = {names.alarm(intent.topology, g.name) for g in intent.design.gateways}
    for (account, region), have in sorted(live.hooks.items()):
        here = c.Where(account, region)
        keep = (account, region) in wanted_regions
        if have.function is not None and not keep:
            yield DeleteHookFunction(here, have.function.name)
        for rule in sorted(have.rules):
            if not keep or rule not in wanted_rules:
                yield DeleteHookRule(here, rule)
        for name in sorted(have.alarms):
            if everything or name not in wanted_alarms:
                yield DeleteProbeAlarm(here, name)
