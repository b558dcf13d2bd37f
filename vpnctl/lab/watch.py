"""``lab watch``: steady flows over every allowed path, and what a change cost them.

One stream per allowed flow (ICMP echo, or TCP handshakes or UDP datagrams to the flow's first
ports, answered by echo servers in the target hosts) from each routing host of the flow's
source VPC to the routing host in the same position of its destination, a few echoes a
second, for a bounded time. Per flow: echoes sent and lost, and the longest gap, the longest
time between two answers in a row (about one period when nothing is lost). Echoes sent in the
last second are not counted: their answers may still be on the way.

It only reads the lab (its namespaces and the topology it is given), so it runs while
another lab command (``lab apply``, a drill) changes the lab. Its echo servers hold the flows'
ports in the target hosts: ``lab test`` of the same ports waits until it is done.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from vpnctl.lab import echo, netthread, shell
from vpnctl.lab.drill import Stream
from vpnctl.lab.layout import HostNode
from vpnctl.lab.lifecycle import Lab
from vpnctl.topology import Flow

MAX_SECONDS = 3600
MAX_FLOWS = 64
PERIOD_S = 0.2  # five echoes a second per flow
LATE_S = 1.0  # answers still counted this long after the last echo


@dataclass(frozen=True)
class FlowResult:
    source: HostNode
    target: HostNode
    proto: str
    port: int | None
    sent: int
    lost: int
    longest_gap_s: float

    def as_json(self) -> dict[str, object]:
        return {
            "from": self.source.vpc, "to": self.target.vpc, "proto": self.proto,
            "port": self.port, "sent": self.sent, "lost": self.lost,
            "longest_gap_s": round(self.longest_gap_s, 3),
            "source": f"{self.source.vpc}/{self.source.az} {self.source.address}",
            "target": f"{self.target.vpc}/{self.target.az} {self.target.address}",
        }  # fmt: skip


def samples(flow: Flow) -> list[tuple[str, int | None]]:
    """What stands for a flow: ICMP, or its first two port ranges' first ports."""
    if flow.proto in ("icmp", "all"):
        return [("icmp", None)]
    return [(flow.proto, lo) for lo, _ in flow.ports[:2]] or [(flow.proto, 7)]


def streams(lab: Lab) -> list[Stream]:
    """Every allowed path's stream, from each routing host of the source VPC."""
    found: dict[tuple[str, str, str, int], Stream] = {}
    routed = [h for h in lab.layout.hosts if h.routed]
    for flow in lab.plan.topology.allow:
        sources = sorted((h for h in routed if h.vpc == flow.src), key=lambda h: h.az or "")
        targets = sorted((h for h in routed if h.vpc == flow.dst), key=lambda h: h.az or "")
        for i, source in enumerate(sources):
            target = targets[i % len(targets)]
            for proto, port in samples(flow):
                key = (source.ns, target.ns, proto, port or 0)
                found.setdefault(key, Stream(source, target, proto, port or 0, PERIOD_S))
    if len(found) > MAX_FLOWS:
        raise shell.LabError(f"{len(found)} flows to watch; at most {MAX_FLOWS}")
    return list(found.values())


def watch(lab: Lab, seconds: float, say: Callable[[str], None] = lambda _: None
          ) -> list[FlowResult]:  # fmt: skip
    if not 0 < seconds <= MAX_SECONDS:
        raise shell.LabError(f"--seconds must be in (0, {MAX_SECONDS}]")
    running = streams(lab)
    servers = {(s.proto, s.target.ns, s.target.address, s.port) for s in running
               if s.proto != "icmp"}  # fmt: skip
    with echo.serving(servers):
        stop = threading.Event()
        threads = [netthread.start_in(s.source.ns, partial(s.run, stop), f"watch-{s.source.ns}")
                   for s in running]  # fmt: skip
        start = time.monotonic()
        say(f"watching {len(running)} flows for {seconds:g}s")
        time.sleep(seconds)
        cutoff = time.monotonic()
        time.sleep(LATE_S)
        stop.set()
        for thread in threads:
            thread.join(5)
    return [_result(s, start, cutoff) for s in running]


def _result(stream: Stream, start: float, cutoff: float) -> FlowResult:
    counted = sorted(seq for seq, at in stream.sent.items() if start <= at <= cutoff)
    answers = sorted(stream.answered[s] for s in counted if s in stream.answered)
    lost = sum(1 for s in counted if s not in stream.answered)
    port = stream.port if stream.proto != "icmp" else None
    return FlowResult(stream.source, stream.target, stream.proto, port, len(counted), lost,
                      longest_gap(stream, counted, answers, start, cutoff))  # fmt: skip


def longest_gap(stream: Stream, counted: list[int], answers: list[float], start: float,
                cutoff: float) -> float:  # fmt: skip
    """The longest time between two answers in a row; a loss at the start runs from its echo,
    one at the end to the end of the watch."""
    if not answers:
        return cutoff - start
    gaps = [b - a for a, b in itertools.pairwise(answers)]
    if counted[0] not in stream.answered:
        gaps.append(answers[0] - stream.sent[counted[0]])
    if counted[-1] not in stream.answered:
        gaps.append(cutoff - answers[-1])
    return max(gaps, default=0.0)


def describe(results: list[FlowResult]) -> str:
    lines = [f"{'FROM':<28} {'TO':<28} {'FLOW':<9} {'SENT':>6} {'LOST':>6} {'LONGEST GAP':>12}"]
    for r in results:
        kind = r.proto + (f":{r.port}" if r.port else "")
        lines.append(f"{r.source.vpc + '/' + (r.source.az or ''):<28} "
                     f"{r.target.vpc + '/' + (r.target.az or ''):<28} {kind:<9} {r.sent:>6} "
                     f"{r.lost:>6} {r.longest_gap_s:>11.2f}s")  # fmt: skip
    return "\n".join(lines)
