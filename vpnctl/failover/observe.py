"""The hook's read pass: only what the decision needs, in one batch per account and region.

Per region, in parallel: the topology's instances (``DescribeInstances`` by tag), its route
tables (``DescribeRouteTables`` by tag) and its probe alarms (``DescribeAlarms`` by name
prefix). A launch or a reconcile also reads the Elastic IPs (to fix a new instance) and the
zone's A records (to keep names right); a reconcile or a terminate lifecycle action reads the
Auto Scaling groups too: which instances are terminating, and whether an action is still open. Every call goes to AWS's public endpoints, never
through a tunnel: the hook does not depend on the path it repairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from vpnctl.aws import names
from vpnctl.aws.names import NAME_TAG, TOPOLOGY_TAG
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Client, Sessions, aws_errors
from vpnctl.failover.bundle import Bundle
from vpnctl.partitions import PARTITIONS

DONE = ("Terminating:Proceed", "Terminated")  # a lifecycle action completed already

RegionKey = tuple[str, str]  # (account, region)


alarm_prefix = names.alarm_prefix
alarm_name = names.alarm
group_name = names.aws_name  # a gateway's Auto Scaling group, as apply names it


@dataclass(frozen=True)
class Instance:
    id: str
    gateway: str
    state: str
    eni: str | None
    source_dest_check: bool
    launched: float  # unix time
    account: str
    region: str


@dataclass(frozen=True)
class Table:
    id: str
    name: str
    account: str
    region: str
    routes: Mapping[str, str]  # destination -> target (ENI, gateway id, ...)


@dataclass(frozen=True)
class Alarm:
    state: str
    since: float  # when it entered that state


@dataclass(frozen=True)
class Address:
    allocation_id: str
    public_ip: str
    instance_id: str | None


@dataclass(frozen=True)
class Record:
    ttl: int | None
    values: tuple[str, ...]


@dataclass(frozen=True)
class Zone:
    id: str
    account: str
    region: str
    records: Mapping[str, Record]  # fqdn (no trailing dot) -> its A record


@dataclass(frozen=True)
class Needs:
    addresses: bool = False
    lifecycle: bool = False
    zone: bool = False


@dataclass(frozen=True)
class Seen:
    regions: frozenset[RegionKey]
    instances: tuple[Instance, ...] = ()
    tables: tuple[Table, ...] = ()
    alarms: Mapping[str, Alarm] = field(default_factory=dict)  # gateway -> alarm
    addresses: Mapping[str, Address] = field(default_factory=dict)  # gateway -> EIP
    lifecycle: Mapping[str, str] = field(default_factory=dict)  # instance id -> ASG state
    zone: Zone | None = None

    def terminating(self) -> frozenset[str]:
        return frozenset(i for i, s in self.lifecycle.items() if s.startswith("Terminating"))


@dataclass(frozen=True)
class _Part:
    instances: tuple[Instance, ...] = ()
    tables: tuple[Table, ...] = ()
    alarms: Mapping[str, Alarm] = field(default_factory=dict)
    addresses: Mapping[str, Address] = field(default_factory=dict)
    lifecycle: Mapping[str, str] = field(default_factory=dict)


def look(
    sessions: Sessions,
    bundle: Bundle,
    regions: frozenset[RegionKey],
    needs: Needs,
    retry: Retry,
) -> Seen:
    reader = _Reader(sessions, bundle.topology, retry)
    reads: list[Callable[[RegionKey], _Part]] = [reader.instances, reader.tables, reader.alarms]
    reads += [reader.addresses] if needs.addresses else []
    reads += [reader.lifecycle] if needs.lifecycle else []
    tasks = [(read, at) for at in sorted(regions) for read in reads]
    dns = _dns_home(bundle, regions) if needs.zone else None
    with ThreadPoolExecutor(max_workers=len(tasks) + 1) as pool:
        zone = pool.submit(reader.zone, dns, bundle.design.zone) if dns else None
        parts = [f.result() for f in [pool.submit(read, at) for read, at in tasks]]
        return _merge(regions, parts, zone.result() if zone else None)


def _dns_home(bundle: Bundle, regions: frozenset[RegionKey]) -> RegionKey | None:
    """Where the zone answers, if this run can reach it (its account is in reach)."""
    account = bundle.dns_account
    partition = PARTITIONS[bundle.accounts[account].partition]
    if not partition.route53 or account not in {a for a, _ in regions}:
        return None
    return account, partition.global_region


def _merge(regions: frozenset[RegionKey], parts: list[_Part], zone: Zone | None) -> Seen:
    return Seen(
        regions,
        tuple(i for p in parts for i in p.instances),
        tuple(t for p in parts for t in p.tables),
        {g: a for p in parts for g, a in p.alarms.items()},
        {g: a for p in parts for g, a in p.addresses.items()},
        {i: s for p in parts for i, s in p.lifecycle.items()},
        zone,
    )


def _tags(item: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", []) or []}


@dataclass(frozen=True)
class _Reader:
    sessions: Sessions
    topology: str
    retry: Retry

    def mine(self) -> list[dict[str, Any]]:
        return [{"Name": f"tag:{TOPOLOGY_TAG}", "Values": [self.topology]}]

    def pages(
        self, client: Client, operation: str, key: str, at: RegionKey, **kw: Any
    ) -> list[dict[str, Any]]:
        with aws_errors(*at, f"{operation} (failover hook reading)"):
            pages = client.get_paginator(operation).paginate(**kw)
            return self.retry.call(lambda: [i for page in pages for i in page.get(key, [])])

    def instances(self, at: RegionKey) -> _Part:
        ec2 = self.sessions.client(*at, "ec2")
        found = self.pages(ec2, "describe_instances", "Reservations", at, Filters=self.mine())
        return _Part(instances=tuple(_instance(i, at) for r in found for i in r["Instances"]))

    def tables(self, at: RegionKey) -> _Part:
        ec2 = self.sessions.client(*at, "ec2")
        found = self.pages(ec2, "describe_route_tables", "RouteTables", at, Filters=self.mine())
        return _Part(tables=tuple(t for t in (table(item, at) for item in found) if t.name))

    def alarms(self, at: RegionKey) -> _Part:
        cw = self.sessions.client(*at, "cloudwatch")
        prefix = alarm_prefix(self.topology)
        found = self.pages(
            cw,
            "describe_alarms",
            "MetricAlarms",
            at,
            AlarmNamePrefix=prefix,
            AlarmTypes=["MetricAlarm"],
        )
        return _Part(
            alarms={
                a["AlarmName"].removeprefix(prefix): Alarm(
                    a["StateValue"], a["StateUpdatedTimestamp"].timestamp()
                )
                for a in found
            }
        )

    def addresses(self, at: RegionKey) -> _Part:
        ec2 = self.sessions.client(*at, "ec2")
        with aws_errors(*at, "describe_addresses (failover hook reading)"):
            found = self.retry.call(lambda: ec2.describe_addresses(Filters=self.mine()))
        return _Part(addresses=dict(_addresses(found["Addresses"])))

    def lifecycle(self, at: RegionKey) -> _Part:
        asg = self.sessions.client(*at, "autoscaling")
        groups = self.pages(
            asg, "describe_auto_scaling_groups", "AutoScalingGroups", at, Filters=self.mine()
        )
        states = {
            i["InstanceId"]: str(i.get("LifecycleState", ""))
            for g in groups
            for i in g.get("Instances", [])
        }
        return _Part(lifecycle=states)

    def zone(self, at: RegionKey, name: str) -> Zone | None:
        r53 = self.sessions.client(*at, "route53")
        name = name.rstrip(".")
        with aws_errors(*at, f"hosted zone {name} (failover hook reading)"):
            found = self.retry.call(lambda: r53.list_hosted_zones_by_name(DNSName=name))
        zone = next(
            (
                z
                for z in found.get("HostedZones", [])
                if z["Name"].rstrip(".") == name and not z.get("Config", {}).get("PrivateZone")
            ),
            None,
        )
        if zone is None:
            return None
        zone_id = zone["Id"].split("/")[-1]
        sets = self.pages(
            r53, "list_resource_record_sets", "ResourceRecordSets", at, HostedZoneId=zone_id
        )
        return Zone(zone_id, *at, dict(_records(sets)))


def _instance(item: Mapping[str, Any], at: RegionKey) -> Instance:
    eni: dict[str, Any] = next(iter(item.get("NetworkInterfaces", [])), {})
    launched = item.get("LaunchTime")
    return Instance(
        item["InstanceId"],
        _tags(item).get(NAME_TAG, ""),
        item["State"]["Name"],
        eni.get("NetworkInterfaceId"),
        bool(item.get("SourceDestCheck", True)),
        launched.timestamp() if launched else 0.0,
        *at,
    )


def table(item: Mapping[str, Any], at: RegionKey) -> Table:
    """One route table as ``DescribeRouteTables`` gives it (also used to read back)."""
    routes = {
        r["DestinationCidrBlock"]: next(
            (str(r[k]) for k in ("NetworkInterfaceId", "GatewayId", "InstanceId") if r.get(k)), ""
        )
        for r in item.get("Routes", [])
        if r.get("DestinationCidrBlock")
    }
    return Table(item["RouteTableId"], _tags(item).get(NAME_TAG, ""), *at, routes)


def _addresses(found: list[dict[str, Any]]) -> Iterator[tuple[str, Address]]:
    for a in found:
        name = _tags(a).get(NAME_TAG)
        if name:
            yield name, Address(a["AllocationId"], a["PublicIp"], a.get("InstanceId") or None)


def _records(sets: list[dict[str, Any]]) -> Iterator[tuple[str, Record]]:
    for s in sets:
        if s["Type"] == "A" and "AliasTarget" not in s:
            values = tuple(str(v["Value"]) for v in s.get("ResourceRecords", []))
            yield str(s["Name"]).rstrip("."), Record(s.get("TTL"), values)
