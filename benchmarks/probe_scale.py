"""How the probe scales: 200 targets x 20 echoes at 50 ms, beside fping on the same targets.

Targets are loopback addresses 127.0.0.1-200 (every 127/8 address answers on Linux), so only
the prober is measured, not a network. Figures: wall time against the target of
``20 x 50 ms + timeout`` (+20%), and CPU time of the probe, in-process (the probe's own work)
and as a ``vpnctl probe`` command (with Python's start-up), then fping with ``-i 0``
(no spacing between targets, so it can keep the 50 ms period) for comparison.

    python benchmarks/probe_scale.py [--targets 200] [--count 20] [--interval-ms 50]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from ipaddress import IPv4Address

from vpnctl.probe import prober
from vpnctl.probe.report import Target
from vpnctl.probe.session import Schedule
from vpnctl.topology import Probe


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_command(argv: list[str]) -> tuple[float, float, str]:
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, children_cpu() - cpu, done.stdout + done.stderr


def in_process(addresses: list[str], schedule: Schedule) -> tuple[float, float, int, float]:
    targets = [Target(IPv4Address(a)) for a in addresses]
    cpu, start = time.process_time(), time.perf_counter()
    report = prober.probe(targets, schedule, Probe().warn, Probe().crit)
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    received = sum(r.stats.received for r in report.results if r.stats)
    return wall, used, received, report.lag.p95 if report.lag else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--interval-ms", type=int, default=50)
    parser.add_argument("--timeout-ms", type=int, default=500)
    args = parser.parse_args()
    addresses = [f"127.0.0.{i}" for i in range(1, args.targets + 1)]
    schedule = Schedule(args.count, args.interval_ms, args.timeout_ms)
    budget = (args.count * args.interval_ms + args.timeout_ms) / 1000.0
    print(
        f"{args.targets} targets x {args.count} echoes at {args.interval_ms} ms, "
        f"timeout {args.timeout_ms} ms; wall target <= {1.2 * budget:.2f} s (1.2 x {budget:.2f})"
    )

    wall, cpu, received, lag = in_process(addresses, schedule)
    print(
        f"vpnctl in-process : wall {wall:.3f} s  cpu {cpu:.3f} s  "
        f"replies {received}/{args.targets * args.count}  lag p95 {lag:.2f} ms  "
        f"{'OK' if wall <= 1.2 * budget else 'OVER TARGET'}"
    )

    command = [
        sys.executable,
        "-m",
        "vpnctl",
        "probe",
        "--count",
        str(args.count),
        "--interval-ms",
        str(args.interval_ms),
        "--timeout-ms",
        str(args.timeout_ms),
        "--format",
        "json",
        *(x for a in addresses for x in ("--target", a)),
    ]
    wall, cpu, _out = timed_command(command)
    print(f"vpnctl command    : wall {wall:.3f} s  cpu {cpu:.3f} s  (includes Python start-up)")

    if shutil.which("fping"):
        fping = [
            "fping",
            "-C",
            str(args.count),
            "-p",
            str(args.interval_ms),
            "-i",
            "0",
            "-t",
            str(args.timeout_ms),
            "-q",
            "-B1",
            "-r0",
            *addresses,
        ]
        wall, cpu, out = timed_command(fping)
        replies = sum(v != "-" for line in out.splitlines() for v in line.split(":", 1)[-1].split())
        print(f"fping -i 0        : wall {wall:.3f} s  cpu {cpu:.3f} s  replies {replies}")
    else:
        print("fping: not installed")


if __name__ == "__main__":
    main()
