"""``observe``: read everything the topology touches, once, into a frozen ``Live``.

One read pass per account and region, regions in parallel. Reads are batched by filter (every
VPC of a region in one ``DescribeSubnets``, everything tagged with the topology in one call per
kind), so the number of calls per account and region stays the same however many VPCs there
are. IAM is read once per account, the zone once; the artifact store three calls per account
and region, after its account (the bucket is named by the account id). Secrets are never read:
SSM is asked for parameter names and descriptions only (a description records the key version,
see ``keyversions``). The journal of an unfinished ``keys rotate`` is read once.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from vpnctl.aws import hookactions, journal, keyversions, pages, store
from vpnctl.aws import live as lv
from vpnctl.aws import names as nm
from vpnctl.aws.retry import Retry
from vpnctl.aws.scope import Scope
from vpnctl.aws.session import Client, Sessions, aws_errors, error_code
from vpnctl.errors import AwsError
from vpnctl.health_contract import READY_TAG
from vpnctl.images import IMAGES


def observe(sessions: Sessions, scope: Scope, retry: Retry) -> lv.Live:
    reader = _Reader(sessions, scope, retry)
    with ThreadPoolExecutor(max_workers=max(4, len(scope.regions) + 2)) as pool:
        regions = {k: pool.submit(reader.region, *k) for k in scope.regions}
        accounts = {a: pool.submit(reader.account, a) for a in scope.accounts}
        zone = pool.submit(reader.zone)
        hooks = {k: pool.submit(hookactions.read, sessions, k, scope, retry) for k in scope.regions}
        read = {a: f.result() for a, f in accounts.items()}
        stores = {  # the bucket's name holds the account id: read once the account is
            k: pool.submit(reader.store, *k, read[k[0]].account_id)
            for k in scope.regions
            if k[0] in read
        }
        rotation = pool.submit(reader.rotation)
        return lv.Live(
            scope.topology,
            {k: f.result() for k, f in regions.items()},
            read,
            zone.result(),
            {k: f.result() for k, f in hooks.items()},
            {k: f.result() for k, f in stores.items()},
            rotation=rotation.result(),
        )


def tags(item: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", item.get("TagSet", [])) or []}


@dataclass(frozen=True)
class _Reader:
    sessions: Sessions
    scope: Scope
    retry: Retry

    def owned(self, item: Mapping[str, Any]) -> tuple[str | None, bool]:
        found = tags(item)
        mine = found.get(nm.TOPOLOGY_TAG) == self.scope.topology
        return (found.get(nm.NAME_TAG) if mine else None), mine

    def mine(self) -> list[dict[str, Any]]:
        return [{"Name": f"tag:{nm.TOPOLOGY_TAG}", "Values": [self.scope.topology]}]

    def pages(
        self, client: Client, operation: str, key: str, where: tuple[str, str], **kwargs: Any
    ) -> list[dict[str, Any]]:
        account, region = where
        with aws_errors(account, region, f"{operation} (reading what exists)"):
            if not client.can_paginate(operation):
                return list(self.retry.call(lambda: getattr(client, operation)(**kwargs))[key])
            return self.retry.call(lambda: pages.items(client, operation, key, **kwargs))

    # ------------------------------------------------------------------ one region

    def region(self, account: str, region: str) -> lv.Region:
        ec2 = self.sessions.client(account, region, "ec2")
        at = (account, region)
        vpcs = self.vpcs(ec2, at)
        ids = [v.id for v in vpcs]
        by_vpc = [{"Name": "vpc-id", "Values": ids}]
        parameters = self.parameters(at)
        return lv.Region(
            account,
            region,
            vpcs=tuple(vpcs),
            subnets=tuple(self.subnets(ec2, at, by_vpc)) if ids else (),
            internet_gateways=tuple(self.internet_gateways(ec2, at)),
            route_tables=tuple(self.route_tables(ec2, at, by_vpc)) if ids else (),
            security_groups=tuple(self.security_groups(ec2, at, by_vpc)) if ids else (),
            addresses=tuple(self.addresses(ec2, at)),
            launch_templates=tuple(self.launch_templates(ec2, at)),
            groups=tuple(self.groups(at)),
            instances=tuple(self.instances(ec2, at)),
            parameters=frozenset(parameters),
            key_versions={n: keyversions.parse(d) for n, d in parameters.items()},
            image_id=self.image(ec2, at),
        )

    def vpcs(self, ec2: Client, at: tuple[str, str]) -> list[lv.Vpc]:
        found = self.pages(ec2, "describe_vpcs", "Vpcs", at, Filters=self.mine())
        adopted = self.scope.regions[at]
        if adopted:
            by_id = [{"Name": "vpc-id", "Values": list(adopted)}]
            found += self.pages(ec2, "describe_vpcs", "Vpcs", at, Filters=by_id)
        unique = {v["VpcId"]: v for v in found}
        return [lv.Vpc(v["VpcId"], v["CidrBlock"], *self.owned(v)) for v in unique.values()]

    def subnets(self, ec2: Client, at: tuple[str, str], by_vpc: Any) -> Iterator[lv.Subnet]:
        for s in self.pages(ec2, "describe_subnets", "Subnets", at, Filters=by_vpc):
            yield lv.Subnet(
                s["SubnetId"], s["VpcId"], s["CidrBlock"], s["AvailabilityZone"], *self.owned(s)
            )

    def internet_gateways(self, ec2: Client, at: tuple[str, str]) -> Iterator[lv.InternetGateway]:
        found = self.pages(
            ec2, "describe_internet_gateways", "InternetGateways", at, Filters=self.mine()
        )
        adopted = self.scope.regions[at]
        if adopted:
            attached = [{"Name": "attachment.vpc-id", "Values": list(adopted)}]
            found += self.pages(
                ec2, "describe_internet_gateways", "InternetGateways", at, Filters=attached
            )
        for g in {g["InternetGatewayId"]: g for g in found}.values():
            vpc = next((a["VpcId"] for a in g.get("Attachments", []) if a.get("VpcId")), None)
            yield lv.InternetGateway(g["InternetGatewayId"], vpc, *self.owned(g))

    def route_tables(
        self, ec2: Client, at: tuple[str, str], by_vpc: Any
    ) -> Iterator[lv.RouteTable]:
        for t in self.pages(ec2, "describe_route_tables", "RouteTables", at, Filters=by_vpc):
            associations = {
                a["SubnetId"]: a["RouteTableAssociationId"]
                for a in t.get("Associations", [])
                if a.get("SubnetId")
            }
            main = any(a.get("Main") for a in t.get("Associations", []))
            routes = tuple(r for r in map(_route, t.get("Routes", [])) if r is not None)
            yield lv.RouteTable(
                t["RouteTableId"], t["VpcId"], *self.owned(t), routes, associations, main
            )

    def security_groups(
        self, ec2: Client, at: tuple[str, str], by_vpc: Any
    ) -> Iterator[lv.SecurityGroup]:
        for g in self.pages(ec2, "describe_security_groups", "SecurityGroups", at, Filters=by_vpc):
            rules = frozenset(r for p in g.get("IpPermissions", []) for r in _rules(p))
            yield lv.SecurityGroup(g["GroupId"], g["VpcId"], *self.owned(g), rules)

    def addresses(self, ec2: Client, at: tuple[str, str]) -> Iterator[lv.Address]:
        for a in self.pages(ec2, "describe_addresses", "Addresses", at, Filters=self.mine()):
            yield lv.Address(
                a["AllocationId"],
                a["PublicIp"],
                self.owned(a)[0],
                a.get("AssociationId") or None,
                a.get("InstanceId") or None,
            )

    def launch_templates(self, ec2: Client, at: tuple[str, str]) -> Iterator[lv.LaunchTemplate]:
        found = self.pages(
            ec2, "describe_launch_templates", "LaunchTemplates", at, Filters=self.mine()
        )
        for t in found:
            yield lv.LaunchTemplate(
                t["LaunchTemplateId"],
                t["LaunchTemplateName"],
                self.owned(t)[0],
                tags(t).get(nm.DIGEST_TAG),
                tags(t).get(nm.BOOT_TAG),
            )

    def groups(self, at: tuple[str, str]) -> Iterator[lv.Group]:
        client = self.sessions.client(*at, "autoscaling")
        mine = [{"Name": f"tag:{nm.TOPOLOGY_TAG}", "Values": [self.scope.topology]}]
        found = self.pages(
            client, "describe_auto_scaling_groups", "AutoScalingGroups", at, Filters=mine
        )
        for g in found:
            template = (g.get("LaunchTemplate") or {}).get("LaunchTemplateName")
            subnets = tuple(s for s in (g.get("VPCZoneIdentifier") or "").split(",") if s)
            instances = tuple(i["InstanceId"] for i in g.get("Instances", []))
            name = self.owned(g)[0]
            drain = nm.DRAIN_TAG in tags(g)
            yield lv.Group(g["AutoScalingGroupName"], name, template, subnets, instances, drain)

    def instances(self, ec2: Client, at: tuple[str, str]) -> Iterator[lv.Instance]:
        states = [{"Name": "instance-state-name", "Values": list(nm.NOT_TERMINATED)}]
        found = self.pages(
            ec2, "describe_instances", "Reservations", at, Filters=self.mine() + states
        )
        for i in (i for r in found for i in r["Instances"]):
            eni: dict[str, Any] = next(iter(i.get("NetworkInterfaces", [])), {})
            yield lv.Instance(
                i["InstanceId"],
                self.owned(i)[0],
                i["State"]["Name"],
                eni.get("NetworkInterfaceId"),
                bool(i.get("SourceDestCheck", True)),
                i.get("SubnetId"),
                tags(i).get(READY_TAG),
                tags(i).get(nm.REPLACE_TAG),
            )

    def parameters(self, at: tuple[str, str]) -> dict[str, str | None]:
        """Name -> description of every SSM parameter of the topology here (never a value)."""
        ssm = self.sessions.client(*at, "ssm")
        mine = [{"Key": f"tag:{nm.TOPOLOGY_TAG}", "Values": [self.scope.topology]}]
        found = self.pages(ssm, "describe_parameters", "Parameters", at, ParameterFilters=mine)
        return {str(p["Name"]): p.get("Description") for p in found}

    def rotation(self) -> lv.Rotation | None:
        found = journal.Journal(
            self.sessions, self.scope.dns_account, self.scope.topology, self.retry
        ).read()
        return found.summary() if found else None

    def image(self, ec2: Client, at: tuple[str, str]) -> str | None:
        key = self.scope.images.get(at)
        # each image key's owner and name pattern come from the image table (plan refused
        # any key that is not in it, or not published in this partition)
        image = IMAGES.get(key) if key else None
        owner = image.owners.get(self.sessions.partition(at[0]).name) if image else None
        if image is None or owner is None:
            return None
        names = [{"Name": "name", "Values": [image.name]}]
        found = self.pages(ec2, "describe_images", "Images", at, Owners=[owner], Filters=names)
        if not found and self.sessions.emulated:
            # An emulator carries a few stock images only; any Ubuntu one stands in.
            stock = [{"Name": "name", "Values": ["ubuntu/images/*"]}]
            found = self.pages(ec2, "describe_images", "Images", at, Filters=stock)
        newest = max(found, key=lambda i: str(i.get("CreationDate", "")), default=None)
        return str(newest["ImageId"]) if newest else None

    # ------------------------------------------------------------------ the artifact store

    def store(self, account: str, region: str, account_id: str) -> lv.StoreLive:
        """Three reads: the bucket's policy (which says whether it exists), its public access
        block, the keys under the topology's prefix; then each gateway pointer found. Every call names the expected owner, so
        a bucket of that name in someone else's account is an error, never a place to write."""
        s3 = self.sessions.client(account, region, "s3")
        bucket = store.bucket_name(account_id, region)
        owner = {"Bucket": bucket, "ExpectedBucketOwner": account_id}
        with aws_errors(account, region, f"s3 bucket {bucket} (the artifact store)"):
            exists, policy = self.bucket_policy(s3, owner, account, region)
            if not exists:
                return lv.StoreLive(bucket)
            blocked = self.public_blocked(s3, owner)
            listed = self.pages(
                s3, "list_objects_v2", "Contents", (account, region),
                Prefix=store.prefix(self.scope.topology), **owner,
            )  # fmt: skip
            keys = frozenset(str(o["Key"]) for o in listed)
            pointers = {k: self.pointer(s3, owner, k) for k in sorted(keys) if store.is_pointer(k)}
        return lv.StoreLive(bucket, True, policy, blocked, keys, pointers)

    def pointer(self, s3: Client, owner: dict[str, str], key: str) -> str:
        """The configuration key a gateway's pointer names ("" if it is not a pointer)."""
        found = self.retry.call(lambda: s3.get_object(Key=key, **owner))
        try:
            return str(json.loads(found["Body"].read())["key"])
        except (ValueError, KeyError, TypeError):
            return ""

    def bucket_policy(
        self, s3: Client, owner: dict[str, str], account: str, region: str
    ) -> tuple[bool, str | None]:
        """Whether the bucket exists, and its policy as canonical JSON (None: it has none)."""
        try:
            found = self.retry.call(lambda: s3.get_bucket_policy(**owner))
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code == "NoSuchBucket":
                return False, None
            if code == "NoSuchBucketPolicy":
                return True, None
            if code in ("AccessDenied", "403"):
                raise AwsError(
                    account, region, f"s3 bucket {owner['Bucket']}",
                    "exists but is not readable as this account's (is the name taken by "
                    "another account, or do these credentials lack s3:GetBucketPolicy?)",
                ) from exc  # fmt: skip
            raise
        return True, lv.canonical_json(json.loads(found["Policy"]))

    def public_blocked(self, s3: Client, owner: dict[str, str]) -> bool:
        try:
            found = self.retry.call(lambda: s3.get_public_access_block(**owner))
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "NoSuchPublicAccessBlockConfiguration":
                return False
            raise
        settings = found["PublicAccessBlockConfiguration"]
        return all(settings.get(k) is True for k in store.PUBLIC_ACCESS_BLOCK)

    # ------------------------------------------------------------------ one account

    def account(self, account: str) -> lv.AccountLive:
        at = (account, self.sessions.partition(account).global_region)
        sts = self.sessions.client(*at, "sts")
        with aws_errors(*at, "caller identity (are the credentials valid?)"):
            identity = self.retry.call(sts.get_caller_identity)
        iam = self.sessions.global_client(account, "iam")
        details = self.pages(
            iam, "get_account_authorization_details", "RoleDetailList", at, Filter=["Role"]
        )
        path = f"/vpnctl/{self.scope.topology}/"
        roles = tuple(_role(r) for r in details if r.get("Path") == path)
        profiles: dict[str, tuple[str, ...]] = {}
        for role in details:
            for profile in role.get("InstanceProfileList", []):
                if profile.get("Path") == path:
                    names = tuple(r["RoleName"] for r in profile.get("Roles", []))
                    profiles[profile["InstanceProfileName"]] = names
        return lv.AccountLive(account, str(identity["Account"]), roles, profiles)

    # ------------------------------------------------------------------ the zone

    def zone(self) -> lv.Zone:
        account = self.scope.dns_account
        partition = self.sessions.partition(account)
        at = (account, partition.global_region)
        r53 = self.sessions.global_client(account, "route53")
        name = self.scope.zone.rstrip(".")
        with aws_errors(*at, f"hosted zone {name}"):
            found = self.retry.call(
                lambda: r53.list_hosted_zones_by_name(DNSName=name, MaxItems="10")
            )
        zone = next(
            (
                z
                for z in found.get("HostedZones", [])
                if z["Name"].rstrip(".") == name and not z.get("Config", {}).get("PrivateZone")
            ),
            None,
        )
        if zone is None:
            return lv.Zone(name, None)
        zone_id = zone["Id"].split("/")[-1]
        return self.zone_contents(r53, at, name, zone_id)

    def zone_contents(self, r53: Client, at: tuple[str, str], name: str, zone_id: str) -> lv.Zone:
        with aws_errors(*at, f"hosted zone {name} tags"):
            tagged = self.retry.call(
                lambda: r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)
            )
        owned = tags(tagged.get("ResourceTagSet", {})).get(nm.TOPOLOGY_TAG) == self.scope.topology
        sets = self.pages(
            r53, "list_resource_record_sets", "ResourceRecordSets", at, HostedZoneId=zone_id
        )
        records = tuple(_record(r) for r in sets)
        apex_ns = next((r for r in records if r.type == "NS" and r.name == name), None)
        servers = tuple(v.rstrip(".") for v in apex_ns.values) if apex_ns else ()
        return lv.Zone(name, zone_id, owned, servers, records)


def _route(route: Mapping[str, Any]) -> lv.Route | None:
    destination = route.get("DestinationCidrBlock")
    if destination is None:
        return None
    target = next(
        (
            str(route[k])
            for k in (
                "NetworkInterfaceId",
                "GatewayId",
                "NatGatewayId",
                "TransitGatewayId",
                "VpcPeeringConnectionId",
                "InstanceId",
            )
            if route.get(k)
        ),
        "",
    )
    return lv.Route(destination, target, route.get("State") == "blackhole")


def _rules(permission: Mapping[str, Any]) -> Iterator[lv.Rule]:
    protocol = str(permission.get("IpProtocol", "-1"))
    lo = int(permission.get("FromPort", -1))
    hi = int(permission.get("ToPort", -1))
    if protocol == "-1":
        lo = hi = -1
    for cidr in permission.get("IpRanges", []):
        yield lv.Rule(protocol, lo, hi, str(cidr["CidrIp"]))


def _policy_text(document: Any) -> str:
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    return lv.canonical_json(document)


def _role(role: Mapping[str, Any]) -> lv.Role:
    policies = role.get("RolePolicyList", [])
    policy = _policy_text(policies[0]["PolicyDocument"]) if policies else None
    profiles = tuple(p["InstanceProfileName"] for p in role.get("InstanceProfileList", []))
    return lv.Role(role["RoleName"], role["Arn"], True, policy, profiles)


def _record(record: Mapping[str, Any]) -> lv.Record:
    values = tuple(str(v["Value"]) for v in record.get("ResourceRecords", []))
    ttl = record.get("TTL")
    name = _unescape(str(record["Name"])).rstrip(".")
    return lv.Record(name, str(record["Type"]), ttl, values, "AliasTarget" in record)


def _unescape(name: str) -> str:
    return name.replace("\\052", "*")


Reader = Callable[[str, str], lv.Region]
