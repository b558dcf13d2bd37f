"""What differs between AWS partitions, as one table of data.

IAM, Transit Gateway peering and managed VPN do not cross partitions, and each partition has its
own ARN prefix, endpoints and gaps. Code asks this table (``PARTITIONS["aws-cn"].alias_records``)
instead of testing ``partition == "aws-cn"`` wherever a difference matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Partition:
    name: str
    arn_prefix: str  # "arn:aws-cn"
    dns_suffix: str  # endpoint suffix
    regions: frozenset[str]
    alias_records: bool  # Route53 alias records to this partition's resources
    nat_gateway_regions: frozenset[str]  # regions with managed NAT gateways
    route53: bool  # Route53 public hosted zones are offered here
    global_region: str = "us-east-1"  # where the partition's global services (IAM, Route53) answer
    ubuntu_owner: str = "099720109477"  # Canonical's image-owning account in this partition

    def service_principal(self, service: str) -> str:
        """The principal ``service`` acts as in this partition (trust policies, permissions).

        Only the services vpnctl trusts or grants are known; another is a KeyError, never a
        guess (a wrong principal is ``MalformedPolicyDocument: Invalid principal`` or, worse, a
        permission nobody ever uses)."""
        return SERVICE_PRINCIPALS[self.name][service]

    def arn(self, service: str, region: str, account: str, resource: str) -> str:
        return f"{self.arn_prefix}:{service}:{region}:{account}:{resource}"

    def has_nat_gateway(self, region: str) -> bool:
        return region in self.nat_gateway_regions


_AWS_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    }
)
_CN_REGIONS = frozenset({"cn-north-1", "cn-northwest-1"})
_GOV_REGIONS = frozenset({"us-gov-east-1", "us-gov-west-1"})

PARTITIONS: Mapping[str, Partition] = MappingProxyType(
    {
        "aws": Partition(
            name="aws",
            arn_prefix="arn:aws",
            dns_suffix="amazonaws.com",
            regions=_AWS_REGIONS,
            alias_records=True,
            nat_gateway_regions=_AWS_REGIONS,
            route53=True,
        ),
        "aws-cn": Partition(
            name="aws-cn",
            arn_prefix="arn:aws-cn",
            dns_suffix="amazonaws.com.cn",
            regions=_CN_REGIONS,
            # Route53 in China serves only private zones for most accounts (an ICP licence is
            # needed for public ones), and alias records cannot point across partitions.
            alias_records=False,
            nat_gateway_regions=_CN_REGIONS,
            route53=False,
            global_region="cn-north-1",
            ubuntu_owner="837727238323",
        ),
        "aws-us-gov": Partition(
            name="aws-us-gov",
            arn_prefix="arn:aws-us-gov",
            dns_suffix="amazonaws.com",
            regions=_GOV_REGIONS,
            alias_records=True,
            nat_gateway_regions=_GOV_REGIONS,
            route53=True,
            global_region="us-gov-west-1",
            ubuntu_owner="513442679011",
        ),
    }
)


# The service principals vpnctl uses, per partition. Sources:
# - AWS CDK, packages/aws-cdk-lib/region-info/lib/default.ts (``Default.servicePrincipal``):
#   "Service principals are now globally `<SERVICE>.amazonaws.com`"; the only China exceptions
#   left are codedeploy and logs (``<service>.<region>.amazonaws.com.cn``) and elasticmapreduce
#   (``elasticmapreduce.amazonaws.com.cn``). Older CDK releases listed ec2, lambda, events and
#   autoscaling as ``.amazonaws.com.cn`` in China; they were dropped from that list.
# - Terraform AWS provider, ``aws_service_principal`` data source
#   (``ServicePrincipalNameForPartition``): in aws-cn only codedeploy, elasticmapreduce and logs
#   take the ``amazonaws.com.cn`` suffix; every other service is ``<service>.amazonaws.com``;
#   GovCloud has no exception.
# - AWS docs, "AWS service principals" (IAM User Guide, reference_policies_elements_principal):
#   a service principal is ``<service>.amazonaws.com``; CloudWatch's is
#   ``monitoring.amazonaws.com``, EventBridge's ``events.amazonaws.com``, Systems Manager's
#   ``ssm.amazonaws.com``.
# So EventBridge in China invokes Lambda as ``events.amazonaws.com`` (the permission apply adds
# must name that), and EC2 and Lambda assume roles as ``ec2.amazonaws.com`` and
# ``lambda.amazonaws.com`` there too.
_UNIVERSAL = ("autoscaling", "ec2", "events", "lambda", "monitoring", "ssm")
SERVICE_PRINCIPALS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        partition: MappingProxyType({s: f"{s}.amazonaws.com" for s in _UNIVERSAL})
        for partition in ("aws", "aws-cn", "aws-us-gov")
    }
)


def partition_of_region(region: str) -> str | None:
    for partition in PARTITIONS.values():
        if region in partition.regions:
            return partition.name
    return None
