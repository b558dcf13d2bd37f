"""Start-up of the ``vpnctl`` command: a benchmark, not a test.

Wall and CPU time of ``vpnctl --help`` and of ``vpnctl plan topologies/demo.yaml``, each a
fresh process, beside ``python3 -c pass`` measured in the same run (the ratio is what counts on a
shared machine), plus the modules each imports (from ``python -X importtime``). The target:
``--help`` at most 4x a bare interpreter, and neither command importing boto3, botocore or moto.

    python benchmarks/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("boto3", "botocore", "moto")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's vpnctl, installed or not


def wall(argv: list[str], runs: int, cwd: Path) -> tuple[float, float]:
    """The median wall time and the median CPU time (user + system, from ``wait4``) of
    ``argv`` over ``runs`` fresh processes, in seconds. On a loaded machine a short process
    waits for a core: CPU time shows its own cost where wall time adds the queue."""
    times, cpus = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(argv)} failed")
        cpus.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(times), statistics.median(cpus)


def imported(args: list[str], cwd: Path) -> list[str]:
    """Every module ``vpnctl ARGS`` imports, in order, from ``-X importtime``."""
    argv = [sys.executable, "-X", "importtime", "-m", "vpnctl", *args]
    done = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, check=True)
    return [
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as work:
        here = Path(work)
        shutil.copy(ROOT / "topologies" / "demo.yaml", here / "demo.yaml")
        base, base_cpu = wall([sys.executable, "-c", "pass"], runs, here)
        vpnctl = [sys.executable, "-m", "vpnctl"]
        cases = {"--help": ["--help"], "plan": ["plan", "demo.yaml"]}
        print(
            f"python3 -c pass        {base * 1000:7.1f} ms wall, {base_cpu * 1000:6.1f} ms CPU "
            f"(medians of {runs})"
        )
        for name, args in cases.items():
            took, cpu = wall([*vpnctl, *args], runs, here)
            modules = imported(args, here)
            heavy = sorted({m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY})
            print(
                f"vpnctl {name:<15} {took * 1000:7.1f} ms wall {took / base:4.1f}x, "
                f"{cpu * 1000:6.1f} ms CPU {cpu / base_cpu:4.1f}x  "
                f"{len(modules)} modules, heavy: {', '.join(heavy) or 'none'}"
            )


if __name__ == "__main__":
    main()
