"""The destroy-an-AZ drill in the lab, measured: `python benchmarks/lab_failover.py` (root).

For china-hub.yaml it times `vpnctl lab up` (target under 15 s, tunnels up included), then
runs the cn-north-1a drill five times with the default probe settings and five times with
aggressive ones (5 echoes every 100 ms, DOWN after 2 failed runs, UP after 3), each time in
two ways: the gateways terminate (EC2 would say so at once; the controller is told) and the
gateways hang (alive, passing nothing: only the probes can tell). It prints the outage
(median, max) and the packets lost. Targets: median outage under 10 s with defaults and
under 5 s with aggressive settings.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from vpnctl.lab import drill, lifecycle

TOPOLOGY = Path(__file__).parents[1] / "topologies" / "china-hub.yaml"
AGGRESSIVE = ["--probe-count", "5", "--probe-interval-ms", "100", "--failures", "2",
              "--recoveries", "3"]  # fmt: skip
RUNS = 5


def fresh_topology(folder: Path) -> Path:
    doc = yaml.safe_load(TOPOLOGY.read_text())
    doc["name"] = f"bench-{uuid.uuid4().hex[:6]}"
    # fail back soon after a revive, so that every drill starts with traffic on the AZ it kills
    doc["failover"] = {**doc.get("failover", {}), "failback": True, "hold_down_s": 2}
    path = folder / "china-hub.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def drills(lab: lifecycle.Lab, how: str) -> list[drill.Outage]:
    results = []
    for _ in range(RUNS):
        (outage,) = drill.az(lab, "cn-north-1a", settle=1.5, say=lambda _: None, how=how)
        results.append(outage)
        lifecycle.wait_ready(lab, 60)
        back_to_preferred(lab)
    return results


def back_to_preferred(lab: lifecycle.Lab, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if all(lifecycle.current_gateway(lab, t) == t.gateways[0] for t in lab.layout.tables):
            return
        time.sleep(0.2)
    raise SystemExit("routes did not fail back to the preferred gateways")


def line(label: str, outages: list[drill.Outage]) -> str:
    seconds = [o.seconds for o in outages if o.seconds is not None]
    lost = [o.lost for o in outages]
    never = len(outages) - len(seconds)
    median = f"{statistics.median(seconds):6.2f}s" if seconds else "   n/a"
    worst = f"{max(seconds):6.2f}s" if seconds else "   n/a"
    return (f"{label:<28} outage median {median} max {worst}  lost median "
            f"{statistics.median(lost):5.0f} max {max(lost):4d}"
            + (f"  ({never} never recovered)" if never else ""))  # fmt: skip


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("the lab needs root")
    with tempfile.TemporaryDirectory() as tmp:
        path = fresh_topology(Path(tmp))
        for label, args in (("defaults", []), ("aggressive", AGGRESSIVE)):
            lab = lifecycle.open_lab(path)
            start = time.perf_counter()
            lifecycle.up(lab, say=lambda _: None, controller_args=args)
            took = time.perf_counter() - start
            try:
                print(f"lab up ({label}): {took:.2f}s for {len(lab.layout.namespaces)} "
                      f"namespaces and {len(lab.design.tunnels)} tunnels")  # fmt: skip
                for how in ("terminate", "hang"):
                    print(line(f"{label}, {how}", drills(lab, how)), flush=True)
            finally:
                lifecycle.down(lab.layout.prefix)
    print(f"machine: {os.cpu_count()} cores; {RUNS} drills per line")


if __name__ == "__main__":
    main()
