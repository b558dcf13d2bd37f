"""Partition facts: service principals as AWS, the CDK and Terraform give them."""

from __future__ import annotations

import json

import pytest

from vpnctl.aws.hooks import trust
from vpnctl.aws.intent import trust_policy
from vpnctl.partitions import PARTITIONS, partition_of_region

# Written out, not computed: the test states the facts partitions.py cites.
EXPECTED = {
    ("aws", "ec2"): "ec2.amazonaws.com",
    ("aws", "lambda"): "lambda.amazonaws.com",
    ("aws", "events"): "events.amazonaws.com",
    ("aws-cn", "ec2"): "ec2.amazonaws.com",
    ("aws-cn", "lambda"): "lambda.amazonaws.com",
    ("aws-cn", "events"): "events.amazonaws.com",
    ("aws-cn", "autoscaling"): "autoscaling.amazonaws.com",
    ("aws-cn", "ssm"): "ssm.amazonaws.com",
    ("aws-cn", "monitoring"): "monitoring.amazonaws.com",
    ("aws-us-gov", "ec2"): "ec2.amazonaws.com",
    ("aws-us-gov", "lambda"): "lambda.amazonaws.com",
    ("aws-us-gov", "events"): "events.amazonaws.com",
}


@pytest.mark.parametrize(("partition", "service"), sorted(EXPECTED))
def test_service_principal(partition: str, service: str) -> None:
    assert PARTITIONS[partition].service_principal(service) == EXPECTED[partition, service]


def test_no_china_principal_for_the_services_vpnctl_uses() -> None:
    for service in ("ec2", "lambda", "events", "autoscaling", "ssm", "monitoring"):
        assert not PARTITIONS["aws-cn"].service_principal(service).endswith(".cn")


def test_an_unknown_service_is_refused_not_guessed() -> None:
    with pytest.raises(KeyError):
        PARTITIONS["aws-cn"].service_principal("codedeploy")


@pytest.mark.parametrize("partition", sorted(PARTITIONS))
def test_trust_policies_name_the_partition_principal(partition: str) -> None:
    ec2 = json.loads(trust_policy(partition))["Statement"][0]["Principal"]["Service"]
    hook = json.loads(trust(partition))["Statement"][0]["Principal"]["Service"]
    assert (ec2, hook) == ("ec2.amazonaws.com", "lambda.amazonaws.com")


def test_arn_prefix_and_region() -> None:
    china = PARTITIONS["aws-cn"]
    assert china.arn("ec2", "cn-north-1", "123456789012", "instance/*") == (
        "arn:aws-cn:ec2:cn-north-1:123456789012:instance/*"
    )
    assert partition_of_region("cn-northwest-1") == "aws-cn"
    assert partition_of_region("us-gov-west-1") == "aws-us-gov"
    assert partition_of_region("mars-1") is None
