"""The lab's failover controller: the probes' health and the gateways' life, fed to the same
pure decision the Lambda hook uses, acted on as route changes in the router namespaces.

It runs as a process inside the lab's internet namespace (so ``lab down`` ends it with the
rest). One thread per gateway probes that gateway's tunnels from inside its namespace; the
main loop, a few times a second, reads which gateways the drills have killed (the lab's
stand-in for EC2 instance state), derives every gateway's state (``failover.signals``),
decides (``failover.decision``), moves what must move, and logs each move as one JSON line.
``controller.json`` in the state directory shows what it sees now.

    python -m vpnctl.lab.controller STATE_DIR [--probe-count N] [--probe-interval-ms MS]
        [--probe-timeout-ms MS] [--failures N] [--recoveries N] [--tick-s S]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import threading
import time
from functools import partial
from pathlib import Path

from vpnctl.failover.decision import Choice, Route, decide
from vpnctl.failover.signals import gateway_states
from vpnctl.lab import lifecycle, netthread
from vpnctl.lab.drill import killed
from vpnctl.lab.lifecycle import Lab
from vpnctl.probe import health, prober, session
from vpnctl.probe.atomic import write_atomically
from vpnctl.probe.report import Target, as_run
from vpnctl.topology import Failover


class Controller:
    def __init__(self, lab: Lab, schedule: session.Schedule, policy: Failover) -> None:
        self.lab = lab
        self.schedule = schedule
        self.policy = policy
        self.lock = threading.Lock()
        self.tunnels: dict[str, health.Health] = {}  # "<gateway>|<tunnel>" -> health
        self.healthy_since: dict[str, float] = {}
        self.current: dict[Route, str | None] = {
            (t.name, str(d)): lifecycle.current_gateway(lab, t)
            for t in lab.layout.tables
            for d in t.destinations
        }

    # ----------------------------------------------------------------- probing

    def probe_forever(self, gateway: str) -> None:
        targets, names = [], {}
        for tunnel in self.lab.design.tunnels_by_gateway[gateway]:
            _, far = tunnel.end(gateway)
            targets.append(Target(far.inside_ip, tunnel.link, far.gateway))
            names[far.inside_ip] = tunnel.name
        topo = self.lab.plan.topology
        while True:
            if gateway in killed(self.lab):
                time.sleep(0.2)
                continue
            report = prober.probe(targets, self.schedule, topo.probe.warn, topo.probe.crit)
            now = time.time()
            with self.lock:
                for result in report.results:
                    key = f"{gateway}|{names[result.target.address]}"
                    run = as_run(result, now, topo.probe.crit)
                    self.tunnels[key] = health.step(self.tunnels.get(key, health.Health()),
                                                    run, self.policy,
                                                    topo.probe.crit.loss_pct)  # fmt: skip

    # ----------------------------------------------------------------- deciding

    def tick(self) -> list[Choice]:
        dead = killed(self.lab)
        instances = {g: ("stopped" if g in dead else "running") for g in self.lab.layout.gateways}
        with self.lock:
            down = frozenset(k.split("|")[1] for k, h in self.tunnels.items() if h.state == "DOWN")
            tunnel_health = {k: h.state for k, h in self.tunnels.items()}
        states = gateway_states(self.lab.design, instances, down, healthy_since=self.healthy_since)
        now = time.time()
        for name, state in states.items():
            if state.healthy:
                self.healthy_since.setdefault(name, now)
            else:
                self.healthy_since.pop(name, None)
        choices = decide(self.lab.design, self.current, states, self.policy, now)
        moved = [c for c in choices if c.changed]
        for choice in moved:
            table = next(t for t in self.lab.layout.tables if t.name == choice.table)
            assert choice.chosen is not None
            lifecycle.set_route(self.lab, table, choice.destination, choice.chosen)
            self.current[(choice.table, choice.destination)] = choice.chosen
            print(json.dumps({"at": now, **dataclasses.asdict(choice)}), flush=True)
        self.publish(states, tunnel_health, now)
        return moved

    def publish(self, states: dict, tunnel_health: dict[str, str], now: float) -> None:  # type: ignore[type-arg]
        write_atomically(self.lab.path("controller.json"), json.dumps({
            "at": now,
            "tables": {t: g for (t, _d), g in self.current.items()},
            "routes": {f"{t} {d}": g for (t, d), g in self.current.items()},
            "gateways": {g: s.describe() for g, s in states.items()},
            "tunnels": tunnel_health,
        }, indent=1))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="vpnctl.lab.controller")
    parser.add_argument("state", type=Path)
    parser.add_argument("--probe-count", type=int)
    parser.add_argument("--probe-interval-ms", type=float)
    parser.add_argument("--probe-timeout-ms", type=float, default=1000)
    parser.add_argument("--failures", type=int)
    parser.add_argument("--recoveries", type=int)
    parser.add_argument("--tick-s", type=float, default=0.25)
    args = parser.parse_args()
    settings = json.loads((args.state / "lab.json").read_text())
    lab = lifecycle.open_lab(settings["topology"], args.state.parent)
    topo = lab.plan.topology
    schedule = session.Schedule(args.probe_count or topo.probe.count,
                                args.probe_interval_ms or topo.probe.interval_ms,
                                args.probe_timeout_ms)  # fmt: skip
    policy = dataclasses.replace(
        topo.failover,
        consecutive_failures=args.failures or topo.failover.consecutive_failures,
        recovery_successes=args.recoveries or topo.failover.recovery_successes,
    )
    controller = Controller(lab, schedule, policy)
    for gateway, node in lab.layout.gateways.items():
        netthread.start_in(node.ns, partial(controller.probe_forever, gateway), f"probe-{gateway}")
    while True:
        controller.tick()
        time.sleep(args.tick_s)


if __name__ == "__main__":
    main()
