"""Failover in the lab through the AWS path, measured: `python benchmarks/lab_failover.py` (root).

The lab runs what AWS runs (docs/interfaces.md, "How the lab runs the AWS path"): the agents
publish to the lab's AWS emulator, the hook's handler decides on the events it receives, the
routers follow the emulated route tables. For china-hub.yaml (failback on, 2 s hold-down, so
each drill starts on the preferred gateways), with the default probe settings and with
aggressive ones (5 echoes every 100 ms, DOWN after 2 failed runs, UP after 3):

* the cn-north-1a drill, RUNS times each, the gateway terminated (the emulated instance
  terminates, EC2's notifications go out) and hung (alive, forwarding nothing, its agent
  stopped: only its neighbours can tell); outage median and max, echoes lost;
* defaults only: a second gateway dies in another VPC (gw-us-west-2-a, then gw-cn-north-1-b):
  every allowed flow with a live path (through live gateways and tunnels) must pass;
* defaults only: a replacement still booting (its agent starts BOOT_S after its instance
  runs) gets no route before it reports ready.

`--hub` instead terminates the hub's AZ (ap-southeast-1a) RUNS times, per stream. `--loss` instead runs the lab with 5% random loss on every tunnel for LOSS_S seconds and counts
route moves (none may happen).

Targets: hung with defaults median under 15 s, hung aggressive under 5 s, terminated under 5 s.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from vpnctl.lab import checks, drill, emulator, hookrunner, lifecycle, routesync

TOPOLOGY = Path(__file__).parents[1] / "topologies" / "china-hub.yaml"
AGGRESSIVE = {"probe_count": 5, "probe_interval_ms": 100, "failures": 2, "recoveries": 3}
RUNS = 3
BOOT_S = 10.0
LOSS_S = 600.0


def fresh_topology(folder: Path) -> Path:
    doc = yaml.safe_load(TOPOLOGY.read_text())
    doc["name"] = f"b{uuid.uuid4().hex[:6]}"
    # fail back soon after a revive, so that every drill starts with traffic on the AZ it kills
    doc["failover"] = {**doc.get("failover", {}), "failback": True, "hold_down_s": 2}
    path = folder / "china-hub.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def drills(lab: lifecycle.Lab, how: str) -> list[drill.Outage]:
    results = []
    for _ in range(RUNS):
        found = drill.az(lab, "cn-north-1a", settle=1.5, say=lambda _: None, how=how)
        results.append(next(o for o in found if o.kind == "icmp"))  # us-west-2a -> cn-north-1b
        lifecycle.wait_ready(lab, 60)
        back_to_preferred(lab)
    return results


def preferred(lab: lifecycle.Lab) -> bool:
    return all(lifecycle.current_gateway(lab, t) == t.gateways[0] for t in lab.layout.tables)


def back_to_preferred(lab: lifecycle.Lab, limit: float = 180) -> None:
    """Failback happens on the hook's next run after the hold-down; when no agent event comes
    (nothing changed), that is the reconcile, every 5 minutes: after 20 s the benchmark sends
    each function the Scheduled Event early, as EventBridge would at its next tick."""
    deadline = time.monotonic() + limit
    nudge = time.monotonic() + 20
    while time.monotonic() < deadline:
        if preferred(lab):
            time.sleep(2)  # the siblings' views settle too
            return
        if time.monotonic() > nudge:
            reconcile_now(lab)
            nudge = time.monotonic() + 20
        time.sleep(0.2)
    raise SystemExit("routes did not fail back to the preferred gateways")


def reconcile_now(lab: lifecycle.Lab) -> None:
    def send() -> None:
        for f in emulator.functions(lab.state):
            rule = f"arn:aws:events:{f.region}:000000000000:rule/{f.name}-reconcile"
            event = hookrunner.scheduled_event(f.account, f.region, rule, time.time())
            emulator.client("sqs", f.region).send_message(QueueUrl=f.queue_url,
                                                          MessageBody=json.dumps(event))  # fmt: skip

    emulator.inside(lab, send)


def line(label: str, outages: list[drill.Outage]) -> str:
    seconds = [o.seconds for o in outages if o.seconds is not None]
    lost = [o.lost for o in outages]
    never = len(outages) - len(seconds)
    median = f"{statistics.median(seconds):6.2f}s" if seconds else "   n/a"
    worst = f"{max(seconds):6.2f}s" if seconds else "   n/a"
    return (f"{label:<28} outage median {median} max {worst}  lost median "
            f"{statistics.median(lost):5.0f} max {max(lost):4d}"
            + (f"  ({never} never recovered)" if never else ""))  # fmt: skip


# --------------------------------------------------------------------------- second failure


def live_path(lab: lifecycle.Lab, dead: set[str], src: str, dst: str) -> bool:
    """Whether a live gateway of ``src`` reaches one of ``dst`` through live tunnels: directly,
    or through a live gateway of a transit hub with live tunnels to both."""
    live = {(t.a.gateway, t.b.gateway) for t in lab.design.tunnels
            if not {t.a.gateway, t.b.gateway} & dead}  # fmt: skip
    near = {g for pair in live for g in pair}
    links = live | {(b, a) for a, b in live}
    vpc = {g.name: g.vpc for g in lab.design.gateways}
    ends = [(a, b) for a, b in links if vpc[a] == src]
    for a, b in ends:
        if vpc[b] == dst:
            return True
        if any(vpc[c] == dst for x, c in links if x == b and c != a) and b in near:
            return True
    return False


def second_failure(lab: lifecycle.Lab) -> str:
    dead: set[str] = set()
    for victim in ("gw-us-west-2-a", "gw-cn-north-1-b"):
        drill.kill(lab, [victim])
        dead.add(victim)
        time.sleep(15)  # the agents' DOWN events, the hook, the routers
    outcomes = checks.run_checks(checks.plan_checks(lab))
    must = [o for o in outcomes if o.check.expect and live_path(
        lab, dead, o.check.source.vpc, o.check.target.vpc)
        and live_path(lab, dead, o.check.target.vpc, o.check.source.vpc)]  # fmt: skip
    failed = [o.check.describe() for o in must if not o.passed]
    cut = [o for o in outcomes if o.check.expect and o not in must]
    drops = [o for o in outcomes if not o.check.expect and o.passed]
    drill.revive(lab, sorted(dead))
    lifecycle.wait_ready(lab, 90)
    back_to_preferred(lab)
    return (f"second failure (gw-us-west-2-a, then gw-cn-north-1-b): {len(must)} allowed "
            f"checks with a live path, {len(failed)} failed {failed[:3]}; {len(cut)} without "
            f"a live path (not counted, {sum(o.passed for o in cut)} passed anyway); "
            f"{len(drops)} forbidden passed")  # fmt: skip


# --------------------------------------------------------------------------- booting


def booting(lab: lifecycle.Lab) -> str:
    victim = "gw-cn-north-1-a"
    tables = [t for t in lab.layout.tables if t.gateways[0] == victim]
    drill.kill(lab, [victim])
    deadline = time.monotonic() + 60
    while any(victim in lifecycle.current_gateways(lab, t).values() for t in tables):
        if time.monotonic() > deadline:
            return "booting: routes never left the killed gateway"
        time.sleep(0.2)
    launched = time.time()
    made = drill.revive(lab, [victim], boot_s=BOOT_S)[victim]
    back_to_preferred(lab)
    ready = _ready_at(lab, made)
    moves = [m for m in routesync.moves(lab) if m.get("to") == victim and m["at"] >= launched]
    first = min(m["at"] for m in moves) if moves else None
    early = [m for m in moves if ready is None or m["at"] < ready]
    return (
        f"replacement booting {BOOT_S:.0f} s ({made}): ready "
        f"{_after(ready, launched)} after launch, first route onto it "
        f"{_after(first, launched)} after launch; routes onto it before ready: {len(early)}"
    )


def _after(at: float | None, since: float) -> str:
    return f"{at - since:.2f}s" if at is not None else "never"


def _ready_at(lab: lifecycle.Lab, instance: str) -> float | None:
    """When the hook heard the replacement's ready event (the measurement time it carries)."""
    for path in lab.path("logs").glob("hook-*.log"):
        for text in path.read_text().splitlines():
            if '"kind": "ready"' not in text or instance not in text:
                continue
            found: dict[str, Any] = json.loads(text)
            detail = found.get("detail") or {}
            if detail.get("instance_id") == instance:
                return float(detail["at"])
    return None


# --------------------------------------------------------------------------- main


def run(path: Path, label: str, tuning: Mapping[str, float], extra: bool) -> None:
    lab = lifecycle.open_lab(path)
    start = time.perf_counter()
    try:
        lifecycle.up(lab, say=lambda _: None, tuning=tuning)
        took = time.perf_counter() - start
        print(
            f"lab up ({label}): {took:.2f}s for {len(lab.layout.namespaces)} namespaces, "
            f"{len(lab.design.tunnels)} tunnels, apply into the emulator included",
            flush=True,
        )
        back_to_preferred(lab)
        for how in ("terminate", "hang"):
            print(line(f"{label}, {how}", drills(lab, how)), flush=True)
        if extra:
            print(second_failure(lab), flush=True)
            print(booting(lab), flush=True)
    finally:
        lifecycle.down(lab.layout.prefix)


def hub(path: Path) -> None:
    """The hub's AZ terminated: both partitions' streams, shown apart (the global function
    reads the hub's instances; China's learns only from its agents)."""
    lab = lifecycle.open_lab(path)
    try:
        lifecycle.up(lab, say=lambda _: None)
        back_to_preferred(lab)
        found: dict[str, list[drill.Outage]] = {}
        for _ in range(RUNS):
            for o in drill.az(lab, "ap-southeast-1a", settle=1.5, say=lambda _: None):
                found.setdefault(f"{o.source} -> {o.target.split()[0]}", []).append(o)
            lifecycle.wait_ready(lab, 60)
            back_to_preferred(lab)
        for label, outages in sorted(found.items()):
            print(line(f"hub terminate {label}", outages), flush=True)
    finally:
        lifecycle.down(lab.layout.prefix)


def loss(path: Path) -> None:
    lab = lifecycle.open_lab(path)
    # 5% each way is 9.75% a round trip, just under the 10% threshold: a tunnel is UP only
    # after recovery_successes runs in a row each below it (0.9025**5: 60% of 5-echo runs
    # are), so becoming ready takes half a minute on average and sometimes more than one
    try:  # up inside: a lab that fails to come up is taken down too
        lifecycle.up(lab, ["*:loss=5%"], say=lambda _: None, wait=300)
        back_to_preferred(lab)
        since = time.time()
        time.sleep(LOSS_S)
        moves = [m for m in routesync.moves(lab) if m["at"] >= since and m.get("from")]
        downs = sum(text.count('"state": "DOWN"') for text in (
            p.read_text() for p in lab.path("logs").glob("hook-*.log")))  # fmt: skip
        kept = Path(tempfile.gettempdir()) / f"{lab.layout.prefix}-logs"
        shutil.copytree(lab.path("logs"), kept, dirs_exist_ok=True)
        print(f"5% loss on every tunnel for {LOSS_S:.0f}s: {len(moves)} route moves, "
              f"{downs} DOWN events heard by the hook (logs kept in {kept})", flush=True)  # fmt: skip
    finally:
        lifecycle.down(lab.layout.prefix)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("the lab needs root")
    assert emulator.PORT
    with tempfile.TemporaryDirectory() as tmp:
        path = fresh_topology(Path(tmp))
        if "--loss" in sys.argv:
            loss(path)
            return
        if "--hub" in sys.argv:
            hub(path)
            return
        if "--aggressive" not in sys.argv:  # --aggressive: that lab only
            run(path, "defaults", {}, extra=True)
        run(path, "aggressive", AGGRESSIVE, extra=False)
    print(f"machine: {os.cpu_count()} cores; {RUNS} drills per line")


if __name__ == "__main__":
    main()
