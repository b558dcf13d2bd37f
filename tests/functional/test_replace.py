"""Day two on a moto server: a change that needs new instances (the instance type) replaces the
demo's gateways one AZ at a time. No agent runs under moto, so a thread plays the agents' part
(a new instance tags itself ready with its designed digest a moment after it boots, and every
gateway publishes TunnelUp: 1 when both ends of the tunnel are ready) and watches the route
tables throughout: none may ever point at an instance on its way out, or at a new one before
it is ready."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.functional.conftest import Aws
from vpnctl import pipeline
from vpnctl.aws.factory import Factory
from vpnctl.aws.names import NAME_TAG
from vpnctl.aws.replace import REPLACE_TAG
from vpnctl.cli.apply import apply
from vpnctl.cli.status import status
from vpnctl.design import Design
from vpnctl.health_contract import NAMESPACE, READY_TAG, TUNNEL_UP

BOOT_S = 1.5  # a new instance's agent reports ready this long after it is first seen


def patient() -> Factory:
    """Real waits, but short: the replacement polls while the thread boots instances."""
    return Factory(sleep=lambda s: time.sleep(min(s, 0.3)))


@dataclass
class Agents:
    """The agents of every gateway, and a watch on the route tables."""

    aws: Aws
    design: Design
    designed: dict[str, str]
    stop: threading.Event = field(default_factory=threading.Event)
    first_seen: dict[str, float] = field(default_factory=dict)  # instance -> when
    ready_at: dict[str, float] = field(default_factory=dict)  # instance -> tagged ready
    gone_at: dict[str, float] = field(default_factory=dict)  # instance -> seen leaving
    gateway_of: dict[str, str] = field(default_factory=dict)  # instance -> gateway
    enis: dict[str, str] = field(default_factory=dict)  # ENI -> instance, ever seen
    wrong: list[str] = field(default_factory=list)  # routes that pointed where they must not
    errors: list[BaseException] = field(default_factory=list)

    @property
    def regions(self) -> list[str]:
        return sorted({g.region for g in self.design.gateways})

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.tick()
                time.sleep(0.2)
        except BaseException as e:  # reported by the test, not lost in the thread
            self.errors.append(e)

    def instances(self) -> dict[str, dict[str, Any]]:
        found = {}
        for region in self.regions:
            pages = self.aws.client("ec2", region).describe_instances()["Reservations"]
            for item in (i for r in pages for i in r["Instances"]):
                found[item["InstanceId"]] = {**item, "region": region}
        return found

    def tick(self) -> None:
        now = time.time()
        found = self.instances()
        ready: dict[str, str] = {}  # gateway -> its ready, running instance
        for iid, item in found.items():
            tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
            gateway = tags.get(NAME_TAG, "")
            if gateway not in self.design.gateway_by_name:
                continue
            self.gateway_of[iid] = gateway
            self.first_seen.setdefault(iid, now)
            if item["State"]["Name"] != "running":
                self.gone_at.setdefault(iid, now)
                continue
            if READY_TAG not in tags and now - self.first_seen[iid] >= BOOT_S:
                self.tag_ready(item, gateway)
                self.ready_at[iid] = now
                tags[READY_TAG] = self.designed[gateway]
            if READY_TAG in tags:
                ready[gateway] = iid
        self.publish(ready)
        self.check_routes(found)

    def tag_ready(self, item: dict[str, Any], gateway: str) -> None:
        ec2 = self.aws.client("ec2", item["region"])
        tag = {"Key": READY_TAG, "Value": self.designed[gateway]}
        ec2.create_tags(Resources=[item["InstanceId"]], Tags=[tag])

    def publish(self, ready: dict[str, str]) -> None:
        at = datetime.now(UTC)
        for region in self.regions:
            data = [
                {
                    "MetricName": TUNNEL_UP,
                    "Dimensions": [
                        {"Name": "Topology", "Value": self.design.name},
                        {"Name": "Gateway", "Value": g.name},
                        {"Name": "Tunnel", "Value": t.name},
                    ],
                    "Value": float(all(e.gateway in ready for e in t.ends())),
                    "Timestamp": at,
                    "StorageResolution": 1,
                }
                for g in self.design.gateways
                if g.region == region and g.name in ready
                for t in self.design.tunnels_by_gateway[g.name]
            ]
            if data:
                self.aws.client("cloudwatch", region).put_metric_data(
                    Namespace=NAMESPACE, MetricData=data
                )

    def check_routes(self, found: dict[str, dict[str, Any]]) -> None:
        self.enis.update({
            n["NetworkInterfaceId"]: iid
            for iid, item in found.items()
            for n in item.get("NetworkInterfaces", [])
        })  # fmt: skip
        enis = self.enis  # kept: a terminated instance's ENI may go before its routes do
        for region in self.regions:
            tables = self.aws.client("ec2", region).describe_route_tables()["RouteTables"]
            for table in tables:
                for route in table["Routes"]:
                    iid = enis.get(route.get("NetworkInterfaceId", ""))
                    if iid is None:
                        continue
                    item = found.get(iid, {"State": {"Name": "gone"}})
                    tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
                    ready = READY_TAG in tags or iid in self.ready_at  # tagged since read
                    if item["State"]["Name"] != "running" or not ready:
                        self.wrong.append(f"{region} {table['RouteTableId']} "
                                          f"{route['DestinationCidrBlock']}"
                                          f" -> {iid} ({item['State']['Name']}, "
                                          f"{tags.get(READY_TAG)})")  # fmt: skip


@contextmanager
def playing(aws: Aws, path: Path) -> Iterator[Agents]:
    """The topology applied, and its agents played until the block ends."""
    first = aws.run(apply, str(path), "--yes", "--no-wait")
    assert first.exit_code == 0, first.output
    document = json.loads(aws.run(status, str(path), "--format", "json").stdout)
    designed = {g["name"]: g["config"]["designed"] for g in document["gateways"]}
    played = Agents(aws, pipeline.plan(path).design, designed)
    for iid in played.instances():  # the first instances booted long ago
        played.first_seen[iid] = 0.0
    thread = threading.Thread(target=played.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while len(played.ready_at) < len(designed) and time.time() < deadline:
            time.sleep(0.2)
        assert len(played.ready_at) == len(designed), played.errors
        time.sleep(0.5)
        played.wrong.clear()  # before they were ready, nothing watched the routes
        yield played
    finally:
        played.stop.set()
        thread.join(10)


@pytest.fixture
def agents(aws: Aws) -> Iterator[tuple[Agents, Path]]:
    path = aws.topology("demo")
    with playing(aws, path) as played:
        yield played, path


def bigger(path: Path) -> None:
    """The instance type: the gateways take it only with new instances."""
    text = path.read_text().replace(
        "\naccounts:", "\ngateways: {instance_type: t3.medium}\naccounts:"
    )
    path.write_text(text)


def test_a_new_instance_type_replaces_the_gateways_one_az_at_a_time(
    aws: Aws, agents: tuple[Agents, Path]
) -> None:
    played, path = agents
    old = dict(played.gateway_of.items())
    bigger(path)
    plan = aws.run(apply, str(path), "--dry-run")
    assert plan.exit_code == 0, plan.output
    said = " ".join(plan.stdout.split())
    assert "Replaced, AZ by AZ (4 gateway(s)" in said
    assert "1. gw-eu-west-1-a, gw-us-west-2-a 2. gw-eu-west-1-b, gw-us-west-2-b" in said
    assert "is REPLACED by a new instance" in said
    assert "WARNING" not in said  # two AZs each: nothing is cut
    document = json.loads(aws.run(apply, str(path), "--dry-run", "--format", "json").stdout)
    assert document["replacement"]["steps"] == [
        {"gateways": ["gw-eu-west-1-a", "gw-us-west-2-a"], "cuts": []},
        {"gateways": ["gw-eu-west-1-b", "gw-us-west-2-b"], "cuts": []},
    ]
    assert {g["name"] for g in document["replacement"]["gateways"]} == set(played.designed)

    done = aws.run(apply, str(path), "--yes", "--wait", "60", factory=patient())
    assert done.exit_code == 0, done.output
    assert not played.errors
    assert played.wrong == [], played.wrong[:5]
    assert "replacing, step 2/2: gw-eu-west-1-b, gw-us-west-2-b" in done.stderr
    assert "converged: 4/4 gateways" in done.stderr

    new = {iid: g for iid, g in played.gateway_of.items() if iid not in old}
    assert sorted(new.values()) == sorted(played.designed)  # one new instance each
    assert set(old) <= set(played.gone_at)  # every old one went
    first = {"gw-eu-west-1-a", "gw-us-west-2-a"}
    ready_first = max(played.ready_at[i] for i, g in new.items() if g in first)
    for iid, gateway in old.items():
        if gateway not in first:  # the b's went only once the a's were ready
            assert played.gone_at[iid] > ready_first, gateway
    again = aws.run(apply, str(path), "--dry-run")
    assert "Replaced" not in again.stdout  # nothing left to replace


def test_no_wait_starts_the_first_step_and_says_what_is_left(
    aws: Aws, agents: tuple[Agents, Path]
) -> None:
    played, path = agents
    bigger(path)
    started = aws.run(apply, str(path), "--yes", "--no-wait", factory=patient())
    assert started.exit_code == 0, started.output
    assert "Left to replace: gw-eu-west-1-b, gw-us-west-2-b" in " ".join(started.stderr.split())
    assert "step 2/2" not in started.stderr
    # the rest is remembered on the instances: the next apply goes on with it
    plan = aws.run(apply, str(path), "--dry-run")
    said = " ".join(plan.stdout.split())
    assert "Replaced, AZ by AZ (2 gateway(s)" in said
    tagged = [i for i in played.instances().values() if i["State"]["Name"] == "running"
              and REPLACE_TAG in {t["Key"] for t in i.get("Tags", [])}]  # fmt: skip
    assert len(tagged) == 2
    assert played.wrong == [], played.wrong[:5]


def test_a_gateway_that_never_reports_ready_stops_the_replacement_naming_it(
    aws: Aws, agents: tuple[Agents, Path]
) -> None:
    played, path = agents
    played.stop.set()  # no agent answers any more
    time.sleep(0.5)
    bigger(path)
    failed = aws.run(apply, str(path), "--yes", "--wait", "3", factory=patient())
    assert failed.exit_code != 0
    said = " ".join(failed.output.split())
    assert "gateway gw-eu-west-1-a" in said
    assert "main" in said
    assert "eu-west-1" in said
    assert "did not pass in 3 s: waited for instance i-" in said
    assert f"to report {READY_TAG}" in said


ONE_AZ = """
  frankfurt:
    account: main
    region: eu-central-1
    azs: [eu-central-1a]
"""


def test_a_one_az_vpc_is_warned_about_and_replaced_last(aws: Aws) -> None:
    path = aws.topology("demo")
    text = path.read_text().replace("\nlinks:\n", ONE_AZ + "\nlinks:\n")
    path.write_text(text.replace(
        "  - between: [us-west-2, eu-west-1]\n",
        "  - between: [us-west-2, eu-west-1]\n  - between: [us-west-2, frankfurt]\n",
    ))  # fmt: skip
    with playing(aws, path) as played:
        bigger(path)
        plan = aws.run(apply, str(path), "--dry-run")
        assert plan.exit_code == 0, plan.output
        said = " ".join(plan.stdout.split())
        assert "Replaced, AZ by AZ (5 gateway(s)" in said
        assert ("3. gw-frankfurt-a (CUTS frankfurt -> us-west-2, us-west-2 -> frankfurt while "
                "it boots)") in said  # fmt: skip
        assert (
            "WARNING: vpc frankfurt has one AZ: replacing its only gateway gw-frankfurt-a drops "
            "its link (frankfurt -> us-west-2, us-west-2 -> frankfurt) for the length of a boot"
            in said
        )
        document = json.loads(aws.run(apply, str(path), "--dry-run", "--format", "json").stdout)
        replacing = document["replacement"]
        assert replacing["steps"][-1] == {
            "gateways": ["gw-frankfurt-a"],
            "cuts": [["frankfurt", "us-west-2"], ["us-west-2", "frankfurt"]],
        }
        assert len(replacing["warnings"]) == 1

        done = aws.run(apply, str(path), "--yes", "--wait", "60", factory=patient())
        assert done.exit_code == 0, done.output
        assert "replacing, step 3/3: gw-frankfurt-a" in done.stderr
        assert "converged: 5/5 gateways" in done.stderr
    assert not played.errors
    # only frankfurt's own table pointed at its leaving instance: nothing else could carry it
    assert all(w.startswith("eu-central-1 ") for w in played.wrong), played.wrong[:5]
    ec2 = aws.client("ec2", "eu-central-1")
    new = next(i for i, g in played.gateway_of.items() if g == "gw-frankfurt-a"
               and i not in played.gone_at)  # fmt: skip
    enis = {n["NetworkInterfaceId"] for r in ec2.describe_instances(InstanceIds=[new])[
        "Reservations"] for i in r["Instances"] for n in i["NetworkInterfaces"]}  # fmt: skip
    routed = {r.get("NetworkInterfaceId") for t in ec2.describe_route_tables()["RouteTables"]
              for r in t["Routes"] if r["DestinationCidrBlock"] != "0.0.0.0/0"
              and r.get("GatewayId") != "local"}  # fmt: skip
    assert routed == enis  # its table is back, on the new instance
