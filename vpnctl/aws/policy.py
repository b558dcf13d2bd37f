"""The least-privilege inline policy of one gateway's instance role. Pure.

Every statement is there for calls listed in ``vpnctl.aws.permissions`` (boot, the probe, the
SSM agent), and a test evaluates this document against that list for every example topology:
a call it does not allow, or an allowance nothing uses, fails it.

A gateway may read its own keys, associate its own Elastic IP with itself, turn off its own
source/destination check, mark its own instance unhealthy in its own Auto Scaling group, and
publish probe figures in vpnctl's CloudWatch namespace. "Its own" is said with names and with
tags vpnctl puts on those objects at creation (``vpnctl:topology``, ``vpnctl:name``), so the
policy is known before any of them exists. Describe calls cannot be scoped by resource in EC2,
so they are allowed on ``*``.
It may read, of its region's artifact bucket, the vpnctl software and its own gateway's folder:
its configurations and its pointer (``vpnctl.aws.store``).
"""

from __future__ import annotations

from typing import Any

from vpnctl import keys
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

    Each tunnel's shared key by its exact name; the gateway's own end keys of all its tunnels by
    one pattern, ``/vpnctl/<topology>/*/<gateway>/*``. The pattern matches only names with a
    ``/<gateway>/`` segment after the tunnel's (``*`` cannot stand for an empty tunnel name:
    names have no ``//``), and only a gateway's own end keys are stored under its name; the far
    end's keys of the same tunnel sit under the far gateway's name. One pattern instead of
    three names per tunnel keeps a hub gateway's policy far below IAM's size limit.
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
        _allow("SsmAgent", list(SSM_AGENT), "*"),
    ]
    statements += _artifact_reads(intent, gateway, account_id)
    if not intent.gateway_parameters(gateway.name):
        statements = statements[1:]
    return canonical_json({"Version": "2012-10-17", "Statement": statements})


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
