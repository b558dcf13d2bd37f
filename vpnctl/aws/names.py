"""Every name vpnctl gives an AWS object, the tags it puts on them, and the EC2 state sets it
reads: one table, used by apply, sweep, status, rotation and the failover hook. Pure.

Apply makes objects the hook finds again by name or tag; two copies of a name that drift apart
make the hook ignore its own objects without an error, so there is one copy, here.

A derived name longer than its service allows is never cut silently (two gateways of one VPC
would share a role and a group): ``fit`` keeps the head and puts a short stable hash of the whole
name in place of the tail, so the name stays unique, stays the same from one run to the next
and keeps its ``<topology>-`` prefix (the hook's rule patterns and IAM ARNs match on it).
``vpnctl.limits`` checks at plan time that every name fits and none repeats.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType

# ------------------------------------------------------------------ tags

TOPOLOGY_TAG = "vpnctl:topology"  # on everything vpnctl makes: what it may change and sweep
NAME_TAG = "vpnctl:name"  # the design's name of the object ("gw-east-a", "rt-east-a")
VPC_TAG = "vpnctl:vpc"  # on route tables: which VPC's routes a gateway may replace
DIGEST_TAG = "vpnctl:digest"  # on launch templates: what the template was made from
REPLACE_TAG = "vpnctl:replace"  # on an instance apply is replacing (``replace``): why
BOOT_TAG = "vpnctl:boot"  # on launch templates: the same, its configuration pin aside
DRAIN_TAG = "vpnctl:drain-hook"  # on a group once the hook's lifecycle hook is on it
PURPOSE_TAG = "vpnctl:purpose"  # on the lock table

# ------------------------------------------------------------------ EC2 instance states

PENDING = "pending"
RUNNING = "running"
STOPPING = "stopping"
STOPPED = "stopped"
SHUTTING_DOWN = "shutting-down"
TERMINATED = "terminated"

# best first: which of a gateway's instances the hook and status take as the gateway
STATE_RANK = (RUNNING, PENDING, STOPPING, STOPPED, SHUTTING_DOWN, TERMINATED)
LIVE_STATES = (PENDING, RUNNING)  # an instance that is, or is about to be, the gateway
GONE_STATES = frozenset({STOPPING, STOPPED, SHUTTING_DOWN, TERMINATED})  # forwards no more
NOT_TERMINATED = (PENDING, RUNNING, STOPPING, STOPPED, SHUTTING_DOWN)  # what observe reads
# what the hook's EC2 rule listens for: an instance going away, and one coming back to running
# (a stopped gateway started again by hand); kept in this order, the rule's digest depends on it
HOOK_RULE_STATES = (STOPPING, STOPPED, SHUTTING_DOWN, TERMINATED, RUNNING)

# ------------------------------------------------------------------ service limits

# Name length limits, from each service's API reference / quotas page:
# - IAM: role 64, instance profile 128, policy name 128, path 512 (IAM User Guide, "IAM and
#   AWS STS quotas", reference_iam-quotas); names are unique per account, case-insensitively.
# - EC2: security group name 255 (CreateSecurityGroup, GroupName); launch template name 3-128
#   (CreateLaunchTemplate, LaunchTemplateName).
# - Auto Scaling: group name 1-255 (CreateAutoScalingGroup, AutoScalingGroupName).
# - Lambda: function name 1-64 (CreateFunction, FunctionName, name alone).
# - EventBridge: rule name 1-64 (PutRule, Name).
# - CloudWatch: alarm name 1-255 (PutMetricAlarm, AlarmName).
# - SSM: parameter name 1-1011 including its ARN prefix, at most 15 levels (PutParameter, Name;
#   "Requirements and constraints for parameter names").
# - DynamoDB: table name 3-255 (CreateTable, TableName).
# - S3: bucket name 3-63, lowercase letters, digits, dots and hyphens (Bucket naming rules).
# Tags (EC2, Auto Scaling, IAM, Lambda, EventBridge, CloudWatch alike): key 1-128, value 0-256,
# at most 50 user tags per resource ("Tag naming limits and requirements", Tagging AWS
# resources user guide).
LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "iam role": 64,
        "iam instance profile": 128,
        "iam policy name": 128,
        "iam path": 512,
        "security group": 255,
        "launch template": 128,
        "auto scaling group": 255,
        "lambda function": 64,
        "eventbridge rule": 64,
        "cloudwatch alarm": 255,
        "ssm parameter": 1011,
        "dynamodb table": 255,
        "s3 bucket": 63,
    }
)
SSM_LEVELS = 15
TAG_KEY = 128
TAG_VALUE = 256
TAGS_PER_RESOURCE = 50
AWS_NAME = 64  # the strictest limit of what ``aws_name`` names (an IAM role)
HASH = 8  # hex digits of the hash ``fit`` puts in place of a tail


def fit(name: str, limit: int) -> str:
    """``name`` if it fits; else its head, ``-`` and a stable hash of the whole name."""
    if len(name) <= limit:
        return name
    tail = hashlib.sha256(name.encode()).hexdigest()[:HASH]
    return f"{name[: limit - HASH - 1].rstrip('-')}-{tail}"


# ------------------------------------------------------------------ names


def aws_name(topology: str, name: str) -> str:
    """What AWS shows for a design object (role, instance profile, launch template, group,
    security group, Name tag): the design name under the topology's prefix."""
    return fit(f"{topology}-{name}", AWS_NAME)


def gateway_group(gateway: str) -> str:
    """The design name of a gateway's security group."""
    return f"sg-{gateway}"


def routing_group(vpc: str) -> str:
    return f"sg-{vpc}-routing"


def subnet(vpc: str, role: str, az: str) -> str:
    return f"{vpc}-{role}-{az}"


def public_table(vpc: str) -> str:
    return f"rt-{vpc}-public"


def iam_path(topology: str) -> str:
    return f"/vpnctl/{topology}/"


GATEWAY_POLICY = "vpnctl-gateway"  # the one inline policy of every role vpnctl makes


def hook_function(topology: str) -> str:
    return fit(f"vpnctl-{topology}-failover", LIMITS["lambda function"])


def hook_role(topology: str) -> str:
    return fit(f"{topology}-failover-hook", LIMITS["iam role"])


def hook_rule_prefix(topology: str) -> str:
    return f"vpnctl-{topology}-failover-"


HOOK_RULES = ("ec2", "autoscaling", "alarms", "reconcile")


def hook_rule(topology: str, kind: str) -> str:
    return f"{hook_rule_prefix(topology)}{kind}"


def alarm_prefix(topology: str) -> str:
    return f"vpnctl-{topology}-"


def alarm(topology: str, gateway: str) -> str:
    return f"{alarm_prefix(topology)}{gateway}"


LIFECYCLE_HOOK = "vpnctl-drain"
LOCK_TABLE = "vpnctl-locks"
METRIC_NAMESPACE = "vpnctl"  # where gateways publish probe figures and alarms read them


def tags(topology: str, name: str, **extra: str) -> dict[str, str]:
    """The tags vpnctl puts on an object: owner, design name, the name AWS shows."""
    return {TOPOLOGY_TAG: topology, NAME_TAG: name, "Name": aws_name(topology, name), **extra}
