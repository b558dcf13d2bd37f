"""How render scales with the topology: hubs of 250, 500 and 1,000 VPCs (benchmarks/hubs.py).

Each hub gets a fixed pattern of ``allow`` flows, so every gateway has a firewall to render:
every spoke may open tcp/443 on the hub and the hub may ping every spoke (the spoke's own
flows), and each spoke may open tcp/5432 on the next spoke (transit through the hub). A
spoke's flows are the same whatever the hub's size; the hub carries all of them.

Per hub, in this process and on CPU time (``time.process_time``), the median of a few runs of:

- plan: reading the topology, allocating (no lock file) and designing (``pipeline.plan``);
- files: every gateway's desired configuration (``render.gateway_config``: tunnel configs,
  firewall, probe plan), what apply stores for it;
- render: all of ``vpnctl render``'s artifacts (``render.artifacts``: user-data with its gzip,
  plus one config per tunnel), with EC2's 16 KB user-data limit lifted, since a hub gateway's
  user-data does not fit it before user-data becomes a constant-size bootstrap.

``--no-flows`` renders hubs.py's hubs as they are, without allow flows (how issue 15 measured).

Then the firewall of one spoke (v05, one tunnel per gateway) at 80 and at 1,000 VPCs: its
bytes must not grow when unrelated VPCs join the hub. Target: files and render at 1,000 VPCs
within 3x plan.

    python benchmarks/render_scale.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vpnctl

from benchmarks.hubs import hub_topology
from vpnctl import pipeline, render

SIZES = (250, 500, 1000)
SPOKE = "v05"


def flows(vpcs: int) -> list[str]:
    """The allow list: per spoke tcp/443 to the hub, ping from the hub, tcp/5432 to the next."""
    lines = ["allow:"]
    for i in range(1, vpcs):
        lines.append(f"  - {{from: v{i:02d}, to: v00, proto: tcp, ports: [443]}}")
        lines.append(f"  - {{from: v00, to: v{i:02d}, proto: icmp}}")
        if i + 1 < vpcs:
            lines.append(f"  - {{from: v{i:02d}, to: v{i + 1:02d}, proto: tcp, ports: [5432]}}")
    return lines


def write_hub(directory: Path, vpcs: int, with_flows: bool = True) -> Path:
    path = directory / f"hub{vpcs}.yaml"
    allow = "\n".join(flows(vpcs)) + "\n" if with_flows else ""
    path.write_text(hub_topology(f"hub{vpcs}", vpcs) + allow)
    return path


def cpu(work: Callable[[], object], repeats: int) -> float:
    """Median CPU seconds of ``work`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


STAND_IN = render.Pin("t/software/vpnctl-" + "0" * 64 + ".pyz", "0" * 64)  # plan builds none


def every_gateways_files(planned: pipeline.Plan) -> None:
    for gateway in planned.design.gateways:
        render.gateway_config(planned.topology, planned.design, gateway.name)


def spoke_firewall(path: Path) -> str:
    planned = pipeline.plan(path)
    return render.firewall(planned.design, f"gw-{SPOKE}-a")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-flows", action="store_true", help="hubs.py's hubs as they are, without allow flows"
    )
    args = parser.parse_args()
    gc.set_threshold(50_000, 20, 100)  # what the vpnctl command sets for its short runs
    render.USERDATA_LIMIT = 1 << 30  # measure render, not the user-data limit
    with tempfile.TemporaryDirectory() as tmp:
        print(
            "| hub VPCs | plan CPU s | files CPU s | files / plan | render CPU s | render / plan |"
        )
        print("|---:|---:|---:|---:|---:|---:|", flush=True)
        for size in SIZES:
            path = write_hub(Path(tmp), size, not args.no_flows)
            planned = pipeline.plan(path)
            plan_s = cpu(partial(pipeline.plan, path), args.repeats)
            files_s = cpu(partial(every_gateways_files, planned), args.repeats)
            render_s = cpu(
                partial(render.artifacts, planned.topology, planned.design, STAND_IN), args.repeats
            )
            print(
                f"| {size} | {plan_s:.2f} | {files_s:.2f} | {files_s / plan_s:.1f}x "
                f"| {render_s:.2f} | {render_s / plan_s:.1f}x |",
                flush=True,
            )
        small = spoke_firewall(write_hub(Path(tmp), 80, not args.no_flows))
        large = spoke_firewall(write_hub(Path(tmp), 1000, not args.no_flows))
        print(
            f"\nspoke gw-{SPOKE}-a firewall.nft: {len(small.encode())} bytes at 80 VPCs, "
            f"{len(large.encode())} at 1000"
        )


if __name__ == "__main__":
    main()
