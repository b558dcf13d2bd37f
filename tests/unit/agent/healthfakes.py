"""A fake network, clock and AWS door for the agent's health loop and publisher."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from vpnctl.agent import health, publish
from vpnctl.agent.config import Config
from vpnctl.probe import report, spec
from vpnctl.probe.measure import Echo
from vpnctl.probe.report import Report, Target
from vpnctl.probe.session import Schedule
from vpnctl.topology import Failover, Probe

FAR = IPv4Address("169.254.64.2")
SIBLING = IPv4Address("10.64.0.20")
TUNNEL = "a-a--b-a"


@dataclass
class Clock:
    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


Answers = Callable[[IPv4Address, int], bool]  # (address, echo number) -> answered


@dataclass
class Net:
    """Answers each echo as ``answers`` says; a run takes ``run_s`` of the fake clock."""

    clock: Clock
    answers: Answers = lambda _address, _n: True
    run_s: float = 1.0
    sent: int = 0
    runs: int = 0

    def __call__(self, targets: Sequence[Target], schedule: Schedule) -> Report:
        started = self.clock()
        rows = []
        for target in targets:
            row = []
            for seq in range(schedule.count):
                answered = self.answers(target.address, self.sent)
                self.sent += 1
                row.append(Echo(seq, 0.0, 0.0, 12.0 if answered else None))
            rows.append(row)
        results, lag = report.measured(targets, rows, Probe().warn, Probe().crit)
        self.clock.now += self.run_s
        self.runs += 1
        return Report(results, Probe().warn, Probe().crit, started, "fake", lag)


def plan(siblings: tuple[str, ...] = ()) -> spec.Spec:
    target = Target(FAR, "a--b", "gw-b-a")
    return spec.Spec("t", "gw-a-a", Probe(), Failover(), (target,), siblings)


def config(tunnels: dict[str, IPv4Address] | None = None, siblings: tuple[str, ...] = ()) -> Config:
    wanted = {TUNNEL: FAR} if tunnels is None else tunnels
    files = {
        f"openvpn/{t}.conf": f"dev tun\nifconfig 169.254.64.1 {far}\n".encode()
        for t, far in wanted.items()
    }
    files["probe.json"] = spec.dumps(plan(siblings)).encode()
    return Config.of(files)


@dataclass
class Sink:
    ticks: int = 0
    moved: list[health.Transition] = field(default_factory=list)
    readies: list[str] = field(default_factory=list)

    def tick(
        self,
        report: Report,
        board: health.Board,
        moved: Sequence[health.Transition],
        now: float,
    ) -> None:
        self.ticks += 1
        self.moved += moved

    def ready(self, digest: str, now: float) -> bool:
        self.readies.append(digest)
        return True


def loop(
    net: Net,
    sink: health.Sink,
    converged: bool = True,
    siblings: dict[str, IPv4Address] | None = None,
) -> health.Loop:
    found = siblings or {}
    names = tuple(sorted(found))
    made = health.Loop(
        net, sink, lambda _names: found, Schedule(5, 200), clock=net.clock, sleep=net.clock.sleep
    )
    cfg = config(siblings=names)
    made.update(health.Converged(cfg.digest, converged, cfg), plan(names))
    return made


@dataclass
class Door:
    """The AWS door, in memory; ``broken`` makes every call fail as AWS would."""

    broken: bool = False
    refuse: int = 0  # refuse this many entries of the next PutEvents
    datums: list[publish.Datum] = field(default_factory=list)
    events: list[publish.Entry] = field(default_factory=list)
    tags: list[tuple[str, str, str]] = field(default_factory=list)
    calls: int = 0

    def _call(self) -> None:
        self.calls += 1
        if self.broken:
            raise RuntimeError("Could not connect to the endpoint URL")

    def put_metric_data(self, datums: Sequence[publish.Datum]) -> None:
        self._call()
        self.datums += datums

    def put_events(self, entries: Sequence[publish.Entry]) -> Sequence[int]:
        self._call()
        refused = list(range(min(self.refuse, len(entries))))
        self.refuse = 0
        self.events += [e for i, e in enumerate(entries) if i not in refused]
        return refused

    def tag_instance(self, instance_id: str, key: str, value: str) -> None:
        self._call()
        self.tags.append((instance_id, key, value))

    def find_gateways(self, topology: str, names: Sequence[str]) -> dict[str, IPv4Address]:
        self._call()
        return {}


def details(door: Door) -> list[dict[str, Any]]:
    import json

    return [json.loads(e["Detail"]) for e in door.events]
