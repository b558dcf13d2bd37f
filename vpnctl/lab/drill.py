"""Failure drills: kill gateways (one, or a whole AZ's), measure the outage, bring them back.

``kill`` is the lab's instance termination: the gateway's links go down (so it answers nothing),
its instance in the lab's AWS emulator terminates and EC2's notifications go out (what the
failover hook acts on), and its processes die; ``killed.json`` lists it. ``hang`` leaves it
running but passing nothing and its agent stopped. ``revive`` undoes either: a killed gateway
gets a replacement instance and its agent starts again, which restarts its tunnels and reports
ready before any route may move back onto it.

``az`` runs the destroy-an-AZ drill: steady traffic (every 20 ms) over an allowed flow of each
VPC that talks with the dying AZ's VPC, through the dying gateways, the kill, and the measured
outage per flow: from the kill to the first echo answered again, and the echoes lost on the
way. The traffic is what the flow allows: ICMP echo, else UDP datagrams to an echo server, else
TCP connections (one handshake each), so a topology that allows only TCP or UDP is drilled too.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

from vpnctl.lab import agents, awspath, echo, emulator, lifecycle, netthread, shell
from vpnctl.lab.layout import HostNode
from vpnctl.lab.lifecycle import Lab
from vpnctl.probe.transport import open_transport
from vpnctl.topology import Flow

_SEQ = struct.Struct("!8sI")


def _save_killed(lab: Lab, names: set[str]) -> None:
    lab.path("killed.json").write_text(json.dumps(sorted(names)))


def killed(lab: Lab) -> set[str]:
    try:
        return set(json.loads(lab.path("killed.json").read_text()))
    except FileNotFoundError:
        return set()


def hung(lab: Lab) -> set[str]:
    try:
        return set(json.loads(lab.path("hung.json").read_text()))
    except FileNotFoundError:
        return set()


def gateways_in(lab: Lab, gateway: str | None = None, az: str | None = None) -> list[str]:
    names = [g.name for g in lab.layout.gateways.values()
             if (gateway and g.name == gateway) or (az and g.az == az)]  # fmt: skip
    if not names:
        raise shell.LabError(f"no gateway matches {gateway or az!r} in lab {lab.layout.prefix}")
    return names


HANG = """table inet vlab_hang {
 chain hin { type filter hook input priority -10; policy drop; iifname "lo" accept; }
 chain hfwd { type filter hook forward priority -10; policy drop; }
 chain hout { type filter hook output priority -10; policy drop; oifname "lo" accept; }
}
"""


def hang(lab: Lab, names: Iterable[str]) -> None:
    """The gateway's instance stays "running", but it forwards, answers and sends nothing, and
    its agent publishes nothing (stopped, not killed: its figures go silent)."""
    names = list(names)
    lab.path("hung.json").write_text(json.dumps(sorted(hung(lab) | set(names))))
    for name in names:
        awspath.signal_agent(lab, name, signal.SIGSTOP)
        shell.run("nft", "-f", "-", ns=lab.layout.gateways[name].ns, stdin=HANG)


def kill(lab: Lab, names: Iterable[str]) -> None:
    """The gateways' instances terminate: their processes die, their links go down, and the
    emulator's instances terminate, EC2's notifications sent (``emulator.terminate``)."""
    names = list(names)
    _save_killed(lab, killed(lab) | set(names))
    for name in names:
        ns = lab.layout.gateways[name].ns
        for iface in ("wan", "lan"):
            shell.ip("link", "set", iface, "down", ns=ns, check=False)
    emulator.terminate(lab, names)
    shell.kill_all(*(lab.layout.gateways[name].ns for name in names), grace=0.5)


def revive(lab: Lab, names: Iterable[str], boot_s: float = 0.0) -> dict[str, str]:
    """Hung gateways resume; killed ones get a replacement instance (``emulator.launch``),
    whose agent starts ``boot_s`` later (a boot), converges and reports ready. Returns the
    replacements' instance ids."""
    names = list(names)
    made: dict[str, str] = {}
    for name in names:
        gw = lab.layout.gateways[name]
        shell.run("nft", "delete", "table", "inet", "vlab_hang", ns=gw.ns, check=False)
        if name not in killed(lab):
            awspath.signal_agent(lab, name, signal.SIGCONT)
            continue  # only hung: its processes and links are still there
        for iface in ("wan", "lan"):
            shell.ip("link", "set", iface, "up", ns=gw.ns)
        lifecycle.gateway_routes(gw)  # the links went down with it, and their routes
        if emulator.instance_of(lab.state, name) is not None:
            made[name] = emulator.launch(lab, name)
    if boot_s:
        time.sleep(boot_s)
    for name in names:
        if name in killed(lab):
            agents.start(lab.state, name, lab.layout.gateways[name].ns)  # it converges
    _save_killed(lab, killed(lab) - set(names))
    lab.path("hung.json").write_text(json.dumps(sorted(hung(lab) - set(names))))
    return made


# --------------------------------------------------------------------------- traffic


@dataclass
class Stream:
    """Echoes from one host to another, every ``period`` seconds, until stopped: ICMP echo, a
    UDP datagram to an echo server, or a TCP connection (answered when its handshake completes
    within ``window``, less than the first SYN retransmission, so each attempt is one try)."""

    source: HostNode
    target: HostNode
    proto: str = "icmp"
    port: int = 0
    period: float = 0.02
    window: float = 0.5
    sent: dict[int, float] = field(default_factory=dict)  # seq -> when sent
    answered: dict[int, float] = field(default_factory=dict)  # seq -> when answered

    def describe(self) -> str:
        return self.proto + (f":{self.port}" if self.port else "")

    def run(self, stop: threading.Event) -> None:
        {"icmp": self._icmp, "udp": self._udp, "tcp": self._tcp}[self.proto](stop)

    def _ticks(self, stop: threading.Event) -> Iterator[tuple[int, float]]:
        """(seq, seconds to wait for answers) until stopped: a new seq when one is due."""
        seq, next_at = 0, time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_at:
                self.sent[seq] = now
                yield seq, 0.0
                seq, next_at = seq + 1, next_at + self.period
            yield -1, max(0.0, next_at - time.monotonic())

    def _icmp(self, stop: threading.Event) -> None:
        token = struct.pack("!Q", id(self))
        transport = open_transport()
        try:
            for seq, wait in self._ticks(stop):
                if seq >= 0:
                    with contextlib.suppress(OSError):  # no route for a moment: counted lost
                        transport.send(self.target.address, seq & 0xFFFF, _SEQ.pack(token, seq))
                    continue
                for reply in transport.receive(wait):
                    if reply.source == self.target.address and reply.payload[:8] == token:
                        (_, got) = _SEQ.unpack_from(reply.payload)
                        self.answered.setdefault(got, reply.at)
        finally:
            transport.close()

    def _udp(self, stop: threading.Event) -> None:
        token = struct.pack("!Q", id(self))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((str(self.target.address), self.port))
            for seq, wait in self._ticks(stop):
                if seq >= 0:
                    with contextlib.suppress(OSError):
                        sock.send(_SEQ.pack(token, seq))
                    continue
                sock.settimeout(max(wait, 0.001))
                with contextlib.suppress(OSError):  # a timeout, or an ICMP error: nothing back
                    data = sock.recv(64)
                    if data[:8] == token and len(data) == _SEQ.size:
                        self.answered.setdefault(_SEQ.unpack(data)[1], time.monotonic())

    def _tcp(self, stop: threading.Event) -> None:
        pending: dict[socket.socket, tuple[int, float]] = {}
        with selectors.DefaultSelector() as selector:
            for seq, wait in self._ticks(stop):
                if seq >= 0:
                    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    sock.setblocking(False)
                    sock.connect_ex((str(self.target.address), self.port))
                    selector.register(sock, selectors.EVENT_WRITE)
                    pending[sock] = (seq, self.sent[seq] + self.window)
                    continue
                for key, _ in selector.select(wait) if pending else ():
                    sock = key.fileobj  # type: ignore[assignment]
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        self.answered.setdefault(pending[sock][0], time.monotonic())
                    pending[sock] = (pending[sock][0], 0.0)  # done: closed below
                if not pending:
                    time.sleep(wait)
                now = time.monotonic()
                for sock in [s for s, (_, until) in pending.items() if until <= now]:
                    selector.unregister(sock)
                    sock.close()
                    del pending[sock]
            for sock in pending:
                sock.close()

    def outage(self, since: float) -> tuple[float | None, int]:
        """The outage after ``since`` and the echoes it cost.

        The outage runs from the first echo lost (the moment the path died, a little after
        the kill is ordered) to the first answer to an echo sent after the last one lost:
        the first packet through again. None while the path has not come back. An echo of
        the stream's last second unanswered is not counted lost: its answer may still be on
        the way when it stops. One answered is counted, whenever it was sent: ``settled``
        may end the drill on an answer sent in that last second."""
        sent, answered = self._seen()
        end = max(sent.values(), default=since) - 1.0
        after = sorted(s for s, at in sent.items() if since <= at <= end)
        lost = [s for s in after if s not in answered]
        if not lost:
            return 0.0, 0
        back = [at for s, at in answered.items() if s > lost[-1]]
        if not back:
            return None, len(lost)
        return min(back) - sent[lost[0]], len(lost)

    def settled(self, since: float, quiet: float = 1.0) -> bool:
        """Whether echoes have been answered again for ``quiet`` seconds since the last loss."""
        sent, answered = self._seen()
        now = time.monotonic()
        after = sorted(s for s, at in sent.items() if at >= since)
        lost = [s for s in after if s not in answered and now - sent[s] > 1]
        if not lost:
            return now - since > quiet + 1
        back = [s for s in after if s > lost[-1] and s in answered]
        return bool(back) and now - answered[back[0]] > quiet

    def _seen(self) -> tuple[dict[int, float], dict[int, float]]:
        """Copies of what was sent and answered: the stream's thread adds to both while the
        drill reads them, and iterating a dict another thread grows raises. A copy is taken
        in one step under the interpreter's lock."""
        return dict(self.sent), dict(self.answered)


@dataclass(frozen=True)
class Outage:
    source: str
    target: str
    seconds: float | None  # None: never came back within the drill
    lost: int
    sent: int
    kind: str = "icmp"  # what the stream sent: icmp, udp:PORT, tcp:PORT


_KINDS = ("icmp", "udp", "tcp")  # preferred in this order: ICMP has no server, UDP no backoff


def streams_across(lab: Lab, az: str) -> list[Stream]:
    """One stream per VPC that an allowed flow joins with the AZ's VPC, so that its path runs
    through the dying gateways: from its host in the AZ's position to a surviving host of the
    victim VPC, or, where only the victim's hosts may start the flow, from a survivor to that
    host (then the replies run through the dying gateways). ICMP echo where allowed, else UDP,
    else TCP on the flow's first port."""
    victim_vpc = next(g.vpc for g in lab.layout.gateways.values() if g.az == az)
    vpc = lab.design.vpcs[victim_vpc]
    position = sorted(s.az for s in vpc.routing_subnets).index(az)
    survivors = [h for h in lab.layout.hosts if h.vpc == victim_vpc and h.routed and h.az != az]
    if not survivors:
        raise shell.LabError(f"{victim_vpc} has no AZ left after {az}: nothing can survive")
    streams: list[Stream] = []
    allow = lab.plan.topology.allow
    for other in sorted(({f.src for f in allow} | {f.dst for f in allow}) - {victim_vpc}):
        flows = [f for f in allow if {f.src, f.dst} == {other, victim_vpc}]
        if not flows:
            continue
        hosts = sorted((h for h in lab.layout.hosts if h.vpc == other and h.routed),
                       key=lambda h: h.az or "")  # fmt: skip
        near = hosts[min(position, len(hosts) - 1)]
        flow = min(flows, key=lambda f: (_kind(f), f.src != other))
        proto = _KINDS[_kind(flow)]
        port = 0 if proto == "icmp" else (flow.ports[0][0] if flow.ports else 7)
        source, target = (near, survivors[0]) if flow.src == other else (survivors[0], near)
        streams.append(Stream(source, target, proto, port))
    if not streams:
        raise shell.LabError(f"no allowed flow joins {victim_vpc} with another VPC: "
                             "nothing to measure the drill with")  # fmt: skip
    return streams


def _kind(flow: Flow) -> int:
    return 0 if flow.proto in ("icmp", "all") else _KINDS.index(flow.proto)


def az(lab: Lab, zone: str, settle: float = 2.0, limit: float = 60.0,
       say: Callable[[str], None] = print, keep_dead: bool = False,
       how: str = "terminate") -> list[Outage]:  # fmt: skip
    streams = streams_across(lab, zone)
    with echo.serving((s.proto, s.target.ns, s.target.address, s.port) for s in streams
                      if s.proto != "icmp"):  # fmt: skip
        return _drill(lab, zone, streams, settle, limit, say, keep_dead, how)


def _drill(lab: Lab, zone: str, streams: list[Stream], settle: float, limit: float,
           say: Callable[[str], None], keep_dead: bool, how: str) -> list[Outage]:  # fmt: skip
    stop = threading.Event()
    threads = [netthread.start_in(s.source.ns, partial(s.run, stop), f"drill-{s.source.ns}")
               for s in streams]  # fmt: skip
    time.sleep(settle)
    victims = gateways_in(lab, az=zone)
    emulator.warm(lab, victims)  # the lab's boto3 start-up is no part of the outage
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
                  sum(1 for at in stream.sent.values() if at >= since),
                  stream.describe())  # fmt: skip


def describe(outages: list[Outage]) -> str:
    lines = [f"{'FROM':<24} {'TO':<38} {'VIA':<9} {'OUTAGE':>8} {'LOST':>6} {'SENT':>6}"]
    for o in outages:
        shown = f"{o.seconds:.2f}s" if o.seconds is not None else "never"
        lines.append(f"{o.source:<24} {o.target:<38} {o.kind:<9} {shown:>8} {o.lost:>6} "
                     f"{o.sent:>6}")  # fmt: skip
    return "\n".join(lines)
