"""Failure drills: kill gateways (one, or a whole AZ's), measure the outage, bring them back.

``kill`` is the lab's instance termination: the gateway's processes die, its links go down
(so it answers nothing), and it is listed in ``killed.json``, which the controller reads as
the EC2 instance state. ``revive`` undoes it and restarts the gateway's tunnels.

``az`` runs the destroy-an-AZ drill: steady ICMP traffic (every 20 ms) over each flow that
crosses the dying AZ's gateways, the kill, and the measured outage per flow: from the kill to
the first echo answered again, and the echoes lost on the way.
"""

from __future__ import annotations

import contextlib
import json
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from vpnctl.lab import lifecycle, netthread, shell
from vpnctl.lab.layout import HostNode
from vpnctl.lab.lifecycle import Lab
from vpnctl.probe.transport import open_transport

_SEQ = struct.Struct("!8sI")


def _save_killed(lab: Lab, names: set[str]) -> None:
    lab.path("killed.json").write_text(json.dumps(sorted(names)))


def killed(lab: Lab) -> set[str]:
    try:
        return set(json.loads(lab.path("killed.json").read_text()))
    except FileNotFoundError:
        return set()


def gateways_in(lab: Lab, gateway: str | None = None, az: str | None = None) -> list[str]:
    names = [g.name for g in lab.layout.gateways.values()
             if (gateway and g.name == gateway) or (az and g.az == az)]  # fmt: skip
    if not names:
        raise shell.LabError(f"no gateway matches {gateway or az!r} in lab {lab.layout.prefix}")
    return names


HANG = "table inet vlab_hang {\n chain in {\n  type filter hook input priority -10;\n  udp dport 1-65535 drop\n }\n}\n"


def hang(lab: Lab, names: Iterable[str]) -> None:
    """The gateway stays "running" but its tunnels pass nothing: only the probes can tell."""
    for name in names:
        shell.run("nft", "-f", "-", ns=lab.layout.gateways[name].ns, stdin=HANG)


def kill(lab: Lab, names: Iterable[str]) -> None:
    names = list(names)
    _save_killed(lab, killed(lab) | set(names))  # first, so the controller sees it at once
    for name in names:
        ns = lab.layout.gateways[name].ns
        shell.kill_all(ns, grace=0.5)
        for iface in ("wan", "lan"):
            shell.ip("link", "set", iface, "down", ns=ns, check=False)


def revive(lab: Lab, names: Iterable[str]) -> None:
    names = list(names)
    for name in names:
        gw = lab.layout.gateways[name]
        shell.run("nft", "delete", "table", "inet", "vlab_hang", ns=gw.ns, check=False)
        if name not in killed(lab):
            continue  # only hung: its processes and links are still there
        for iface in ("wan", "lan"):
            shell.ip("link", "set", iface, "up", ns=gw.ns)
        lifecycle.gateway_routes(gw)  # the links went down with it, and their routes
        for tunnel in lab.design.tunnels_by_gateway[name]:
            lifecycle.start_openvpn(lab, name, tunnel.name, None)
    _save_killed(lab, killed(lab) - set(names))


# --------------------------------------------------------------------------- traffic


@dataclass
class Stream:
    """Echoes from one host to another, every ``period`` seconds, until stopped."""

    source: HostNode
    target: HostNode
    period: float = 0.02
    sent: dict[int, float] = field(default_factory=dict)  # seq -> when sent
    answered: dict[int, float] = field(default_factory=dict)  # seq -> when answered

    def run(self, stop: threading.Event) -> None:
        token = struct.pack("!Q", id(self))
        transport = open_transport()
        try:
            seq, next_at = 0, time.monotonic()
            while not stop.is_set():
                now = time.monotonic()
                if now >= next_at:
                    self.sent[seq] = now
                    with contextlib.suppress(OSError):  # no route for a moment: counted lost
                        transport.send(self.target.address, seq & 0xFFFF, _SEQ.pack(token, seq))
                    seq, next_at = seq + 1, next_at + self.period
                for reply in transport.receive(max(0.0, next_at - time.monotonic())):
                    if reply.source == self.target.address and reply.payload[:8] == token:
                        (_, got) = _SEQ.unpack_from(reply.payload)
                        self.answered.setdefault(got, reply.at)
        finally:
            transport.close()

    def outage(self, since: float) -> tuple[float | None, int]:
        """The outage after ``since`` and the echoes it cost.

        The outage runs from the first echo lost (the moment the path died, a little after
        the kill is ordered) to the first answer to an echo sent after the last one lost:
        the first packet through again. None while the path has not come back."""
        after = sorted(s for s, at in self.sent.items() if at >= since)
        lost = [s for s in after if s not in self.answered]
        if not lost:
            return 0.0, 0
        back = [self.answered[s] for s in after if s > lost[-1] and s in self.answered]
        if not back:
            return None, len(lost)
        return min(back) - self.sent[lost[0]], len(lost)

    def settled(self, since: float, quiet: float = 1.0) -> bool:
        """Whether echoes have been answered again for ``quiet`` seconds since the last loss."""
        after = sorted(s for s, at in self.sent.items() if at >= since)
        lost = [s for s in after if s not in self.answered and time.monotonic() - self.sent[s] > 1]
        if not lost:
            return time.monotonic() - since > quiet + 1
        answered = [s for s in after if s > lost[-1] and s in self.answered]
        return bool(answered) and time.monotonic() - self.answered[answered[0]] > quiet


@dataclass(frozen=True)
class Outage:
    source: str
    target: str
    seconds: float | None  # None: never came back within the drill
    lost: int
    sent: int


def streams_across(lab: Lab, az: str) -> list[Stream]:
    """One stream per VPC that talks ICMP with the AZ's VPC: from its host in the AZ's position
    to a surviving host of the victim VPC, so the path starts through the dying gateways."""
    victim_vpc = next(g.vpc for g in lab.layout.gateways.values() if g.az == az)
    vpc = lab.design.vpcs[victim_vpc]
    position = sorted(s.az for s in vpc.routing_subnets).index(az)
    survivors = [h for h in lab.layout.hosts if h.vpc == victim_vpc and h.routed and h.az != az]
    if not survivors:
        raise shell.LabError(f"{victim_vpc} has no AZ left after {az}: nothing can survive")
    streams: list[Stream] = []
    for flow in lab.plan.topology.allow:
        if flow.proto not in ("icmp", "all") or victim_vpc not in (flow.src, flow.dst):
            continue
        other = flow.src if flow.dst == victim_vpc else flow.dst
        hosts = sorted((h for h in lab.layout.hosts if h.vpc == other and h.routed),
                       key=lambda h: h.az or "")  # fmt: skip
        source = hosts[min(position, len(hosts) - 1)]
        if flow.src == other and all(s.source.vpc != other for s in streams):
            streams.append(Stream(source, survivors[0]))
    if not streams:
        raise shell.LabError(f"the drill needs an allowed icmp flow with {victim_vpc}; add one")
    return streams


def az(lab: Lab, zone: str, settle: float = 2.0, limit: float = 60.0,
       say: Callable[[str], None] = print, keep_dead: bool = False,
       how: str = "terminate") -> list[Outage]:  # fmt: skip
    streams = streams_across(lab, zone)
    stop = threading.Event()
    threads = [netthread.start_in(s.source.ns, partial(s.run, stop), f"drill-{s.source.ns}")
               for s in streams]  # fmt: skip
    time.sleep(settle)
    victims = gateways_in(lab, az=zone)
    say(f"{'killing' if how == 'terminate' else 'hanging'} {', '.join(victims)}")
    since = time.monotonic()
    (kill if how == "terminate" else hang)(lab, victims)
    deadline = since + limit
    while time.monotonic() < deadline and not all(s.settled(since) for s in streams):
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(5)
    results = [_outage(s, since) for s in streams]
    if not keep_dead:
        revive(lab, victims)
    return results


def _outage(stream: Stream, since: float) -> Outage:
    seconds, lost = stream.outage(since)
    return Outage(f"{stream.source.vpc}/{stream.source.az}", f"{stream.target.vpc}/"
                  f"{stream.target.az} {stream.target.address}", seconds, lost,
                  sum(1 for at in stream.sent.values() if at >= since))  # fmt: skip


def describe(outages: list[Outage]) -> str:
    lines = [f"{'FROM':<24} {'TO':<38} {'OUTAGE':>8} {'LOST':>6} {'SENT':>6}"]
    for o in outages:
        shown = f"{o.seconds:.2f}s" if o.seconds is not None else "never"
        lines.append(f"{o.source:<24} {o.target:<38} {shown:>8} {o.lost:>6} {o.sent:>6}")
    return "\n".join(lines)
