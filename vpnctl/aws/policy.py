"""The least-privilege inline policy of one gateway's instance role. Pure.

A gateway may read its own keys (by exact SSM name), associate its own Elastic IP with itself,
turn off its own source/destination check, and replace routes in its own VPC's vpnctl route
tables. "Its own" is said with tags vpnctl put on those objects at creation
(``vpnctl:topology``, ``vpnctl:name``, ``vpnctl:vpc``), so the policy is known before any of
them exists. Describe calls cannot be scoped by resource in EC2, so they are allowed on ``*``.
It may read exactly two objects of its region's artifact bucket: the vpnctl software and its
own configuration (``vpnctl.aws.store``).
"""

from __future__ import annotations

from typing import Any

from vpnctl.aws import store
from vpnctl.aws.intent import Intent
from vpnctl.aws.live import NAME_TAG, TOPOLOGY_TAG, canonical_json
from vpnctl.design import Gateway
from vpnctl.partitions import PARTITIONS

VPC_TAG = "vpnctl:vpc"


def gateway_policy(intent: Intent, gateway: Gateway, account_id: str) -> str:
    partition = PARTITIONS[gateway.partition]
    region = gateway.region

    def arn(service: str, resource: str) -> str:
        return partition.arn(service, region, account_id, resource)

    own = {f"aws:ResourceTag/{TOPOLOGY_TAG}": intent.topology}
    keys = [arn("ssm", f"parameter{n}") for n in intent.gateway_parameters(gateway.name)]
    statements = [
        {
            "Sid": "ReadOwnKeys",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters"],  # boot reads them in one call
            "Resource": keys,
        },
        {
            "Sid": "Describe",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeAddresses",
                "ec2:DescribeInstances",
                "ec2:DescribeRouteTables",
            ],
            "Resource": "*",
        },
        {
            "Sid": "OwnAddressAndInstance",
            "Effect": "Allow",
            "Action": ["ec2:AssociateAddress", "ec2:ModifyInstanceAttribute"],
            "Resource": [arn("ec2", "elastic-ip/*"), arn("ec2", "instance/*")],
            "Condition": {
                "StringEquals": {**own, f"aws:ResourceTag/{NAME_TAG}": gateway.name},
            },
        },
        {
            "Sid": "OwnNetworkInterface",
            "Effect": "Allow",
            "Action": "ec2:AssociateAddress",
            "Resource": arn("ec2", "network-interface/*"),
        },
        {
            "Sid": "OwnVpcRoutes",
            "Effect": "Allow",
            "Action": "ec2:ReplaceRoute",
            "Resource": arn("ec2", "route-table/*"),
            "Condition": {"StringEquals": {**own, f"aws:ResourceTag/{VPC_TAG}": gateway.vpc}},
        },
    ]
    statements.append(
        {
            # the SSM agent's own channel: `vpnctl keys rotate` asks the gateway to fetch its
            # new keys and restart one tunnel through it (what AmazonSSMManagedInstanceCore
            # grants, without its parameter and document access)
            "Sid": "SsmAgent",
            "Effect": "Allow",
            "Action": [
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
            ],
            "Resource": "*",
        }
    )
    statements += _artifact_reads(intent, gateway, account_id)
    if not keys:
        statements = statements[1:]
    return canonical_json({"Version": "2012-10-17", "Statement": statements})


def _artifact_reads(intent: Intent, gateway: Gateway, account_id: str) -> list[dict[str, Any]]:
    """s3:GetObject on exactly the two objects boot fetches: the software and its own config."""
    blobs = intent.gateway_blobs(gateway.name)
    if not blobs:
        return []
    bucket = store.bucket_name(account_id, gateway.region)
    objects = [store.object_arn(gateway.partition, bucket, b.key) for b in blobs]
    return [{"Sid": "ReadOwnArtifacts", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": objects}]  # fmt: skip
