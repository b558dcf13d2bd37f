"""The largest page each list or describe read may ask for, and the read that follows every page.

Every paginated read names its page size: AWS then returns full pages, and an emulator that
pages only when asked (moto gives at most 15 launch templates per describe, and no
``NextToken``, unless ``MaxResults`` is given) agrees with AWS instead of hiding the rest.
An operation missing from the table is a ``KeyError`` the first time it is read, so a new read
cannot silently fall back to a service default.

The limits are the APIs' own, from the AWS API reference of each operation (the request
parameter named in the comment), and the botocore models where they carry a min/max:
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vpnctl.aws.session import Client

PAGE_SIZES: Mapping[tuple[str, str], int] = {
    # Amazon EC2 API Reference, MaxResults of each action:
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcs.html (5-1000)
    ("ec2", "describe_vpcs"): 1000,
    # .../API_DescribeSubnets.html (5-1000)
    ("ec2", "describe_subnets"): 1000,
    # .../API_DescribeInternetGateways.html (5-1000)
    ("ec2", "describe_internet_gateways"): 1000,
    # .../API_DescribeRouteTables.html (5-100)
    ("ec2", "describe_route_tables"): 100,
    # .../API_DescribeSecurityGroups.html (5-1000)
    ("ec2", "describe_security_groups"): 1000,
    # .../API_DescribeLaunchTemplates.html ("between 1 and 200")
    ("ec2", "describe_launch_templates"): 200,
    # .../API_DescribeInstances.html ("between 5 and 1000")
    ("ec2", "describe_instances"): 1000,
    # .../API_DescribeImages.html ("between 1 and 1000")
    ("ec2", "describe_images"): 1000,
    # Amazon EC2 Auto Scaling API Reference, API_DescribeAutoScalingGroups.html, MaxRecords:
    # "The default value is 50 and the maximum value is 100."
    ("autoscaling", "describe_auto_scaling_groups"): 100,
    # AWS Systems Manager API Reference, API_DescribeParameters.html, MaxResults (1-50)
    ("ssm", "describe_parameters"): 50,
    # IAM API Reference, API_GetAccountAuthorizationDetails.html, MaxItems (1-1000)
    ("iam", "get_account_authorization_details"): 1000,
    # Amazon S3 API Reference, API_ListObjectsV2.html, MaxKeys: "up to 1,000 key names"
    ("s3", "list_objects_v2"): 1000,
    # Route 53 API Reference, API_ListResourceRecordSets.html, maxitems: "If you specify a
    # value greater than 300, Route 53 returns only the first 300 records."
    ("route53", "list_resource_record_sets"): 300,
    # Amazon EventBridge API Reference, API_ListRules.html, Limit (1-100)
    ("events", "list_rules"): 100,
    # Amazon CloudWatch API Reference, API_DescribeAlarms.html, MaxRecords (1-100)
    ("cloudwatch", "describe_alarms"): 100,
}


def page_size(client: Client, operation: str) -> int:
    return PAGE_SIZES[(client.meta.service_model.service_name, operation)]


def items(client: Client, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item under ``key`` of every page, each page as large as the API allows."""
    config = {"PageSize": page_size(client, operation)}
    pages = client.get_paginator(operation).paginate(**kwargs, PaginationConfig=config)
    return [i for page in pages for i in page.get(key, [])]
