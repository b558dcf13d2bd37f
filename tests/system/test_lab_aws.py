"""The lab runs the AWS control path: the emulator apply filled, agents publishing to it, the
hook's handler deciding on its events, the routers following its route tables.

Each test runs its own lab (``tests.system.labs``) and takes it down in ``finally``, checking
that no namespace, file or process of it is left (the emulator and the hook runners included).
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.system.labs import LabMaker, copy_topology, invoke, until
from vpnctl.aws import names
from vpnctl.health_contract import READY_TAG
from vpnctl.lab import awspath, drill, emulator, lifecycle, routesync

pytestmark = pytest.mark.needs("root", "netns", "openvpn", "nft")


@pytest.fixture
def lab_of(tmp_path: Path, need: Callable[..., None]) -> Iterator[LabMaker]:
    need("root", "netns", "openvpn", "nft")
    from tests.system.conftest import require

    require(importlib.util.find_spec("moto") is not None, "the lab's AWS emulator needs moto")
    maker = LabMaker(tmp_path)
    try:
        yield maker
    finally:
        states = [str(lab.state) for lab in maker.made]
        maker.down_all()
        assert [p for p in _processes() if any(s in p for s in states)] == []


def _processes() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return found


def _instances(lab: lifecycle.Lab, region: str) -> dict[str, dict[str, Any]]:
    def read() -> dict[str, dict[str, Any]]:
        ec2 = emulator.client("ec2", region)
        found = ec2.describe_instances()["Reservations"]
        return {i["InstanceId"]: i for r in found for i in r["Instances"]}

    return emulator.inside(lab, read)


def _hook_lines(lab: lifecycle.Lab) -> list[dict[str, Any]]:
    found = []
    for path in lab.path("logs").glob("hook-*.log"):
        for text in path.read_text().splitlines():
            if text.startswith('{"at"') and '"took_s"' in text:
                found.append(json.loads(text))
    return found


def _downs(lab: lifecycle.Lab) -> list[dict[str, Any]]:
    """The hook's runs on an agent's DOWN event."""
    return [h for h in _hook_lines(lab) if (h.get("detail") or {}).get("state") == "DOWN"]


def _told_and_moved(lab: lifecycle.Lab, instance: str, table: str) -> bool:
    """EC2's notification reached the handler, and a run of it (on that event, or on an earlier
    one still queued that read the terminated instance) changed the table."""
    lines = _hook_lines(lab)
    told = any(h["event"] == "EC2 Instance State-change Notification"
               and h["detail"]["instance-id"] == instance for h in lines)  # fmt: skip
    return told and table in [c.get("table") for h in lines for c in h.get("changes") or []]


def _runs(lab: lifecycle.Lab) -> list[str]:
    """The hook's runs, shortly: what the event said, and what changed."""
    return [f"{(h.get('detail') or {}).get('gateway')} {(h.get('detail') or {}).get('name')} "
            f"{(h.get('detail') or {}).get('state')}: {h.get('changes') or h.get('error')}"
            for h in _hook_lines(lab)]  # fmt: skip


def filled(lab: lifecycle.Lab) -> None:
    """Apply filled the emulator, and every agent reports ready there."""
    mapped = emulator.mapping(lab.state)
    assert set(mapped["gateways"]) == set(lab.layout.gateways)
    for gateway, found in mapped["gateways"].items():
        instance = _instances(lab, found["region"])[found["instance"]]
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags[names.NAME_TAG] == gateway
        assert instance["State"]["Name"] == "running"
        # the agent converged and tagged its own instance with the digest it runs
        assert until(partial(_is_ready, lab, found), 30), gateway
        assert _booted(lab, gateway, found), gateway
    # the routers hold what the emulated tables say
    assert until(lambda: lab.path(routesync.ROUTES).exists(), 10)
    routes = json.loads(lab.path(routesync.ROUTES).read_text())
    assert {k.split()[0] for k in routes} == {t.name for t in lab.layout.tables}
    for table in lab.layout.tables:
        assert lifecycle.current_gateway(lab, table) == table.gateways[0]


def _booted(lab: lifecycle.Lab, gateway: str, found: dict[str, str]) -> bool:
    """The boot's AWS steps ran on the instance: its gateway's Elastic IP is on it, and its
    source/destination check is off."""
    instance = _instances(lab, found["region"])[found["instance"]]

    def addresses() -> list[dict[str, Any]]:
        mine = [{"Name": f"tag:{names.NAME_TAG}", "Values": [gateway]}]
        found_: list[dict[str, Any]] = emulator.client("ec2", found["region"]).describe_addresses(
            Filters=mine
        )["Addresses"]
        return found_

    (address,) = emulator.inside(lab, addresses)
    return address.get("InstanceId") == found["instance"] and not instance["SourceDestCheck"]


def _is_ready(lab: lifecycle.Lab, found: dict[str, str]) -> bool:
    return READY_TAG in _tags_of(lab, found)


def _tags_of(lab: lifecycle.Lab, found: dict[str, str]) -> dict[str, str]:
    instance = _instances(lab, found["region"])[found["instance"]]
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def test_apply_fills_the_emulator_and_a_kill_moves_routes_through_the_hook(
    lab_of: LabMaker, tmp_path: Path
) -> None:
    """One lab for both (an AWS-path lab takes 20-30 s to come up): first what apply and the
    agents made, then a kill, the booting replacement and the failback."""
    path = copy_topology(tmp_path, "demo", "psk")
    doc = yaml.safe_load(path.read_text())
    doc["failover"] = {**doc.get("failover", {}), "failback": True, "hold_down_s": 2}
    path.write_text(yaml.safe_dump(doc))
    lab = lifecycle.open_lab(path)
    lab_of.made.append(lab)
    invoke("lab", "up", str(path))
    filled(lab)
    victim = "gw-us-west-2-a"
    table = next(t for t in lab.layout.tables if t.gateways[0] == victim)
    before = emulator.instance_of(lab.state, victim)
    assert before is not None
    drill.kill(lab, [victim])
    assert until(lambda: lifecycle.current_gateway(lab, table) == table.gateways[1], 20)
    state = _instances(lab, before["region"])[before["instance"]]["State"]["Name"]
    assert state == "terminated"
    # the hook got EC2's notification and changed the table (a run's line is written once the
    # handler returns, a moment after the follower saw the change)
    assert until(partial(_told_and_moved, lab, before["instance"], table.name), 15), _runs(lab)
    # a replacement booting (its agent not started yet) gets no route back
    launched = time.time()
    made = drill.revive(lab, [victim], boot_s=8)[victim]
    moves = [m for m in routesync.moves(lab) if m["at"] >= launched and m["to"] == victim]
    assert moves == [], "a route moved onto a replacement that had not reported ready"
    assert made != before["instance"]
    assert emulator.instance_of(lab.state, victim) == {**before, "instance": made}
    assert _booted(lab, victim, {**before, "instance": made})  # the address moved with it
    lifecycle.wait_ready(lab, 60)
    assert until(lambda: READY_TAG in _tags_of(lab, {**before, "instance": made}), 30)
    # once ready (and failback on), the route comes back to it, through the hook: on the
    # agents' events (its ready, the far end's UP), each a hook run that may queue behind
    # others on a loaded machine; the hook's runs are shown if it does not
    assert until(lambda: lifecycle.current_gateway(lab, table) == victim, 90), _runs(lab)


def test_a_hung_gateway_goes_silent_and_its_neighbours_move_the_routes(
    lab_of: LabMaker,
) -> None:
    lab = lab_of("demo", "psk", "--probe-count", "5", "--probe-interval-ms", "100",
                 "--failures", "2", "--recoveries", "3")  # fmt: skip
    (outage,) = drill.az(lab, "us-west-2a", settle=1.5, say=lambda _: None, how="hang",
                         keep_dead=True)  # fmt: skip
    try:
        assert outage.seconds is not None, "traffic never came back"
        assert 0.5 < outage.seconds < 15  # found by its neighbours' probes, through the hook
        for pid in awspath.agent_pids(lab, "gw-us-west-2-a"):  # stopped: it publishes nothing
            assert Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("T")
        # the hook heard DOWN from a neighbour, and (on that event or the next it ran on, with
        # the DOWN figures read) moved the hung gateway's table off it
        assert until(lambda: bool(_downs(lab)), 10), _runs(lab)
        moved = [c.get("table") for h in _hook_lines(lab) for c in h.get("changes") or []]
        assert "rt-us-west-2-a" in moved, _runs(lab)
    finally:
        drill.revive(lab, ["gw-us-west-2-a"])
