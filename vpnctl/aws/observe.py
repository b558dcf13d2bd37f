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

from vpnctl.aws import hookactions, journal, keyversions, store
from vpnctl.aws import live as lv
from vpnctl.aws import names as nm
from vpnctl.aws.door import At, BotoWire, Door, Wire
from vpnctl.aws.door.ec2 import Ec2
from vpnctl.aws.door.route53 import Route53
from vpnctl.aws.door.s3 import S3
from vpnctl.aws.retry import Retry
from vpnctl.aws.scope import Scope
from vpnctl.aws.session import Sessions
from vpnctl.health_contract import READY_TAG
from vpnctl.images import IMAGES


def observe(sessions: Sessions, scope: Scope, retry: Retry, wire: Wire | None = None) -> lv.Live:
    """``wire``: AWS in memory (``fakedoor``), else boto3 through ``sessions``."""
    door = Door(wire or BotoWire(sessions, retry))
    reader = _Reader(door, sessions, scope, retry)
    with ThreadPoolExecutor(max_workers=max(4, len(scope.regions) + 2)) as pool:
        regions = {k: pool.submit(reader.region, *k) for k in scope.regions}
        accounts = {a: pool.submit(reader.account, a) for a in scope.accounts}
        zone = pool.submit(reader.zone)
        hooks = {k: pool.submit(hookactions.read, door, k, scope) for k in scope.regions}
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
    door: Door
    sessions: Sessions  # partitions, and whether AWS is an emulator
    scope: Scope
    retry: Retry

    def owned(self, item: Mapping[str, Any]) -> tuple[str | None, bool]:
        found = tags(item)
        mine = found.get(nm.TOPOLOGY_TAG) == self.scope.topology
        return (found.get(nm.NAME_TAG) if mine else None), mine

    def mine(self) -> list[dict[str, Any]]:
        return [{"Name": f"tag:{nm.TOPOLOGY_TAG}", "Values": [self.scope.topology]}]

    def at(self, where: tuple[str, str], what: str) -> At:
        return self.door.at(*where, f"{what} (reading what exists)")

    # ------------------------------------------------------------------ one region

    def region(self, account: str, region: str) -> lv.Region:
        at = (account, region)
        ec2 = self.at(at, "ec2").ec2
        vpcs = self.vpcs(ec2, at)
        ids = [v.id for v in vpcs]
        by_vpc = [{"Name": "vpc-id", "Values": ids}]
        parameters = self.parameters(at)
        return lv.Region(
            account,
            region,
            vpcs=tuple(vpcs),
            subnets=tuple(self.subnets(ec2, by_vpc)) if ids else (),
            internet_gateways=tuple(self.internet_gateways(ec2, at)),
            route_tables=tuple(self.route_tables(ec2, by_vpc)) if ids else (),
            security_groups=tuple(self.security_groups(ec2, by_vpc)) if ids else (),
            addresses=tuple(self.addresses(ec2)),
            launch_templates=tuple(self.launch_templates(ec2)),
            groups=tuple(self.groups(at)),
            instances=tuple(self.instances(ec2)),
            parameters=frozenset(parameters),
            key_versions={n: keyversions.parse(d) for n, d in parameters.items()},
            image_id=self.image(ec2, at),
        )

    def vpcs(self, ec2: Ec2, at: tuple[str, str]) -> list[lv.Vpc]:
        found = ec2.vpcs(self.mine())
        adopted = self.scope.regions[at]
        if adopted:
            found += ec2.vpcs([{"Name": "vpc-id", "Values": list(adopted)}])
        unique = {v["VpcId"]: v for v in found}
        return [lv.Vpc(v["VpcId"], v["CidrBlock"], *self.owned(v)) for v in unique.values()]

    def subnets(self, ec2: Ec2, by_vpc: Any) -> Iterator[lv.Subnet]:
        for s in ec2.subnets(by_vpc):
            yield lv.Subnet(
                s["SubnetId"], s["VpcId"], s["CidrBlock"], s["AvailabilityZone"], *self.owned(s)
            )

    def internet_gateways(self, ec2: Ec2, at: tuple[str, str]) -> Iterator[lv.InternetGateway]:
        found = ec2.internet_gateways(self.mine())
        adopted = self.scope.regions[at]
        if adopted:
            found += ec2.internet_gateways([{"Name": "attachment.vpc-id", "Values": list(adopted)}])
        for g in {g["InternetGatewayId"]: g for g in found}.values():
            vpc = next((a["VpcId"] for a in g.get("Attachments", []) if a.get("VpcId")), None)
            yield lv.InternetGateway(g["InternetGatewayId"], vpc, *self.owned(g))

    def route_tables(self, ec2: Ec2, by_vpc: Any) -> Iterator[lv.RouteTable]:
        for t in ec2.route_tables(by_vpc):
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

    def security_groups(self, ec2: Ec2, by_vpc: Any) -> Iterator[lv.SecurityGroup]:
        for g in ec2.security_groups(by_vpc):
            rules = frozenset(r for p in g.get("IpPermissions", []) for r in _rules(p))
            yield lv.SecurityGroup(g["GroupId"], g["VpcId"], *self.owned(g), rules)

    def addresses(self, ec2: Ec2) -> Iterator[lv.Address]:
        for a in ec2.addresses(self.mine()):
            yield lv.Address(
                a["AllocationId"],
                a["PublicIp"],
                self.owned(a)[0],
                a.get("AssociationId") or None,
                a.get("InstanceId") or None,
            )

    def launch_templates(self, ec2: Ec2) -> Iterator[lv.LaunchTemplate]:
        for t in ec2.launch_templates(self.mine()):
            yield lv.LaunchTemplate(
                t["LaunchTemplateId"],
                t["LaunchTemplateName"],
                self.owned(t)[0],
                tags(t).get(nm.DIGEST_TAG),
                tags(t).get(nm.BOOT_TAG),
            )

    def groups(self, at: tuple[str, str]) -> Iterator[lv.Group]:
        mine = [{"Name": f"tag:{nm.TOPOLOGY_TAG}", "Values": [self.scope.topology]}]
        for g in self.at(at, "auto scaling groups").autoscaling.groups(mine):
            template = (g.get("LaunchTemplate") or {}).get("LaunchTemplateName")
            subnets = tuple(s for s in (g.get("VPCZoneIdentifier") or "").split(",") if s)
            instances = tuple(i["InstanceId"] for i in g.get("Instances", []))
            name = self.owned(g)[0]
            drain = nm.DRAIN_TAG in tags(g)
            yield lv.Group(g["AutoScalingGroupName"], name, template, subnets, instances, drain)

    def instances(self, ec2: Ec2) -> Iterator[lv.Instance]:
        states = [{"Name": "instance-state-name", "Values": list(nm.NOT_TERMINATED)}]
        for i in ec2.instances(self.mine() + states):
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
        mine = [{"Key": f"tag:{nm.TOPOLOGY_TAG}", "Values": [self.scope.topology]}]
        found = self.at(at, "ssm parameters").ssm.parameters(mine)
        return {str(p["Name"]): p.get("Description") for p in found}

    def rotation(self) -> lv.Rotation | None:
        found = journal.Journal(
            self.sessions, self.scope.dns_account, self.scope.topology, self.retry,
            wire=self.door.wire,
        ).read()  # fmt: skip
        return found.summary() if found else None

    def image(self, ec2: Ec2, at: tuple[str, str]) -> str | None:
        key = self.scope.images.get(at)
        # each image key's owner and name pattern come from the image table (plan refused
        # any key that is not in it, or not published in this partition)
        image = IMAGES.get(key) if key else None
        owner = image.owners.get(self.sessions.partition(at[0]).name) if image else None
        if image is None or owner is None:
            return None
        found = ec2.images([{"Name": "name", "Values": [image.name]}], owners=[owner])
        if not found and self.sessions.emulated:
            # An emulator carries a few stock images only; any Ubuntu one stands in.
            found = ec2.images([{"Name": "name", "Values": ["ubuntu/images/*"]}])
        newest = max(found, key=lambda i: str(i.get("CreationDate", "")), default=None)
        return str(newest["ImageId"]) if newest else None

    # ------------------------------------------------------------------ the artifact store

    def store(self, account: str, region: str, account_id: str) -> lv.StoreLive:
        """Three reads: the bucket's policy (which says whether it exists), its public access
        block, the keys under the topology's prefix; then each gateway pointer found. Every call names the expected owner, so
        a bucket of that name in someone else's account is an error, never a place to write."""
        bucket = store.bucket_name(account_id, region)
        s3 = self.door.at(account, region, f"s3 bucket {bucket} (the artifact store)").s3
        exists, document = s3.policy(bucket, account_id)
        if not exists:
            return lv.StoreLive(bucket)
        policy = None if document is None else lv.canonical_json(json.loads(document))
        settings = s3.public_access_block(bucket, account_id)
        blocked = all(settings.get(k) is True for k in store.PUBLIC_ACCESS_BLOCK)
        listed = s3.keys(bucket, account_id, store.prefix(self.scope.topology))
        pointers = {
            k: self.pointer(s3, bucket, account_id, k, etag)
            for k, etag in sorted(listed.items())
            if store.is_pointer(k)
        }
        return lv.StoreLive(bucket, True, policy, blocked, frozenset(listed), pointers)

    def pointer(self, s3: S3, bucket: str, account_id: str, key: str, etag: str) -> str:
        """The configuration key a gateway's pointer names. When its listed ETag is the MD5 of
        the pointer apply would write, it is that pointer, unread: an object put in one part,
        unencrypted or SSE-S3 (the bucket's default), has its MD5 as ETag (S3 API reference,
        Object.ETag). Else (another pointer, or an ETag that is no MD5) it is read."""
        wanted = self.scope.pointers.get(key)
        if wanted is not None and etag == wanted[0]:
            return wanted[1]
        return _pointer(s3.get_object(bucket, account_id, key))

    # ------------------------------------------------------------------ one account

    def account(self, account: str) -> lv.AccountLive:
        at = (account, self.sessions.partition(account).global_region)
        account_id = self.door.at(
            *at, "caller identity (are the credentials valid?)"
        ).sts.account_id()
        details = self.at(at, "iam roles").iam.role_details()
        path = f"/vpnctl/{self.scope.topology}/"
        roles = tuple(_role(r) for r in details if r.get("Path") == path)
        profiles: dict[str, tuple[str, ...]] = {}
        for role in details:
            for profile in role.get("InstanceProfileList", []):
                if profile.get("Path") == path:
                    names = tuple(r["RoleName"] for r in profile.get("Roles", []))
                    profiles[profile["InstanceProfileName"]] = names
        return lv.AccountLive(account, account_id, roles, profiles)

    # ------------------------------------------------------------------ the zone

    def zone(self) -> lv.Zone:
        account = self.scope.dns_account
        name = self.scope.zone.rstrip(".")
        route53 = self.door.home(account, f"hosted zone {name}").route53
        zone = next(
            (
                z
                for z in route53.zones_by_name(name, most=10)
                if z["Name"].rstrip(".") == name and not z.get("Config", {}).get("PrivateZone")
            ),
            None,
        )
        if zone is None:
            return lv.Zone(name, None)
        zone_id = zone["Id"].split("/")[-1]
        return self.zone_contents(route53, name, zone_id)

    def zone_contents(self, route53: Route53, name: str, zone_id: str) -> lv.Zone:
        owned = route53.zone_tags(zone_id).get(nm.TOPOLOGY_TAG) == self.scope.topology
        records = tuple(_record(r) for r in route53.records(zone_id))
        apex_ns = next((r for r in records if r.type == "NS" and r.name == name), None)
        servers = tuple(v.rstrip(".") for v in apex_ns.values) if apex_ns else ()
        return lv.Zone(name, zone_id, owned, servers, records)


def _pointer(body: bytes) -> str:
    """The configuration key a gateway's pointer names ("" if it is not a pointer)."""
    try:
        return str(json.loads(body)["key"])
    except (ValueError, KeyError, TypeError):
        return ""


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
