"""The one door to AWS: a typed method per operation vpnctl uses.

    door = Door(BotoWire(sessions, retry))
    at = door.at(account, region, "vpc hub")     # what errors will name
    vpc_id = at.ec2.create_vpc("10.0.0.0/16", tags)

A method owns what AWS makes each caller repeat: retries (``retry``, in the wire), every page
of a list at the page size of ``pages``, the error codes that mean "done already" (a duplicate,
a not-found on delete), the shape each service wants its tags in, and the translation of every
other refusal into an ``AwsError`` naming account, region and resource (``base``). Results are
small typed values, or AWS's own dicts where a snapshot type (``vpnctl.aws.live``) reads them.

Methods are grouped by service: ``ec2``, ``route53``, ``iam`` (and STS), ``ssm``, ``s3``,
``autoscaling``, ``dynamodb``, ``functions`` (Lambda, EventBridge, CloudWatch). A new operation
is a method there, and an answer for it in ``vpnctl.aws.fakedoor``, the in-memory wire unit
tests run the door on. ``wire`` holds the one place where botocore's exceptions are caught.
"""

from __future__ import annotations

from dataclasses import dataclass

from vpnctl.aws.door.autoscaling import AutoScaling
from vpnctl.aws.door.base import Where
from vpnctl.aws.door.dynamodb import DynamoDb
from vpnctl.aws.door.ec2 import Ec2
from vpnctl.aws.door.functions import CloudWatch, Events, Lambda
from vpnctl.aws.door.iam import Iam, Sts
from vpnctl.aws.door.route53 import Route53
from vpnctl.aws.door.s3 import S3
from vpnctl.aws.door.ssm import Ssm
from vpnctl.aws.door.wire import BotoWire, Refusal, Request, Wire
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions

__all__ = ["At", "BotoWire", "Door", "Refusal", "Request", "Where", "Wire"]


@dataclass(frozen=True)
class At:
    """Every service in one account and region, for work on one resource."""

    wire: Wire
    where: Where

    @property
    def ec2(self) -> Ec2:
        return Ec2(self.wire, self.where)

    @property
    def route53(self) -> Route53:
        return Route53(self.wire, self.where)

    @property
    def iam(self) -> Iam:
        return Iam(self.wire, self.where)

    @property
    def sts(self) -> Sts:
        return Sts(self.wire, self.where)

    @property
    def ssm(self) -> Ssm:
        return Ssm(self.wire, self.where)

    @property
    def s3(self) -> S3:
        return S3(self.wire, self.where)

    @property
    def autoscaling(self) -> AutoScaling:
        return AutoScaling(self.wire, self.where)

    @property
    def dynamodb(self) -> DynamoDb:
        return DynamoDb(self.wire, self.where)

    @property
    def functions(self) -> Lambda:
        return Lambda(self.wire, self.where)

    @property
    def events(self) -> Events:
        return Events(self.wire, self.where)

    @property
    def cloudwatch(self) -> CloudWatch:
        return CloudWatch(self.wire, self.where)


@dataclass(frozen=True)
class Door:
    wire: Wire

    @classmethod
    def of(cls, sessions: Sessions, retry: Retry) -> Door:
        return cls(BotoWire(sessions, retry))

    def at(self, account: str, region: str, resource: str) -> At:
        return At(self.wire, Where(account, region, resource))

    def home(self, account: str, resource: str) -> At:
        """Where IAM and Route 53 of the account's partition answer."""
        return self.at(account, self.wire.global_region(account), resource)
