"""Every AWS call a gateway and the failover hook make, with what each touches. Pure.

This is the list the policies are proven against (``tests/unit/aws/test_policy_proof.py``):
each generated policy document must allow every call listed here for its role, allow nothing
no call here uses, and refuse the neighbours' objects listed as refusals. A new AWS call on a
gateway or in the hook is added here first, beside its caller; the proof then says which
policy is missing it.

Resources are the ARNs AWS authorizes the call against, in the role's partition, with the tags
vpnctl puts on them (``aws:ResourceTag/...`` in the condition context). IDs AWS assigns
(``i-...``, ``eipalloc-...``) are stand-ins: the policies never name them.

Gateway (instance role ``policy.gateway_policy``):

- boot (``userdata/boot.sh`` through ``userdata/gateway_aws.py``): ``keys`` reads each
  tunnel's keys with one ``ssm:GetParameters``; ``elastic-ip`` finds its address
  (``ec2:DescribeAddresses``) and associates it with itself (``ec2:AssociateAddress``);
  ``source-dest-check`` turns the check off (``ec2:ModifyInstanceAttribute``); ``unhealthy``,
  run when a boot step fails, tells its group to replace it (``autoscaling:SetInstanceHealth``).
- the agent (``vpnctl-agent.service`` -> ``vpnctl agent run``, ``vpnctl.agent.publish``):
  ``cloudwatch:PutMetricData`` in namespace ``vpnctl`` (TunnelUp, SiblingUp and the probe's
  LossPercent the backstop alarms watch); ``events:PutEvents`` on its region's default bus,
  source ``vpnctl.agent``; ``ec2:CreateTags`` of ``vpnctl:ready`` on its own instance;
  ``ec2:DescribeInstances`` to find its siblings; and, when its configuration brings a new
  tunnel, the boot helper's ``keys`` again.
- the SSM agent, through which ``vpnctl keys rotate`` runs its restart commands: the Run
  Command channel (``policy.SSM_AGENT``).

Hook (Lambda role ``hooks.policy``): the read pass (``vpnctl.failover.observe``), the actions
(``vpnctl.failover.act``), its lease (``vpnctl.failover.lease``, with
``ApplyLock.ensure_table`` the first time) and the Lambda runtime's own log calls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from vpnctl import keys
from vpnctl.aws import iameval, names, store
from vpnctl.aws.iameval import Request
from vpnctl.aws.intent import Intent
from vpnctl.aws.policy import SSM_AGENT
from vpnctl.design import Gateway
from vpnctl.health_contract import EVENT_DETAIL_TYPE, EVENT_SOURCE, READY_TAG
from vpnctl.partitions import PARTITIONS, Partition

INSTANCE = "instance/i-0123456789abcdef0"
ADDRESS = "elastic-ip/eipalloc-0123456789abcdef0"
INTERFACE = "network-interface/eni-0123456789abcdef0"
TABLE = "route-table/rtb-0123456789abcdef0"
GROUP_ID = "4a5b6c7d-1111-2222-3333-444455556666"
ZONE = "Z0123456789ABCDEFGHIJ"


BUS = "event-bus/default"
AGENT = "vpnctl/agent/publish.py"


@dataclass(frozen=True)
class Call:
    caller: str  # where the call is made: "userdata/gateway_aws.py keys"
    request: Request


def _event(source: str = EVENT_SOURCE, detail_type: str = EVENT_DETAIL_TYPE) -> dict[str, str]:
    """The condition context of a PutEvents entry (EventBridge's events:source/detail-type)."""
    return {"events:source": source, "events:detail-type": detail_type}


def _tag_keys(*keys: str) -> dict[str, list[str]]:
    """aws:TagKeys of a tagging request: the keys it sets (multivalued)."""
    return {"aws:TagKeys": list(keys)}


def _tagged(topology: str, name: str, **extra: str) -> dict[str, str]:
    return {f"aws:ResourceTag/{k}": v for k, v in names.tags(topology, name, **extra).items()}


@dataclass(frozen=True)
class _Arns:
    partition: Partition
    region: str
    account_id: str

    def __call__(self, service: str, resource: str, region: str | None = None) -> str:
        where = self.region if region is None else region
        return self.partition.arn(service, where, self.account_id, resource)

    def group(self, name: str) -> str:
        return self("autoscaling", f"autoScalingGroup:{GROUP_ID}:autoScalingGroupName/{name}")


# ------------------------------------------------------------------ gateways


def gateway_calls(intent: Intent, gateway: Gateway, account_id: str) -> tuple[Call, ...]:
    arn = _Arns(PARTITIONS[gateway.partition], gateway.region, account_id)
    topo, name = intent.topology, gateway.name
    own = _tagged(topo, name)
    boot = "userdata/gateway_aws.py"
    found = [
        Call(f"{boot} keys", Request("ssm:GetParameters", arn("ssm", f"parameter{p}")))
        for p in intent.gateway_parameters(name)
    ]
    found += [
        Call(f"{boot} elastic-ip", Request("ec2:DescribeAddresses", "*")),
        Call(f"{boot} elastic-ip", Request("ec2:AssociateAddress", arn("ec2", ADDRESS), own)),
        Call(f"{boot} elastic-ip", Request("ec2:AssociateAddress", arn("ec2", INSTANCE), own)),
        Call(f"{boot} elastic-ip", Request("ec2:AssociateAddress", arn("ec2", INTERFACE))),
        Call(
            f"{boot} source-dest-check",
            Request("ec2:ModifyInstanceAttribute", arn("ec2", INSTANCE), own),
        ),
        Call(
            f"{boot} unhealthy (userdata/boot.sh, a failed step)",
            Request("autoscaling:SetInstanceHealth", arn.group(names.aws_name(topo, name)), own),
        ),
        Call(
            f"{AGENT} figures (vpnctl/probe/cloudwatch.py)",
            Request(
                "cloudwatch:PutMetricData",
                "*",
                {"cloudwatch:namespace": names.METRIC_NAMESPACE},
            ),
        ),
        Call(f"{AGENT} events", Request("events:PutEvents", arn("events", BUS), _event())),
        Call(
            f"{AGENT} ready tag",
            Request("ec2:CreateTags", arn("ec2", INSTANCE), {**own, **_tag_keys(READY_TAG)}),
        ),
        Call(f"{AGENT} find_gateways (siblings)", Request("ec2:DescribeInstances", "*")),
    ]
    bucket = store.bucket_name(account_id, gateway.region)
    found += [
        Call(f"{boot} fetch", Request("s3:GetObject", store.object_arn(gateway.partition, bucket, b.key)))
        for b in intent.gateway_blobs(name)
    ]  # fmt: skip
    if name in intent.configs:  # vpnctl/agent/follow.py: the pointer, and what it names
        follow = "vpnctl/agent/follow.py (vpnctl agent run --follow-store)"
        pointer = store.pointer_key(topo, name)
        found += [Call(follow, Request("s3:GetObject", store.object_arn(gateway.partition, bucket, pointer)))]  # fmt: skip
    found += [Call("amazon-ssm-agent (vpnctl keys rotate)", Request(a, "*")) for a in SSM_AGENT]
    return tuple(found)


def gateway_refusals(intent: Intent, gateway: Gateway, account_id: str) -> tuple[Call, ...]:
    """What the gateway's role must not be able to do: its neighbours' keys and objects."""
    arn = _Arns(PARTITIONS[gateway.partition], gateway.region, account_id)
    topo, name = intent.topology, gateway.name
    other = next((g.name for g in intent.design.gateways if g.name != name), "gw-other-a")
    found = [
        Call("the far end's keys", Request("ssm:GetParameters", arn("ssm", f"parameter{p}")))
        for p in _far_parameters(intent, name)
    ]
    found += [
        Call("keys not its own", Request("ssm:GetParameters", arn("ssm", f"parameter{p}")))
        for p in _elsewhere(intent, name)
    ]
    theirs = _tagged(topo, other)
    found += _agent_refusals(arn, _tagged(topo, name), theirs, gateway.region)
    found += [
        Call("another gateway's address", Request("ec2:AssociateAddress", arn("ec2", ADDRESS), theirs)),
        Call("another gateway's instance", Request("ec2:ModifyInstanceAttribute", arn("ec2", INSTANCE), theirs)),
        Call("another topology's instance", Request("ec2:ModifyInstanceAttribute", arn("ec2", INSTANCE), _tagged(f"{topo}-x", name))),
        Call("another gateway's group", Request("autoscaling:SetInstanceHealth", arn.group(names.aws_name(topo, other)), theirs)),
        Call("another namespace", Request("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "AWS/EC2"})),
        Call("routes (the hook's, not a gateway's)", Request("ec2:ReplaceRoute", arn("ec2", TABLE), _tagged(topo, "rt"))),
        Call("another gateway's configuration", Request("s3:GetObject", store.object_arn(
            gateway.partition, store.bucket_name(account_id, gateway.region),
            store.config_key(topo, other, store.STAND_IN)))),
    ]  # fmt: skip
    return tuple(found)


def _agent_refusals(
    arn: _Arns, own: dict[str, str], theirs: dict[str, str], region: str
) -> list[Call]:
    """The agent's tagging and events, turned on what it must not touch: any tag but
    vpnctl:ready (its name above all, which every "its own" rests on), another gateway's
    instance, another source, detail type, bus or region."""
    instance = arn("ec2", INSTANCE)
    return [
        Call(
            "its own name tag",
            Request("ec2:CreateTags", instance, {**own, **_tag_keys(names.NAME_TAG)}),
        ),
        Call(
            "its name beside ready",
            Request("ec2:CreateTags", instance, {**own, **_tag_keys(READY_TAG, names.NAME_TAG)}),
        ),
        Call(
            "its own topology tag",
            Request("ec2:CreateTags", instance, {**own, **_tag_keys(names.TOPOLOGY_TAG)}),
        ),
        Call("a tagging with no keys", Request("ec2:CreateTags", instance, own)),
        Call(
            "another gateway's ready tag",
            Request("ec2:CreateTags", instance, {**theirs, **_tag_keys(READY_TAG)}),
        ),
        Call(
            "another gateway's address tag",
            Request("ec2:CreateTags", arn("ec2", ADDRESS), {**own, **_tag_keys(READY_TAG)}),
        ),
        Call(
            "events as AWS",
            Request("events:PutEvents", arn("events", BUS), _event(source="aws.ec2")),
        ),
        Call(
            "events as the hook",
            Request("events:PutEvents", arn("events", BUS), _event(source="vpnctl.hook")),
        ),
        Call(
            "another detail type",
            Request(
                "events:PutEvents",
                arn("events", BUS),
                _event(detail_type="EC2 Instance State-change Notification"),
            ),
        ),
        Call("events with no source", Request("events:PutEvents", arn("events", BUS))),
        Call(
            "another bus", Request("events:PutEvents", arn("events", "event-bus/orders"), _event())
        ),
        Call(
            "another region's bus",
            Request(
                "events:PutEvents",
                arn(
                    "events",
                    BUS,
                    region="us-east-1" if region != "us-east-1" else "us-west-2",
                ),
                _event(),
            ),
        ),
    ]


def _far_parameters(intent: Intent, gateway: str) -> Iterator[str]:
    mine = set(intent.gateway_parameters(gateway))
    for tunnel in intent.design.tunnels_by_gateway[gateway]:
        yield from (p for p in intent.parameters(tunnel) if p not in mine)


def _elsewhere(intent: Intent, gateway: str) -> Iterator[str]:
    """The same keys in another topology, and the keys of tunnels the gateway is not in."""
    here, there = (keys.parameter_prefix(t, "") for t in (intent.topology, f"{intent.topology}-x"))
    yield from (p.replace(here, there, 1) for p in intent.gateway_parameters(gateway))
    others = [t for t in intent.design.tunnels if gateway not in {e.gateway for e in t.ends()}]
    for tunnel in others[:3]:
        yield from intent.parameters(tunnel)


# ------------------------------------------------------------------ the failover hook


def hook_calls(intent: Intent, account: str, account_id: str) -> tuple[Call, ...]:
    partition = PARTITIONS[intent.partitions[account]]
    found: list[Call] = []
    for gateway in (g for g in intent.design.gateways if g.account == account):
        found += _hook_region_calls(intent, gateway, _Arns(partition, gateway.region, account_id))
    home = _Arns(partition, partition.global_region, account_id)
    table = home("dynamodb", f"table/{names.LOCK_TABLE}")
    lease = "vpnctl/failover/lease.py"
    found += [Call(lease, Request(f"dynamodb:{a}", table)) for a in ("PutItem", "DeleteItem")]
    found += [
        Call(f"{lease} (ApplyLock.ensure_table)", Request(f"dynamodb:{a}", table))
        for a in ("DescribeTable", "CreateTable")
    ]
    if account == intent.dns_account and partition.route53:
        zone = f"{partition.arn_prefix}:route53:::hostedzone/{ZONE}"
        observe, act = "vpnctl/failover/observe.py zone", "vpnctl/failover/act.py record"
        found += [
            Call(observe, Request("route53:ListHostedZonesByName", "*")),
            Call(observe, Request("route53:ListResourceRecordSets", zone)),
            Call(act, Request("route53:ChangeResourceRecordSets", zone)),
        ]
    return tuple(found)


def _hook_region_calls(intent: Intent, gateway: Gateway, arn: _Arns) -> list[Call]:
    topo = intent.topology
    own = _tagged(topo, gateway.name)
    observe, act = "vpnctl/failover/observe.py", "vpnctl/failover/act.py"
    reads = [
        "ec2:DescribeInstances",
        "ec2:DescribeRouteTables",
        "ec2:DescribeAddresses",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricData",  # the agents' TunnelUp/SiblingUp evidence
        "autoscaling:DescribeAutoScalingGroups",
    ]
    found = [Call(observe, Request(a, "*")) for a in reads]
    found += [
        Call(f"{act} fix", Request("ec2:ModifyInstanceAttribute", arn("ec2", INSTANCE), own)),
        Call(f"{act} fix", Request("ec2:AssociateAddress", arn("ec2", INSTANCE), own)),
        Call(f"{act} fix", Request("ec2:AssociateAddress", arn("ec2", ADDRESS), own)),
        Call(f"{act} fix", Request("ec2:AssociateAddress", arn("ec2", INTERFACE))),
        Call(
            f"{act} complete",
            Request(
                "autoscaling:CompleteLifecycleAction",
                arn.group(names.aws_name(topo, gateway.name)),
                own,
            ),
        ),
    ]
    for table in (t for t in intent.design.route_tables if t.vpc == gateway.vpc):
        tags = _tagged(topo, table.name, **{names.VPC_TAG: table.vpc})
        found += [
            Call(f"{act} route", Request(a, arn("ec2", TABLE), tags))
            for a in ("ec2:ReplaceRoute", "ec2:CreateRoute")
        ]
    group = f"log-group:/aws/lambda/{names.hook_function(topo)}"
    runtime = "the Lambda runtime (function logs)"
    found += [
        Call(runtime, Request("logs:CreateLogGroup", arn("logs", f"{group}:*"))),
        Call(runtime, Request("logs:CreateLogStream", arn("logs", f"{group}:log-stream:s"))),
        Call(runtime, Request("logs:PutLogEvents", arn("logs", f"{group}:log-stream:s"))),
    ]
    return found


def hook_refusals(intent: Intent, account: str, account_id: str) -> tuple[Call, ...]:
    """What the hook's role must not be able to do: other topologies' objects."""
    partition = PARTITIONS[intent.partitions[account]]
    region = next(g.region for g in intent.design.gateways if g.account == account)
    arn = _Arns(partition, region, account_id)
    other = f"{intent.topology}-x"
    theirs = _tagged(other, "gw-a")
    return (
        Call("another topology's routes", Request("ec2:ReplaceRoute", arn("ec2", TABLE), theirs)),
        Call("another topology's instance", Request("ec2:ModifyInstanceAttribute", arn("ec2", INSTANCE), theirs)),
        Call("another topology's group", Request("autoscaling:CompleteLifecycleAction", arn.group(names.aws_name(other, "gw-a")), theirs)),
        Call("an untagged instance", Request("ec2:ModifyInstanceAttribute", arn("ec2", INSTANCE))),
        Call("another table", Request("dynamodb:PutItem", arn("dynamodb", "table/orders"))),
        Call("another function's logs", Request("logs:PutLogEvents", arn("logs", "log-group:/aws/lambda/x:log-stream:s"))),
    )  # fmt: skip


# ------------------------------------------------------------------ the proof


def proof(policy: str, calls: tuple[Call, ...], refusals: tuple[Call, ...] = ()) -> list[str]:
    """What is wrong with ``policy`` for these calls: a call it denies, a refusal it allows, an
    (action, resource) it grants that no call uses. Empty when the policy is exactly right."""
    found = iameval.statements(policy)
    wrong = [
        f"denies {c.request} ({c.caller})" for c in calls if not iameval.decide(found, c.request)
    ]
    wrong += [
        f"allows {c.request} ({c.caller})" for c in refusals if iameval.decide(found, c.request)
    ]
    for s in (s for s in found if s.effect == "Allow"):
        for action in s.actions:
            for resource in s.resources:
                one = dataclasses.replace(s, actions=(action,), resources=(resource,))
                if not any(iameval.matches(one, c.request) for c in calls):
                    wrong.append(
                        f"statement {s.sid} grants {action} on {resource}: nothing calls it"
                    )
    return wrong
