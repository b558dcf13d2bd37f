"""How the agent's actions happen: systemd units on a gateway, plain processes in a lab.

Both take the same calls; commands run through an injected ``Runner`` (argv -> exit status
and output), so tests see every command without running one, and the lab runs the real thing.
Routes into the tunnels are set with ``ip`` on both (``IpRoutes``), inside the lab gateway's
namespace in a lab.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from vpnctl import processes
from vpnctl.agent.config import DEVICE


class BackendError(RuntimeError):
    """A command the agent needed failed; the message names it and what it said."""


Runner = Callable[[Sequence[str], Mapping[str, str] | None], "subprocess.CompletedProcess[str]"]


def run_command(
    argv: Sequence[str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    merged = {**os.environ, **env} if env else None
    return subprocess.run(list(argv), capture_output=True, text=True, env=merged, timeout=120)


def checked(runner: Runner, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    done = runner(argv, env)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise BackendError(f"`{' '.join(argv)}` failed: {said[-1] if said else done.returncode}")
    return done.stdout


class Backend(Protocol):
    def alive(self) -> frozenset[str]:
        """Tunnels whose OpenVPN runs now."""
        ...

    def start(self, tunnel: str, config: Path) -> None: ...

    def restart(self, tunnel: str, config: Path) -> None: ...

    def stop(self, tunnel: str) -> None: ...

    def load_firewall(self, ruleset: Path) -> None: ...

    def fetch_keys(self, tunnels: Iterable[str], environment: Mapping[str, str]) -> None: ...

    def routes(self) -> dict[str, str]:
        """Prefix -> tun device, for the routes set on tunnel devices (not the kernel's own)."""
        ...

    def devices_up(self) -> frozenset[str]:
        """The tunnel devices that exist and are up (routes can be set on them)."""
        ...

    def set_route(self, prefix: str, device: str) -> None: ...

    def delete_route(self, prefix: str, device: str) -> None: ...


class IpRoutes:
    """Routes on the tunnels' tun devices with ``ip``, each command after ``_wrap()`` (``ip
    netns exec NS`` in a lab). Only ``tun<port>`` devices are looked at, and never the kernel's
    link route to the far inside address."""

    runner: Runner

    def _wrap(self) -> Sequence[str]:
        return ()

    def _ip(self, *args: str) -> str:
        return checked(self.runner, [*self._wrap(), "ip", *args])

    def routes(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for route in json.loads(self._ip("-4", "-j", "route", "show") or "[]"):
            device, dst = str(route.get("dev", "")), str(route.get("dst", ""))
            if DEVICE.fullmatch(device) and route.get("protocol") != "kernel" and dst != "default":
                found[dst if "/" in dst else f"{dst}/32"] = device
        return found

    def devices_up(self) -> frozenset[str]:
        links = json.loads(self._ip("-j", "link", "show") or "[]")
        return frozenset(str(link["ifname"]) for link in links
                         if DEVICE.fullmatch(str(link.get("ifname", "")))
                         and "UP" in link.get("flags", ()))  # fmt: skip

    def set_route(self, prefix: str, device: str) -> None:
        self._ip("route", "replace", prefix, "dev", device)

    def delete_route(self, prefix: str, device: str) -> None:
        self._ip("route", "del", prefix, "dev", device)


UNIT = "vpnctl-openvpn@{}.service"


@dataclass
class Systemd(IpRoutes):
    """A gateway: one ``vpnctl-openvpn@<tunnel>`` unit per tunnel, nft for the firewall, and
    the boot helper for keys (it reads the tunnel list from the environment it is given)."""

    runner: Runner = run_command
    keys_command: Sequence[str] = ("python3", "/usr/local/lib/vpnctl/gateway_aws.py", "keys")

    def alive(self) -> frozenset[str]:
        out = checked(self.runner, ["systemctl", "list-units", "--state=active", "--plain",
                                    "--no-legend", "--type=service", UNIT.format("*")])  # fmt: skip
        names = (line.split()[0] for line in out.splitlines() if line.strip())
        prefix, suffix = UNIT.split("{}")
        return frozenset(n[len(prefix) : -len(suffix)] for n in names if n.startswith(prefix))

    def start(self, tunnel: str, config: Path) -> None:
        checked(self.runner, ["systemctl", "start", "--no-block", UNIT.format(tunnel)])

    def restart(self, tunnel: str, config: Path) -> None:
        checked(self.runner, ["systemctl", "restart", "--no-block", UNIT.format(tunnel)])

    def stop(self, tunnel: str) -> None:
        checked(self.runner, ["systemctl", "stop", UNIT.format(tunnel)])

    def load_firewall(self, ruleset: Path) -> None:
        checked(self.runner, ["nft", "-f", str(ruleset)])  # one transaction: old or new, whole

    def fetch_keys(self, tunnels: Iterable[str], environment: Mapping[str, str]) -> None:
        checked(self.runner, list(self.keys_command), dict(environment))


@dataclass
class Processes(IpRoutes):
    """A lab gateway: ``openvpn`` processes in network namespace ``ns``, found again by their
    pid files in ``run_dir``, so a restarted agent knows what its predecessor started."""

    ns: str
    run_dir: Path
    runner: Runner = run_command
    extra_args: Callable[[str], Sequence[str]] = lambda _tunnel: ()
    grace_s: float = 3.0
    started: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _pidfile(self, tunnel: str) -> Path:
        return self.run_dir / f"{tunnel}.pid"

    def pid(self, tunnel: str) -> int | None:
        try:
            pid = int(self._pidfile(tunnel).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_openvpn(pid) else None

    def alive(self) -> frozenset[str]:
        if not self.run_dir.is_dir():
            return frozenset()
        found = (p.name[: -len(".pid")] for p in self.run_dir.glob("*.pid"))
        return frozenset(t for t in found if self.pid(t) is not None)

    def start(self, tunnel: str, config: Path) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        pidfile = self._pidfile(tunnel)
        pidfile.unlink(missing_ok=True)
        log = open(self.run_dir / f"{tunnel}.log", "ab")  # noqa: SIM115 - the child keeps it
        argv = ["ip", "netns", "exec", self.ns, "openvpn", "--config", str(config),
                "--writepid", str(pidfile), *self.extra_args(tunnel)]  # fmt: skip
        with log:
            self.started[tunnel] = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 5
        while self.pid(tunnel) is None:
            if self.started[tunnel].poll() is not None or time.monotonic() > deadline:
                raise BackendError(f"openvpn for {tunnel} did not start; see {log.name}")
            time.sleep(0.02)

    def restart(self, tunnel: str, config: Path) -> None:
        self.stop(tunnel)
        self.start(tunnel, config)

    def stop(self, tunnel: str) -> None:
        pid = self.pid(tunnel)
        if pid is not None:
            _terminate(pid, self.grace_s)
        child = self.started.pop(tunnel, None)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=self.grace_s)
        self._pidfile(tunnel).unlink(missing_ok=True)

    def load_firewall(self, ruleset: Path) -> None:
        checked(self.runner, ["ip", "netns", "exec", self.ns, "nft", "-f", str(ruleset)])

    def fetch_keys(self, tunnels: Iterable[str], environment: Mapping[str, str]) -> None:
        """Lab configs carry their keys inline: nothing to fetch."""

    def _wrap(self) -> Sequence[str]:
        return ("ip", "netns", "exec", self.ns)


def _is_openvpn(pid: int) -> bool:
    try:
        return b"openvpn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _terminate(pid: int, grace_s: float) -> None:
    processes.end(lambda: [pid] if _is_openvpn(pid) else [], grace_s)
