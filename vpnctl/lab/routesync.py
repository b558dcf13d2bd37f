"""The lab's routers follow the emulated route tables: what the hook wrote in the emulator is
what the lab's VPC routers do.

A process in the lab's internet namespace reads ``DescribeRouteTables`` (the topology's, by
tag) in every region ``TICK_S`` apart, finds the gateway each route targets (its network
interface or instance, through ``DescribeInstances``: the ``vpnctl:name`` tag) and points that
destination of the lab's table of the same name at the gateway, in the router namespace.
A route whose target is no gateway the emulator knows (a terminated instance's interface is
gone: on AWS the route is a blackhole) stays as it is, which is as dead. Each move is one JSON
line on stdout (``logs/routesync.log``), and ``routes.json`` holds the routes now.

    python -m vpnctl.lab.routesync STATE_DIR
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vpnctl.aws import names
from vpnctl.lab import emulator, lifecycle
from vpnctl.lab.lifecycle import Lab
from vpnctl.probe.atomic import write_atomically

TICK_S = 0.25
ROUTES = "routes.json"


class Follower:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.targets: dict[str, str] = {}  # interface or instance id -> gateway name
        self.applied: dict[tuple[str, str], str] = {}  # (table, destination) -> gateway
        self.tables = {t.name: t for t in lab.layout.tables}
        self.mine = [{"Name": f"tag:{names.TOPOLOGY_TAG}", "Values": [lab.design.name]}]

    def learn(self, region: str) -> None:
        ec2 = emulator.client("ec2", region)
        for reservation in ec2.describe_instances(Filters=self.mine)["Reservations"]:
            for item in reservation["Instances"]:
                name = emulator.tags(item).get(names.NAME_TAG)
                if not name:
                    continue
                self.targets[item["InstanceId"]] = name
                for eni in item.get("NetworkInterfaces", []):
                    self.targets[eni["NetworkInterfaceId"]] = name

    def wanted(self, region: str) -> dict[tuple[str, str], str]:
        ec2 = emulator.client("ec2", region)
        found = ec2.describe_route_tables(Filters=self.mine)["RouteTables"]
        routes = [(emulator.tags(t).get(names.NAME_TAG, ""), r) for t in found
                  for r in t.get("Routes", [])]  # fmt: skip
        if any(
            _target(r) not in self.targets
            for _, r in routes
            if _target(r).startswith(("eni-", "i-"))
        ):
            self.learn(region)
        return {(table, r["DestinationCidrBlock"]): self.targets[_target(r)]
                for table, r in routes
                if table in self.tables and _target(r) in self.targets
                and r.get("DestinationCidrBlock")}  # fmt: skip

    def tick(self) -> None:
        wanted: dict[tuple[str, str], str] = {}
        for _account, region in emulator.regions(self.lab):
            wanted |= self.wanted(region)
        for (table, destination), gateway in sorted(wanted.items()):
            if self.applied.get((table, destination)) == gateway:
                continue
            if destination not in {str(d) for d in self.tables[table].destinations}:
                continue
            lifecycle.set_route(self.lab, self.tables[table], destination, gateway)
            before = self.applied.get((table, destination))
            self.applied[(table, destination)] = gateway
            print(json.dumps({"at": time.time(), "table": table, "destination": destination,
                              "from": before, "to": gateway}), flush=True)  # fmt: skip
        write_atomically(self.lab.path(ROUTES), json.dumps(
            {f"{t} {d}": g for (t, d), g in sorted(self.applied.items())}, indent=1))  # fmt: skip


def _target(route: Mapping[str, Any]) -> str:
    return str(next((route[k] for k in ("NetworkInterfaceId", "InstanceId", "GatewayId")
                     if route.get(k)), ""))  # fmt: skip


def moves(lab: Lab) -> list[dict[str, Any]]:
    """Every route move the follower made, oldest first (from its log)."""
    found = []
    try:
        lines = lab.path("logs", "routesync.log").read_text().splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def main() -> None:
    state = Path(sys.argv[1])
    settings = json.loads((state / "lab.json").read_text())
    lab = lifecycle.open_lab(settings["topology"], state.parent)
    follower = Follower(lab)
    while True:
        started = time.monotonic()
        try:
            follower.tick()
        except Exception as exc:  # the emulator busy for a moment: the next tick reads again
            print(json.dumps({"at": time.time(), "error": f"{type(exc).__name__}: {exc}"}),
                  flush=True)  # fmt: skip
        time.sleep(max(0.0, TICK_S - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
