"""An in-memory gateway for the agent: what a backend was told, and what it runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vpnctl.agent.backend import BackendError


@dataclass
class FakeBackend:
    running: dict[str, bytes] = field(default_factory=dict)  # tunnel -> config it started with
    calls: list[str] = field(default_factory=list)
    firewall: bytes | None = None
    fail_on: str | None = None  # a call that raises, e.g. "start a--b"
    kernel_routes: dict[str, str] = field(default_factory=dict)  # prefix -> device
    up: set[str] = field(default_factory=set)  # tun devices that are up

    def _call(self, what: str) -> None:
        self.calls.append(what)
        if what == self.fail_on:
            raise BackendError(f"{what} failed")

    def alive(self) -> frozenset[str]:
        return frozenset(self.running)

    def start(self, tunnel: str, config: Path) -> None:
        self._call(f"start {tunnel}")
        self.running[tunnel] = config.read_bytes()

    def restart(self, tunnel: str, config: Path) -> None:
        self._call(f"restart {tunnel}")
        self.running[tunnel] = config.read_bytes()

    def stop(self, tunnel: str) -> None:
        self._call(f"stop {tunnel}")
        self.running.pop(tunnel, None)

    def load_firewall(self, ruleset: Path) -> None:
        self._call("load firewall")
        self.firewall = ruleset.read_bytes()

    def fetch_keys(self, tunnels: Iterable[str], environment: Mapping[str, str]) -> None:
        self._call(f"keys {' '.join(tunnels)} for {environment.get('VPNCTL_GATEWAY', '?')}")

    def routes(self) -> dict[str, str]:
        return {p: d for p, d in self.kernel_routes.items() if d in self.up}

    def devices_up(self) -> frozenset[str]:
        return frozenset(self.up)

    def set_route(self, prefix: str, device: str) -> None:
        self._call(f"route {prefix} dev {device}")
        self.kernel_routes[prefix] = device

    def delete_route(self, prefix: str, device: str) -> None:
        self._call(f"route del {prefix} dev {device}")
        self.kernel_routes.pop(prefix, None)
