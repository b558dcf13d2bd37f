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
    service_principal_suffix: str  # "amazonaws.com" or "amazonaws.com.cn"
    global_region: str = "us-east-1"  # where the partition's global services (IAM, Route53) answer
    ubuntu_owner: str = "099720109477"  # Canonical's image-owning account in this partition

    def service_principal(self, service: str) -> str:
        return f"{service}.{self.service_principal_suffix}"

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
            service_principal_suffix="amazonaws.com",
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
            service_principal_suffix="amazonaws.com.cn",
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
            service_principal_suffix="amazonaws.com",
            global_region="us-gov-west-1",
            ubuntu_owner="513442679011",
        ),
    }
)


def partition_of_region(region: str) -> str | None:
    for partition in PARTITIONS.values():
        if region in partition.regions:
            return partition.name
    return None
