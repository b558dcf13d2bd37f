"""The least-privilege inline policy of one gateway's instance role. Pure.

Every statement is there for calls listed in ``vpnctl.aws.permissions`` (boot, the agent, the
SSM agent), and a test evaluates this document against that list for every example topology:
a call it does not allow, or an allowance nothing uses, fails it.

A gateway may read its own keys, associate its own Elastic IP with itself, turn off its own
source/destination check, mark its own instance unhealthy in its own Auto Scaling group, and
publish probe figures in vpnctl's CloudWatch namespace. Its agent (``vpnctl.agent.publish``)
also sends its UP/DOWN and ready events to its region's default event bus, as source
``vpnctl.agent`` with vpnctl's one detail type only, and sets the ``vpnctl:ready`` tag on its
own instance, and no other tag: it cannot rewrite the ``vpnctl:name`` that every "its own"
here rests on. "Its own" is said with names and with tags vpnctl puts on those objects at
creation (``vpnctl:topology``, ``vpnctl:name``), so the policy is known before any of them
exists. Describe calls cannot be scoped by resource in EC2, so they are allowed on ``*``
(``DescribeInstances``: the agent finds its siblings' addresses).
It may read, of its region's artifact bucket, the vpnctl software and its own gateway's folder:
its configurations and its pointer (``vpnctl.aws.store``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vpnctl import health_contract, keys
from vpnctl.aws import names, store
from vpnctl.aws.intent import Intent
from vpnctl.aws.live import canonical_json
from vpnctl.design import Gateway
from vpnctl.partitions import PARTITIONS

# What the SSM agent calls for Run Command (``vpnctl keys rotate``): the channel part of
# AmazonSSMManagedInstanceCore, without its parameter, document and association access.
SSM_AGENT = (
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
)


def key_parameters(intent: Intent, gateway: str) -> list[str]:
    """The SSM names (or name patterns) the gateway's role may read.

    One pattern, ``/vpnctl/<topology>/*/<gateway>/*``, for the keys of all its tunnels: every
    piece a gateway reads, the tunnel's shared key included, is stored under its own name
    (``vpnctl.keys``). The pattern matches only names with a ``/<gateway>/`` segment after the
    tunnel's (``*`` cannot stand for an empty tunnel name: names have no ``//``); the far end's
    copies sit under the far gateway's name. One pattern, whatever the tunnel count, keeps a hub
    gateway's policy far below IAM's size limit (one name per spoke passed it at ~100).
    """
    wanted = intent.gateway_parameters(gateway)
    own = f"/{gateway}/"
    found = [n for n in wanted if own not in n]
    if len(found) < len(wanted):
        found.append(f"{keys.parameter_prefix(intent.topology, '*')}/{gateway}/*")
    return found


def gateway_policy(intent: Intent, gateway: Gateway, account_id: str) -> str:
    partition = PARTITIONS[gateway.partition]
    region = gateway.region

    def arn(service: str, resource: str) -> str:
        return partition.arn(service, region, account_id, resource)

    topology = intent.topology
    own = {f"aws:ResourceTag/{names.TOPOLOGY_TAG}": topology}
    mine = {"StringEquals": {**own, f"aws:ResourceTag/{names.NAME_TAG}": gateway.name}}
    group = f"autoScalingGroup:*:autoScalingGroupName/{names.aws_name(topology, gateway.name)}"
    statements = [
        _allow(
            "ReadOwnKeys",
            "ssm:GetParameters",  # boot reads a tunnel's keys in one call
            [arn("ssm", f"parameter{n}") for n in key_parameters(intent, gateway.name)],
        ),
        _allow("FindOwnAddress", "ec2:DescribeAddresses", "*"),
        _allow(
            "OwnAddress",
            "ec2:AssociateAddress",
            [arn("ec2", "elastic-ip/*"), arn("ec2", "instance/*")],
            mine,
        ),
        # the instance's one network interface is a resource of AssociateAddress too (Service
        # Authorization Reference, EC2); apply does not tag the interfaces the group launches
        _allow("OwnInterface", "ec2:AssociateAddress", arn("ec2", "network-interface/*")),
        _allow("OwnSourceDestCheck", "ec2:ModifyInstanceAttribute", arn("ec2", "instance/*"), mine),
        _allow(
            "ReportUnhealthy",
            "autoscaling:SetInstanceHealth",  # boot.sh, when a step fails
            arn("autoscaling", group),
            {"StringEquals": own},
        ),
        # CloudWatch has no resource-level permission for PutMetricData: only "*", narrowed by
        # the cloudwatch:namespace condition key (CloudWatch User Guide, "Using condition keys to
        # limit access to CloudWatch namespaces")
        _allow(
            "PublishProbe",
            "cloudwatch:PutMetricData",
            "*",
            {"StringEquals": {"cloudwatch:namespace": names.METRIC_NAMESPACE}},
        ),
        *_agent_statements(arn, mine),
        _allow("SsmAgent", list(SSM_AGENT), "*"),
    ]
    statements += _artifact_reads(intent, gateway, account_id)
    if not intent.gateway_parameters(gateway.name):
        statements = statements[1:]
    return canonical_json({"Version": "2012-10-17", "Statement": statements})


def _agent_statements(arn: Callable[[str, str], str], mine: dict[str, Any]) -> list[Any]:
    """What the gateway agent calls beyond the figures: its events, its ready tag, its
    siblings' addresses."""
    tag_keys = {health_contract.READY_TAG}
    return [
        # EventBridge condition keys (EventBridge User Guide, "Using IAM policy conditions in
        # Amazon EventBridge"): events:source and events:detail-type are the entry's Source and
        # DetailType, so the role cannot send events as any other source, AWS's own included
        _allow(
            "AgentEvents",
            "events:PutEvents",
            arn("events", "event-bus/default"),
            {
                "StringEquals": {
                    "events:source": health_contract.EVENT_SOURCE,
                    "events:detail-type": health_contract.EVENT_DETAIL_TYPE,
                }
            },
        ),
        # aws:TagKeys is multivalued: ForAllValues holds when every key of the request is
        # vpnctl:ready, and also when there is none, which Null: false closes (IAM User Guide,
        # "Multivalued context key examples"); the resource tags say which instance
        _allow(
            "AgentReadyTag",
            "ec2:CreateTags",
            arn("ec2", "instance/*"),
            {
                **mine,
                "ForAllValues:StringEquals": {"aws:TagKeys": sorted(tag_keys)},
                "Null": {"aws:TagKeys": "false"},
            },
        ),
        _allow("AgentFindSiblings", "ec2:DescribeInstances", "*"),
    ]


def _artifact_reads(intent: Intent, gateway: Gateway, account_id: str) -> list[dict[str, Any]]:
    """s3:GetObject on the software boot fetches and on its own gateway's folder: the
    configuration boot fetches, its pointer and whatever configuration that names (an agent
    that follows the store reads them; ``vpnctl.agent.follow``). Nothing of another gateway:
    the folder is named by the gateway's name, and the bucket policy says the same."""
    blobs = intent.gateway_blobs(gateway.name)
    if not blobs:
        return []
    bucket = store.bucket_name(account_id, gateway.region)
    config = intent.configs.get(gateway.name)
    keys = [b.key for b in blobs if b is not config]
    keys += [store.gateway_folder(intent.topology, gateway.name)] if config is not None else []
    objects = [store.object_arn(gateway.partition, bucket, k) for k in keys]
    return [{"Sid": "ReadOwnArtifacts", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": objects}]  # fmt: skip


def _allow(
    sid: str, action: str | list[str], resource: str | list[str], condition: Any = None
) -> dict[str, Any]:
    """One Allow statement (the hook's policy builds its statements with this too)."""
    found: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
    return found | ({"Condition": condition} if condition else {})
