"""``lab test``: the connectivity matrix, and a probe over every link.

For every ``allow`` flow, real connections from each routing host of the source VPC to each
routing host of the destination, so every pair of AZs, the same and different ones: a TCP
connection that carries a message each way and closes, a UDP datagram and its echo, or ICMP
echo. Each needs its request and its reply to pass, and a reply between different AZs comes back
through another gateway than its request (each routing subnet's table prefers its own AZ's), so
this is where the lab's security groups, tracking connections per interface as AWS does, would
drop what AWS drops. They must pass.

Samples outside ``allow`` must be dropped: the same flow backwards where it is not allowed, a
port next to the allowed ones, and the destination VPC's private host, whose subnet is never
routed across. Servers and clients run on threads inside the hosts' namespaces.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from ipaddress import IPv4Address

from vpnctl.lab import drill, echo, netthread
from vpnctl.lab.layout import HostNode
from vpnctl.lab.lifecycle import Lab
from vpnctl.probe import prober, session
from vpnctl.probe.report import Report, Target
from vpnctl.topology import Flow, Thresholds

TIMEOUT = echo.TIMEOUT
_NO_LIMIT = Thresholds(100.0, 1e9)  # a check asks "does anything come back", not "how well"


@dataclass(frozen=True)
class Check:
    proto: str
    source: HostNode
    target: HostNode
    port: int | None
    expect: bool  # True: must pass

    def describe(self) -> str:
        port = f":{self.port}" if self.port else ""
        return (
            f"{self.proto:<4} {self.source.vpc}/{self.source.az or 'private'} -> "
            f"{self.target.vpc}/{self.target.az or 'private'} {self.target.address}{port}"
        )


@dataclass(frozen=True)
class Outcome:
    check: Check
    passed: bool
    tries: int = 1

    @property
    def expected(self) -> bool:
        return self.passed == self.check.expect


def allowed(flows: tuple[Flow, ...], src: str, dst: str, proto: str, port: int | None) -> bool:
    for f in flows:
        if (f.src, f.dst) != (src, dst) or f.proto not in (proto, "all"):
            continue
        if port is None or not f.ports or any(lo <= port <= hi for lo, hi in f.ports):
            return True
    return False


def plan_checks(lab: Lab) -> list[Check]:
    flows = lab.plan.topology.allow
    hosts = lab.layout.hosts
    checks: list[Check] = []
    for flow in flows:
        sources = [h for h in hosts if h.vpc == flow.src and h.routed]
        targets = [h for h in hosts if h.vpc == flow.dst and h.routed]
        private = next(h for h in hosts if h.vpc == flow.dst and not h.routed)
        for proto, port in _samples(flow):
            checks += [Check(proto, s, t, port, True) for s in sources for t in targets]
            checks.append(Check(proto, sources[0], private, port, False))
            back = allowed(flows, flow.dst, flow.src, proto, port)
            checks.append(Check(proto, targets[0], sources[0], port, back))
        if flow.proto in ("tcp", "udp"):
            port = _outside(flow)
            checks.append(Check(flow.proto, sources[0], targets[0], port,
                                allowed(flows, flow.src, flow.dst, flow.proto, port)))  # fmt: skip
    return _unique(checks)


def _samples(flow: Flow) -> list[tuple[str, int | None]]:
    if flow.proto == "icmp":
        return [("icmp", None)]
    if flow.proto == "all":
        return [("icmp", None), ("tcp", 7), ("udp", 7)]
    return [(flow.proto, lo) for lo, _ in flow.ports[:2]] or [(flow.proto, 7)]


def _outside(flow: Flow) -> int:
    port = 1
    while any(lo <= port <= hi for lo, hi in flow.ports):
        port += 1
    return port if flow.ports else 9


def _unique(checks: list[Check]) -> list[Check]:
    seen, result = set(), []
    for c in checks:
        key = (c.proto, c.source.ns, c.target.ns, c.port)
        if key not in seen:
            seen.add(key)
            result.append(c)
    return result


# --------------------------------------------------------------------------- running


def servers(checks: list[Check]) -> AbstractContextManager[None]:
    """TCP and UDP echo servers on every (host, port) the checks aim at."""
    return echo.serving(
        {(c.proto, c.target.ns, c.target.address, c.port) for c in checks if c.port}
    )


def attempt(check: Check) -> bool:
    def connect() -> bool:
        if check.proto == "icmp":
            return _ping(check.target.address)
        return echo.exchange(check.proto, check.target.address, check.port or 0)

    return netthread.call_in(check.source.ns, connect, timeout=TIMEOUT * 4)


def _ping(address: IPv4Address) -> bool:
    schedule = session.Schedule(count=3, interval_ms=100, timeout_ms=TIMEOUT * 1000)
    report = prober.probe([Target(address)], schedule, _NO_LIMIT, _NO_LIMIT)
    stats = report.results[0].stats
    return stats is not None and stats.received > 0


def run_checks(checks: list[Check]) -> list[Outcome]:
    with servers(checks), ThreadPoolExecutor(max_workers=16) as pool:
        return settle(checks, lambda some: list(pool.map(attempt, some)))


def settle(checks: list[Check], attempts: Callable[[list[Check]], list[bool]]) -> list[Outcome]:
    """Every check once, and each that should have passed but dropped once more.

    A reply proves a path, so a pass stands, wanted or not: a firewall that lets a packet through
    now and then is a leak. A missing reply may be one packet lost on a loaded machine (``_ping``
    sends three echoes for the same reason), while a firewall drops every time; so a surprising
    drop is asked again, and its second answer stands. The outcome says it took two tries.
    """
    first = [Outcome(c, ok) for c, ok in zip(checks, attempts(checks), strict=True)]
    again = [o.check for o in first if o.check.expect and not o.passed]
    second = {c: Outcome(c, ok, 2) for c, ok in zip(again, attempts(again), strict=True)}
    return [second.get(o.check, o) for o in first]


def describe(outcomes: list[Outcome]) -> str:
    lines = [f"{'CHECK':<64} {'EXPECT':<7} {'GOT':<7} RESULT"]
    for o in outcomes:
        tries = f" ({o.tries} tries)" if o.tries > 1 else ""
        lines.append(f"{o.check.describe():<64} {_word(o.check.expect):<7} {_word(o.passed):<7} "
                     f"{'ok' if o.expected else 'UNEXPECTED'}{tries}")  # fmt: skip
    bad = sum(1 for o in outcomes if not o.expected)
    lines.append(f"{len(outcomes)} checks, {bad} unexpected")
    return "\n".join(lines)


def _word(passed: bool) -> str:
    return "pass" if passed else "drop"


# --------------------------------------------------------------------------- link probes


def probe_links(lab: Lab, count: int = 10, interval_ms: float = 100) -> list[tuple[str, Report]]:
    """From every live gateway, the far inside address of each of its tunnels."""
    topo = lab.plan.topology
    schedule = session.Schedule(count, interval_ms, 1000)
    dead = drill.killed(lab)

    def one(gateway: str) -> tuple[str, Report]:
        targets = []
        for tunnel in lab.design.tunnels_by_gateway[gateway]:
            _, far = tunnel.end(gateway)
            targets.append(Target(far.inside_ip, tunnel.link, far.gateway))
        ns = lab.layout.gateways[gateway].ns
        run = lambda: prober.probe(targets, schedule, topo.probe.warn, topo.probe.crit)  # noqa: E731
        return gateway, netthread.call_in(ns, run, timeout=60)

    live = [g for g in lab.layout.gateways if g not in dead]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, live))


def describe_links(reports: list[tuple[str, Report]]) -> str:
    lines = [f"{'FROM':<26} {'TO':<26} {'LINK':<32} {'LOSS%':>6} {'MEDIAN':>8} STATUS"]
    for gateway, report in reports:
        for r in report.results:
            loss = f"{r.stats.loss_pct:.1f}" if r.stats else "-"
            median = r.stats.rtt.median if r.stats and r.stats.rtt else None
            shown = f"{median:.2f}" if median is not None else "-"
            lines.append(f"{gateway:<26} {r.target.gateway or '':<26} {r.target.link or '':<32} "
                         f"{loss:>6} {shown:>8} {r.status.name}")  # fmt: skip
    return "\n".join(lines)
