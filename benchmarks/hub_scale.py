"""How far a hub renders and applies: hubs of 80, 250, 500 and 1,000 VPCs (benchmarks/hubs.py).

For each hub, each command a process of its own (the whole process: start-up, plan, limits,
render or the AWS calls), on a lock file written by a first ``vpnctl plan``:

- ``vpnctl plan``: the same topology and lock, the yardstick of the ratios;
- ``vpnctl render --out DIR``: every gateway's user-data, desired configuration and configs;
- ``vpnctl apply --dry-run --endpoint-url URL`` against a moto server (``ThreadedMotoServer``
  on 127.0.0.1, with the functional tests' corrections: the sandbox's, in a process of its
  own), which observes an empty account and prints the whole change set (every gateway's
  user-data rendered).

Each line gives the exit status, the wall time, the CPU time (user + system of the command's
process; the emulator's own work is not counted) and its peak resident
memory, plus the render CPU over the plan CPU (medians of ``--repeats`` runs for plan and
render, one run of apply). Then the gzipped user-data of one spoke gateway (``gw-v05-a``, the
bytes its launch template carries) at each size.

Targets (issue 15): the 1,000-VPC hub renders and applies (dry-run); its render within 3x its
plan CPU; the spoke's user-data the same bytes within 5% at 80 and at 1,000 VPCs.

    python benchmarks/hub_scale.py [--sizes 80 250 500 1000] [--repeats 3] [--no-apply]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, run as a script

from benchmarks.hubs import hub_topology
from vpnctl.aws import sandbox

ROOT = Path(__file__).resolve().parents[1]
SIZES = (80, 250, 500, 1000)
SPOKE = "gw-v05-a"


@dataclass(frozen=True)
class Run:
    status: int
    wall: float  # seconds
    cpu: float  # user + system seconds of the command's process
    peak_mib: float


def vpnctl(args: Sequence[str], env: dict[str, str]) -> Run:
    """One ``python -m vpnctl ARGS`` process, its output thrown away, measured by ``wait4``."""
    argv = [sys.executable, "-m", "vpnctl", *args]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(f"    vpnctl {' '.join(args[:1])} exited {code}: {err.decode()[-600:]}", flush=True)
    return Run(code, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def median_run(args: Sequence[str], env: dict[str, str], repeats: int) -> Run:
    """The run of median CPU time among ``repeats``; the first failure if one fails."""
    runs = []
    for _ in range(repeats):
        run = vpnctl(args, env)
        if run.status != 0:
            return run
        runs.append(run)
    return sorted(runs, key=lambda r: r.cpu)[len(runs) // 2]


def line(size: int, what: str, run: Run, ratio: str = "") -> str:
    return (
        f"| {size} | {what} | {run.status} | {run.wall:.2f} | {run.cpu:.2f} "
        f"| {run.peak_mib:.0f} | {ratio} |"
    )


def moto(home: Path) -> str:
    """The sandbox's moto server (``ThreadedMotoServer`` on 127.0.0.1, with the functional
    tests' corrections) in a process of its own, so that no command's peak memory counts it."""
    return sandbox.start(home / "sandbox.json").url


def environment(home: Path) -> dict[str, str]:
    creds = home / "credentials"
    creds.write_text("[default]\naws_access_key_id=x\naws_secret_access_key=x\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PYTHONPATH=str(ROOT),
        AWS_SHARED_CREDENTIALS_FILE=str(creds),
        AWS_CONFIG_FILE=str(home / "none"),
        VPNCTL_CACHE_DIR=str(home / "cache"),  # built once, by the first size's apply
    )
    return env


def bench(size: int, home: Path, env: dict[str, str], url: str | None, repeats: int) -> int:
    """Plan, render and (with ``url``) apply --dry-run one hub; its spoke's user-data bytes."""
    path = home / f"hub{size}.yaml"
    path.write_text(hub_topology(f"hub{size}", size))
    first = vpnctl(["plan", str(path)], env)  # writes the lock the others read
    print(line(size, "plan (first, writes the lock)", first), flush=True)
    plan = median_run(["plan", str(path)], env, repeats)
    print(line(size, "plan", plan), flush=True)
    out = home / f"out{size}"
    render = median_run(["render", str(path), "--out", str(out)], env, repeats)
    print(line(size, "render", render, f"{render.cpu / plan.cpu:.1f}x"), flush=True)
    if url is not None:
        applied = vpnctl(["apply", str(path), "--dry-run", "--endpoint-url", url], env)
        print(line(size, "apply --dry-run", applied, f"{applied.cpu / plan.cpu:.1f}x"), flush=True)
    spoke = out / SPOKE / "user-data"
    found = spoke.stat().st_size if spoke.is_file() else 0
    shutil.rmtree(out, ignore_errors=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-apply", action="store_true", help="plan and render only")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="vpnctl-hub-scale-"))
    url = None if args.no_apply else moto(home)
    try:
        env = environment(home)
        print("| hub VPCs | command | exit | wall s | CPU s | peak MiB | CPU / plan CPU |")
        print("|---:|---|---:|---:|---:|---:|---:|", flush=True)
        sizes = {size: bench(size, home, env, url, args.repeats) for size in args.sizes}
    finally:
        sandbox.stop(home / "sandbox.json")
        shutil.rmtree(home, ignore_errors=True)
    print()
    for size, found in sizes.items():
        print(f"spoke {SPOKE} user-data (gzipped, as launched), hub of {size}: {found:,} bytes")
    small, large = sizes.get(min(sizes)), sizes.get(max(sizes))
    if small and large:
        print(f"{max(sizes)} / {min(sizes)} VPCs: {large / small:.4f} (target within 5%)")
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
