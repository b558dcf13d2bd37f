"""The hook's read pass: only what the decision needs, in one batch per account and region.

Per region, in parallel: the topology's instances (``DescribeInstances`` by tag), its route
tables (``DescribeRouteTables`` by tag) and its probe alarms (``DescribeAlarms`` by name
prefix), and the agents' health evidence: the latest ``TunnelUp``/``SiblingUp`` datapoints of
the last ``GRACE_S`` seconds (and a margin) for the region's gateways, in one
``GetMetricData`` per 500 series (the API's limit per request), every page; each instance's
``READY_TAG`` comes with ``DescribeInstances``. A launch or a reconcile also reads the Elastic
IPs (to fix a new instance) and the zone's A records (to keep names right); a reconcile or a
terminate lifecycle action reads the Auto Scaling groups too: which instances are terminating,
and whether an action is still open. Every call goes to AWS's public endpoints, never through
a tunnel: the hook does not depend on the path it repairs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from vpnctl.aws.door import At, BotoWire, Door, Wire
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions
from vpnctl.failover import evidence as ev
from vpnctl.failover.bundle import Bundle
from vpnctl.failover.seen import (
    DONE,
    NAME_TAG,
    TOPOLOGY_TAG,
    Address,
    Alarm,
    Instance,
    Needs,
    Record,
    RegionKey,
    Seen,
    Table,
    Zone,
    alarm_name,
    alarm_prefix,
    group_name,
)
from vpnctl.health_contract import GRACE_S, NAMESPACE, PUBLISH_S, READY_TAG
from vpnctl.partitions import PARTITIONS

__all__ = [  # the read's values live in ``seen`` (pure); callers may name them from here
    "DONE", "NAME_TAG", "TOPOLOGY_TAG", "Address", "Alarm", "Instance", "Needs", "Record",
    "RegionKey", "Seen", "Table", "Zone", "alarm_name", "alarm_prefix", "group_name", "look",
    "table",
]  # fmt: skip

MARGIN_S = 2 * PUBLISH_S  # read a little further back than GRACE_S: ingestion lag, clock skew
# GetMetricData takes "as many as 500 different metrics in a single request", and keeps
# datapoints of periods under 60 s for 3 hours:
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
QUERIES_PER_CALL = 500


@dataclass(frozen=True)
class _Part:
    instances: tuple[Instance, ...] = ()
    tables: tuple[Table, ...] = ()
    alarms: Mapping[str, Alarm] = field(default_factory=dict)
    addresses: Mapping[str, Address] = field(default_factory=dict)
    lifecycle: Mapping[str, str] = field(default_factory=dict)
    points: tuple[ev.Point, ...] = ()


def look(
    sessions: Sessions,
    bundle: Bundle,
    regions: frozenset[RegionKey],
    needs: Needs,
    retry: Retry,
    now: float | None = None,
) -> Seen:
    """What the decision needs, as of ``now`` (unix time; the evidence window ends there)."""
    reader = _Reader(sessions, bundle, retry, time.time() if now is None else now)
    reads: list[Callable[[RegionKey], _Part]] = [
        reader.instances,
        reader.tables,
        reader.alarms,
        reader.evidence,
    ]
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
        ev.gather(point for p in parts for point in p.points),
    )


def _tags(item: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", []) or []}


@dataclass(frozen=True)
class _Reader:
    sessions: Sessions
    bundle: Bundle
    retry: Retry
    now: float
    wire: Wire | None = None  # AWS in memory (``fakedoor``), else boto3 through ``sessions``

    @property
    def topology(self) -> str:
        return self.bundle.topology

    def mine(self) -> list[dict[str, Any]]:
        return [{"Name": f"tag:{TOPOLOGY_TAG}", "Values": [self.topology]}]

    def at(self, at: RegionKey, what: str) -> At:
        door = Door(self.wire or BotoWire(self.sessions, self.retry))
        return door.at(*at, f"{what} (failover hook reading)")

    def instances(self, at: RegionKey) -> _Part:
        found = self.at(at, "describe_instances").ec2.instances(self.mine())
        return _Part(instances=tuple(_instance(i, at) for i in found))

    def tables(self, at: RegionKey) -> _Part:
        found = self.at(at, "describe_route_tables").ec2.route_tables(self.mine())
        return _Part(tables=tuple(t for t in (table(item, at) for item in found) if t.name))

    def alarms(self, at: RegionKey) -> _Part:
        prefix = alarm_prefix(self.topology)
        found = self.at(at, "describe_alarms").cloudwatch.alarms(prefix, "MetricAlarm")
        return _Part(
            alarms={
                a["AlarmName"].removeprefix(prefix): Alarm(
                    a["StateValue"], a["StateUpdatedTimestamp"].timestamp()
                )
                for a in found
            }
        )

    def evidence(self, at: RegionKey) -> _Part:
        """The agents' latest ``TunnelUp``/``SiblingUp`` of the last GRACE_S (+ margin) seconds
        for this region's gateways: one GetMetricData per 500 series, every page read."""
        here = [g.name for g in self.bundle.design.gateways if (g.account, g.region) == at]
        wanted = ev.queries(self.bundle.design, here)
        if not wanted:
            return _Part()
        cw = self.at(at, f"GetMetricData {NAMESPACE}").cloudwatch
        window = {
            "StartTime": self.now - GRACE_S - MARGIN_S,
            "EndTime": self.now + PUBLISH_S,  # a gateway's clock a little ahead still counts
            "ScanBy": "TimestampDescending",
        }
        points: list[ev.Point] = []
        for start in range(0, len(wanted), QUERIES_PER_CALL):
            batch = wanted[start : start + QUERIES_PER_CALL]
            queries = [_metric_query(f"q{i}", q, self.topology) for i, q in enumerate(batch)]
            points += _points(batch, cw.metric_data(queries, **window))
        return _Part(points=tuple(points))

    def addresses(self, at: RegionKey) -> _Part:
        found = self.at(at, "describe_addresses").ec2.addresses(self.mine())
        return _Part(addresses=dict(_addresses(found)))

    def lifecycle(self, at: RegionKey) -> _Part:
        groups = self.at(at, "describe_auto_scaling_groups").autoscaling.groups(self.mine())
        states = {
            i["InstanceId"]: str(i.get("LifecycleState", ""))
            for g in groups
            for i in g.get("Instances", [])
        }
        return _Part(lifecycle=states)

    def zone(self, at: RegionKey, name: str) -> Zone | None:
        name = name.rstrip(".")
        route53 = self.at(at, f"hosted zone {name}").route53
        zone = next(
            (
                z
                for z in route53.zones_by_name(name)
                if z["Name"].rstrip(".") == name and not z.get("Config", {}).get("PrivateZone")
            ),
            None,
        )
        if zone is None:
            return None
        zone_id = zone["Id"].split("/")[-1]
        return Zone(zone_id, *at, dict(_records(route53.records(zone_id))))


def _metric_query(id_: str, query: ev.Query, topology: str) -> dict[str, Any]:
    dims = [{"Name": k, "Value": v} for k, v in query.dimensions(topology).items()]
    metric = {"Namespace": NAMESPACE, "MetricName": query.metric, "Dimensions": dims}
    # Period 1: the agents publish with StorageResolution=1; Minimum, so a second that saw
    # both states reads DOWN.
    stat = {"Metric": metric, "Period": 1, "Stat": "Minimum"}
    return {"Id": id_, "MetricStat": stat, "ReturnData": True}


def _points(batch: tuple[ev.Query, ...], results: list[dict[str, Any]]) -> list[ev.Point]:
    """The latest datapoint of each series (pages may each carry part of a series)."""
    latest: dict[int, ev.Reading] = {}
    for result in results:
        index = int(str(result["Id"])[1:])
        for stamp, value in zip(
            result.get("Timestamps", []), result.get("Values", []), strict=False
        ):
            reading = ev.Reading(stamp.timestamp(), value >= 1.0)
            have = latest.get(index)
            if have is None or (reading.at, not reading.up) > (have.at, not have.up):
                latest[index] = reading
    return [ev.Point(batch[i], r) for i, r in sorted(latest.items())]


def _instance(item: Mapping[str, Any], at: RegionKey) -> Instance:
    eni: dict[str, Any] = next(iter(item.get("NetworkInterfaces", [])), {})
    launched = item.get("LaunchTime")
    tags = _tags(item)
    return Instance(
        item["InstanceId"],
        tags.get(NAME_TAG, ""),
        item["State"]["Name"],
        eni.get("NetworkInterfaceId"),
        bool(item.get("SourceDestCheck", True)),
        launched.timestamp() if launched else 0.0,
        *at,
        tags.get(READY_TAG) or None,
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
