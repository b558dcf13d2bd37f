"""A hub past every page limit: 60 VPCs over four regions on a moto server.

moto returns at most 15 launch templates per describe (and no NextToken unless asked for a
page size), pages SSM parameters by 10 and Auto Scaling groups by 50; 60 VPCs give each region
30 gateways, launch templates, groups and alarms, and the account 120 roles. A read that
stopped at the first page would make the no-op apply create or change what it missed.
"""

from __future__ import annotations

from collections import Counter

from benchmarks.hubs import REGIONS, hub_topology
from tests.functional.conftest import Aws, fast
from vpnctl.aws.convergence import PHASE
from vpnctl.cli.apply import apply

VPCS = 60
GATEWAYS = 2 * VPCS  # two AZs each
LOCK = {"dynamodb:PutItem", "dynamodb:DeleteItem"}


def applied(aws: Aws, path: str) -> tuple[Counter[str], Counter[tuple[str, str, str]]]:
    """The calls by kind, and those of the wait for converged gateways by kind and region."""
    factory = fast()
    result = aws.run(apply, path, "--yes", factory=factory)
    assert result.exit_code == 0, result.output
    waited = Counter((c.service, c.operation, c.region) for c in factory.log.made_in(PHASE))
    return factory.log.by_kind(), waited


def mutating(calls: Counter[str]) -> Counter[str]:
    reads = ("Describe", "List", "Get")
    return Counter({k: n for k, n in calls.items() if not k.split(":")[1].startswith(reads)})


def test_a_no_op_apply_of_a_60_vpc_hub_only_reads(aws: Aws) -> None:
    path = str(aws.topology("scale60", hub_topology("scale60", VPCS)))
    first, waited = applied(aws, path)
    # the wait (no agent reports under moto) polls the instances only, one call a region a poll
    assert {(s, o) for s, o, _ in waited} == {("ec2", "DescribeInstances")}
    assert len({waited[("ec2", "DescribeInstances", r)] for r in REGIONS}) == 1
    # done once each: records in batches of 100 per zone, hooks with their groups
    assert first["route53:ChangeResourceRecordSets"] == -(-GATEWAYS // 100)
    assert first["autoscaling:CreateAutoScalingGroup"] == GATEWAYS
    assert first["autoscaling:PutLifecycleHook"] == 0
    assert first["autoscaling:CreateOrUpdateTags"] == 0
    # each end's key in its own region only: one piece per end of each spoke's two tunnels
    assert first["ssm:PutParameter"] == sum(parameters(aws)) == 2 * 2 * (VPCS - 1)

    again, waited = applied(aws, path)
    assert not waited  # nothing changed, so nothing to wait for
    assert set(mutating(again)) == LOCK, mutating(again)
    per_region = {  # one call per region: every object of the kind fits one largest page
        "ec2:DescribeLaunchTemplates",
        "ec2:DescribeInstances",
        "ec2:DescribeSubnets",
        "autoscaling:DescribeAutoScalingGroups",
        "monitoring:DescribeAlarms",
        "s3:ListObjectsV2",
    }
    # each current pointer is known from its listed ETag: no gateway's pointer is read
    assert again["s3:GetObject"] == 0, again["s3:GetObject"]
    assert {k: again[k] for k in per_region} == dict.fromkeys(per_region, len(REGIONS))
    # moto pages a tag-filtered DescribeParameters by 10 whatever the page size asked (AWS:
    # up to 50), a full last page still with a NextToken; every page is read, none twice
    counts = parameters(aws)
    pages_read = again["ssm:DescribeParameters"]
    assert sum(-(-n // 10) for n in counts) <= pages_read <= sum(n // 10 + 1 for n in counts)


def parameters(aws: Aws) -> list[int]:
    """The number of SSM parameters in each region."""
    found = []
    for region in REGIONS:
        ssm = aws.client("ssm", region)
        pages = ssm.get_paginator("describe_parameters").paginate()
        found.append(sum(len(p["Parameters"]) for p in pages))
    return found


def test_the_groups_carry_their_lifecycle_hooks_from_creation(aws: Aws) -> None:
    path = str(aws.topology("scale4", hub_topology("scale4", 4)))
    applied(aws, path)
    for region in REGIONS:
        asg = aws.client("autoscaling", region)
        groups = asg.describe_auto_scaling_groups()["AutoScalingGroups"]
        assert len(groups) == 2
        for group in groups:
            name = group["AutoScalingGroupName"]
            hooks = asg.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]
            assert [h["LifecycleHookName"] for h in hooks] == ["vpnctl-drain"]
            assert hooks[0]["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
            tags = {t["Key"]: t["Value"] for t in group["Tags"]}
            assert tags["vpnctl:drain-hook"] == "vpnctl-drain"
