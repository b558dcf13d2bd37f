"""What is live for a topology, beside what the design wants: the ``status`` report. Pure.

Per VPC: each gateway's instance and state, its Elastic IP and what DNS answers for its name
(flagged when that is not the Elastic IP), flagged too while the address is not on the
instance yet or its source/destination check is still on (its boot or the failover hook does
those, not apply: no pending change of apply's counts them), and which gateway each route
table uses now (the preferred one, or another after a failover). Per tunnel, the version of
the keys each end's region holds (``keyversions``: a digest, never a key), flagged when the
ends differ, and an unfinished ``keys rotate``. Under each gateway, what it reports of itself
(``Running``): the configuration digest its instance's agent runs (``READY_TAG``) against the
designed one, and each tunnel's latest probe results. The number of pending changes says how
far AWS has drifted from the design.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vpnctl.aws import convergence, keyversions, names, probes
from vpnctl.aws import live as lv
from vpnctl.aws.changes import ChangeSet
from vpnctl.aws.dns import Answer
from vpnctl.aws.intent import Intent
from vpnctl.design import Gateway, RouteTable


@dataclass(frozen=True)
class Report:
    lines: tuple[str, ...]
    problems: int

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def report(
    intent: Intent,
    live: lv.Live,
    answers: Mapping[str, Answer],
    pending: ChangeSet,
    running: Running | None = None,
) -> Report:
    lines: list[str] = []
    problems = 0
    design = intent.design
    states = {s.gateway: s for s in running.states} if running else {}
    for vpc in design.vpcs.values():
        lines.append(f"vpc {vpc.name} (account {vpc.account}, {vpc.region}):")
        for name in vpc.gateways:
            line, bad = _gateway(design.gateway_by_name[name], live, answers)
            lines.append(line)
            problems += bad
            if running is not None:
                found = _running_lines(states[name], running.probes.get(name, ()))
                lines += [text for text, _ in found]
                problems += sum(b for _, b in found)
        for name in vpc.route_tables:
            line, bad = _table(design.route_table_by_name[name], live)
            lines.append(line)
            problems += bad
    keys = _key_lines(intent, live)
    lines += [line for line, _ in keys]
    problems += sum(bad for _, bad in keys)
    count = len(pending.changes)
    lines.append(
        f"drift: {count} change(s) pending (see `vpnctl apply --dry-run`)"
        if count
        else "drift: none; AWS matches the design"
    )
    return Report(tuple(lines), problems + (1 if count else 0))


@dataclass(frozen=True)
class Running:
    """What the gateways report of themselves: the configuration each runs against the one
    designed (``convergence``), and each tunnel's latest probe results (``probes``)."""

    states: tuple[convergence.State, ...]
    probes: Mapping[str, tuple[probes.TunnelProbe, ...]]

    def document(self) -> dict[str, Any]:
        """``status --format json``: the promised shape (docs/interfaces.md)."""
        return {"gateways": [self.gateway(s) for s in self.states]}

    def gateway(self, state: convergence.State) -> dict[str, Any]:
        return {
            "name": state.gateway,
            "account": state.account,
            "region": state.region,
            "instance": state.instance,
            "ready": state.ready,
            "config": {
                "designed": state.designed,
                "running": state.running,
                "converged": state.converged,
            },
            "why": state.why() or None,
            "tunnels": [_tunnel(t) for t in self.probes.get(state.gateway, ())],
        }


def _tunnel(t: probes.TunnelProbe) -> dict[str, Any]:
    return {
        "name": t.tunnel,
        "link": t.link,
        "up": None if t.up is None else t.up.value >= 1.0,
        "up_at": t.up.at if t.up else None,
        "loss_pct": t.loss_pct.value if t.loss_pct else None,
        "loss_at": t.loss_pct.at if t.loss_pct else None,
    }


def _running_lines(
    state: convergence.State, tunnels: tuple[probes.TunnelProbe, ...]
) -> list[tuple[str, int]]:
    running = state.running[:12] if state.running else "none reported"
    flag = "" if state.converged else f"  <-- NOT CONVERGED: {state.why()}"
    ready = "ready" if state.ready else "not ready"
    found = [(f"    config designed {state.designed[:12]}, running {running}, {ready}{flag}",
              int(not state.converged))]  # fmt: skip
    for t in tunnels:
        up = "no report" if t.up is None else ("UP" if t.up.value >= 1.0 else "DOWN")
        loss = "loss ?" if t.loss_pct is None else f"loss {t.loss_pct.value:g}%"
        at = f" at {t.up.at}" if t.up else ""
        bad = t.up is not None and t.up.value < 1.0
        found.append((f"    tunnel {t.tunnel}: {up}, {loss}{at}" + ("  <-- DOWN" if bad else ""),
                      int(bad)))  # fmt: skip
    return found


def _instances(live: lv.Live) -> Iterator[lv.Instance]:
    for region in live.regions.values():
        yield from (i for i in region.instances if i.state in names.LIVE_STATES)


# A gateway's own Elastic IP and source/destination check are not apply's to set (no change of
# apply's fixes them): the instance's boot does both, the failover hook again on launch and at
# every scheduled reconcile.
OWNER = "its boot or the failover hook"


def _gateway(gateway: Gateway, live: lv.Live, answers: Mapping[str, Answer]) -> tuple[str, int]:
    region = live.region(gateway.account, gateway.region)
    instance = next((i for i in region.instances if i.name == gateway.name), None)
    address = next((a for a in region.addresses if a.name == gateway.name), None)
    flags: list[str] = []
    state = f"{instance.id} {instance.state}" if instance else "no instance"
    if instance is None or instance.state != names.RUNNING:
        flags.append("NOT RUNNING")
    eip = address.public_ip if address else "none"
    if address is None:
        flags.append("NO ELASTIC IP")
    elif instance is not None and address.instance_id != instance.id:
        flags.append(f"ADDRESS NOT YET ON THE INSTANCE ({OWNER} attaches it)")
    if instance is not None and instance.state in names.LIVE_STATES and instance.source_dest_check:
        flags.append(f"SOURCE/DEST CHECK STILL ON ({OWNER} turns it off)")
    answer = answers.get(gateway.fqdn)
    if answer is not None and not answer.asked:
        dns = f"dns {answer.error or 'not asked'}"
    elif answer is None or answer.error:
        dns = f"dns ? ({answer.error if answer else 'not asked'})"
        flags.append("DNS UNANSWERED")
    else:
        dns = f"dns {','.join(answer.addresses)}"
        if address is None or answer.addresses != (address.public_ip,):
            flags.append("DNS MISMATCH")
    flag = f"  <-- {', '.join(flags)}" if flags else ""
    return f"  gateway {gateway.name}: {state}, eip {eip}, {dns}{flag}", int(bool(flags))


def _table(table: RouteTable, live: lv.Live) -> tuple[str, int]:
    vpc = table.vpc
    enis = {i.eni_id: i.name for i in _instances(live) if i.eni_id and i.name}
    found = next(
        (
            t
            for r in live.regions.values()
            for t in r.route_tables
            if t.owned and t.name == table.name
        ),
        None,
    )
    if found is None:
        return f"  route table {table.name}: missing  <-- NOT APPLIED", 1
    used = sorted(
        {
            enis.get(r.target, f"{r.target} (not a live gateway)")
            for r in found.routes
            if r.destination in map(str, table.destinations)
        }
    )
    if not used:
        return f"  route table {table.name} ({vpc}): no routes  <-- NOT APPLIED", 1
    note = "preferred" if used == [table.via] else f"preferred is {table.via}"
    bad = any(u not in table.gateways for u in used)
    flag = "  <-- ROUTES TO NO GATEWAY" if bad else ""
    return f"  route table {table.name}: via {', '.join(used)} ({note}){flag}", int(bad)


def _key_lines(intent: Intent, live: lv.Live) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = [("tunnel keys:", 0)]
    for tunnel in intent.design.tunnels:
        versions = keyversions.of_tunnel(intent, live, tunnel)
        if versions.version is not None:
            found.append((f"  tunnel {tunnel.name}: version {versions.version} at both ends", 0))
            continue
        flag = "KEYS DIFFER" if all(versions.by_place.values()) else "KEYS MISSING"
        line = f"  tunnel {tunnel.name}: {versions.describe()}  <-- {flag}"
        found.append((line, 1))
    if live.rotation is not None:
        r = live.rotation
        line = (
            f"  rotation of {r.link} begun {r.since} is unfinished "
            f"(`vpnctl keys rotate --link {r.link}` finishes it)  <-- ROTATION UNFINISHED"
        )
        found.append((line, 1))
    return found
