"""The lab's one door to the machine: ``ip``, ``nft`` and processes, in namespaces.

Every command is an argument list (no shell), run with a timeout; a failure raises LabError
with the command and what it printed. Nothing here decides anything.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from vpnctl import processes
from vpnctl.errors import VpnctlError

NETNS_DIR = Path("/run/netns")
ETC_NETNS = Path("/etc/netns")


class LabError(VpnctlError):
    """The machine refused something the lab needs (not root, no ip, a command failed)."""


def run(
    *cmd: str,
    ns: str | None = None,
    stdin: str | None = None,
    check: bool = True,
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    argv = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]} is not installed: {exc}") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(argv)}` did not finish in {timeout}s") from None
    if check and done.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed: {(done.stderr or done.stdout).strip()}")
    return done


def ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run("ip", *(["-n", ns] if ns else []), *args, check=check)


def namespaces() -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir())


def add_namespace(name: str) -> None:
    ip("netns", "add", name)
    ip("link", "set", "lo", "up", ns=name)


def pids(ns: str) -> list[int]:
    done = ip("netns", "pids", ns, check=False)
    return [int(p) for p in done.stdout.split()]


def kill_all(*namespaces: str, grace: float = 2.0) -> None:
    """TERM every process in the namespaces at once, then KILL what is left after ``grace``
    seconds. At once matters: an openvpn with ``explicit-exit-notify`` takes about a second
    to go, so a lab's gateways ended one namespace after another took 7 s to come down."""
    processes.end(lambda: [p for ns in namespaces for p in pids(ns)], grace, poll_s=0.05)


def delete_namespace(name: str) -> None:
    kill_all(name)
    ip("netns", "del", name, check=False)
    hosts = ETC_NETNS / name
    if hosts.is_dir():
        for child in hosts.iterdir():
            child.unlink()
        hosts.rmdir()


def spawn(argv: Sequence[str], ns: str, log: Path) -> None:
    """Start a long-lived process in ``ns``, detached from us: it outlives ``lab up``.

    ``setsid --fork`` double-forks, so the process is nobody's child here (no zombie, nothing
    to wait for); ``lab down`` finds it by its namespace, as it finds everything else."""
    with open(log, "ab") as out:
        subprocess.run(
            ["setsid", "--fork", "ip", "netns", "exec", ns, *argv],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=True,
        )  # fmt: skip
