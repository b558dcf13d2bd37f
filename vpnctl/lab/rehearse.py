"""``lab apply``: bring a running lab to an edited topology through the gateway agents.

The edit is planned as every command plans (the same lock file), and laid out keeping every
running gateway's uplink, port and route table id (``layout.Slots``). Then, make before break:

1. namespaces, links and routes for new VPCs, gateways and hosts; new route tables; the running
   route tables gain the new destinations (a route the failover moved stays where it is);
2. every gateway's hosts file and the security groups, as apply writes them for the edit;
3. the hook runners and the route follower stop (they read the design when they start);
4. the desired folders are rewritten in waves (``_waves``): first every gateway that restarts
   no tunnel (new gateways among them), then, one group at a time, the ends of the tunnels whose
   config changed, their routes first drained to a gateway of their table that stays up and
   put back once the group's tunnels are up. Kept keys make an unchanged tunnel's config
   byte-identical, so its agent leaves it alone. Each wave waits for its agents' digests;
5. gateways whose image the edit changes are replaced, AZ by AZ (``replace``): they keep
   their files through the waves, then each step drains, kills, boots them fresh on the new
   image's OpenVPN and waits for them;
6. the hook runners and the route follower (``awspath``) start on the edit; only then are removed gateways' and VPCs' namespaces
   deleted.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path

from vpnctl import replacement as rp
from vpnctl.lab import agents, awspath, lifecycle, secgroups, shell
from vpnctl.lab import layout as layoutmod
from vpnctl.lab import replace as labreplace
from vpnctl.lab.lifecycle import Lab


@dataclass(frozen=True)
class Change:
    """What the edit does to one gateway: lines like ``+ tunnel a--b``."""

    gateway: str
    lines: tuple[str, ...]


def apply(lab: Lab, say: Callable[[str], None] = print, wait: float = 90) -> list[Change]:
    lifecycle.require_root()
    _refuse(lab)
    before = {ns for ns in shell.namespaces() if ns.startswith(f"{lab.layout.prefix}-")}
    old_tables = _old_slots(lab).tables
    new_ns = [ns for ns in lab.layout.namespaces if ns not in before]
    gone = sorted(before - set(lab.layout.namespaces))
    lifecycle.make_namespaces(lab, new_ns)
    lifecycle.make_wires(lab, [w for w in lab.layout.wires if {w.a.ns, w.b.ns} & set(new_ns)])
    lifecycle.make_routes(lab, new_ns)
    for table in lab.layout.tables:
        if table.ns in before:
            if table.name in old_tables:
                _sync_destinations(lab, table)
            else:
                lifecycle.add_table(lab, table)
    lifecycle.write_hosts_files(lab, [])
    secgroups.install(lifecycle.security_groups(lab))
    wanted, old = _desired(lab, set(new_ns))
    changes = [_change(lab, g, wanted[g], old[g]) for g in lab.layout.gateways]
    replacing = labreplace.plan(lab, set(new_ns))  # a new image: replaced after the waves
    for why in replacing.why:
        changes = [_replaced(c, why) for c in changes]
    wanted = {**wanted, **{g: old[g] for g in replacing.gateways}}
    # the hook runners and the route follower read the design when they start: they end now
    # and start on the edit once the agents converged (meanwhile routes stay, or are drained)
    awspath.pause(lab)
    lifecycle.save_slots(lab)
    _record_topology(lab)
    published: set[str] = set()
    waits: dict[str, dict[str, int]] = {}
    for wave in _waves(lab, wanted, old):
        drained = _drain(lab, wave) if any(_restarts(wanted[g], old[g]) for g in wave) else []
        for gateway, tunnels in _publish(lab, set(new_ns), wanted, old, wave).items():
            waits[gateway] = dict(tunnels)
        published |= wave
        _wait(lab, _ready_to_wait(lab, waits, published), wait)
        _restore(lab, drained)
    labreplace.run(lab, replacing, _desired(lab, set(new_ns))[0], say, wait)
    awspath.follow(lab)
    for ns in gone:
        shell.delete_namespace(ns)
    for gateway in _removed_gateways(lab):
        changes.append(Change(gateway, ("- gateway (its namespace is removed)",)))
        shutil.rmtree(agents.folder(lab.state, gateway), ignore_errors=True)
    for change in changes:
        say(f"{change.gateway}: " + "; ".join(change.lines))
    return changes


def _replaced(change: Change, why: rp.Why) -> Change:
    if change.gateway != why.gateway:
        return change
    return Change(change.gateway, (f"~ replaced ({'; '.join(why.reasons)})",))


def _refuse(lab: Lab) -> None:
    if not lab.path("journal.jsonl").exists():
        raise shell.LabError(f"no lab of {lab.plan.topology.name} is up; run `vpnctl lab up "
                             f"{lab.plan.source.file}` first")  # fmt: skip
    settings = lab.settings()
    if settings.get("impair"):
        raise shell.LabError("lab apply does not rehearse on a lab started with --impair "
                             "(its relays serve the links of the first topology); run `vpnctl "
                             "lab down`, then `lab up` without it")  # fmt: skip
    recorded = settings.get("vpcs")
    for name, cidr in recorded.items() if isinstance(recorded, dict) else ():
        vpc = lab.design.vpcs.get(name)
        if vpc is not None and str(vpc.cidr) != cidr:
            raise shell.LabError(
                f"{lab.plan.source.file}: VPC {name} would move from {cidr} to {vpc.cidr}: the "
                f"running lab keeps its addresses; keep the lock file of the first topology "
                f"beside the edited one ({lab.plan.lock_path})")  # fmt: skip


def _old_slots(lab: Lab) -> layoutmod.Slots:
    try:
        return layoutmod.Slots.from_json(json.loads(lab.path("slots.json").read_text()))
    except FileNotFoundError:
        return layoutmod.Slots({}, {})


def _removed_gateways(lab: Lab) -> list[str]:
    base = lab.path("agents")
    return sorted(p.name for p in base.iterdir() if p.is_dir() and p.name not in
                  lab.layout.gateways) if base.is_dir() else []  # fmt: skip


def _sync_destinations(lab: Lab, table: layoutmod.TableNode) -> None:
    """New destinations via the table's first gateway; routes to what the design dropped go.
    A destination already routed keeps its gateway (the failover may have moved it)."""
    tid = str(table.table_id)
    out = shell.ip("route", "show", "table", tid, ns=table.ns).stdout
    present = {IPv4Network(line.split()[0]) for line in out.splitlines()
               if line.strip() and not line.startswith("throw")}  # fmt: skip
    via = str(lab.layout.gateway_ip(table.gateways[0]))
    for destination in table.destinations:
        if destination not in present:
            shell.ip("route", "add", str(destination), "via", via, "table", tid, ns=table.ns)
    for stale in present - set(table.destinations):
        shell.ip("route", "del", str(stale), "table", tid, ns=table.ns, check=False)


Files = dict[str, dict[str, bytes]]  # gateway -> relative path -> content


def _desired(lab: Lab, new_ns: set[str]) -> tuple[Files, Files]:
    """Every gateway's desired files for the edit, and those it has now (none if new)."""
    secrets = agents.lab_keys(lab.state, lab.design)
    wanted, old = {}, {}
    for gw in lab.layout.gateways.values():
        wanted[gw.name] = agents.files_for(lab.plan.topology, lab.design, gw.name, lab.state,
                                           secrets)  # fmt: skip
        old[gw.name] = {} if gw.ns in new_ns else agents.current(lab.state, gw.name)
    return wanted, old


def _restarts(wanted: Mapping[str, bytes], old: Mapping[str, bytes]) -> set[str]:
    """The running tunnels whose config changes: their agent restarts them."""
    return {p for p, c in old.items() if p.startswith("openvpn/") and p in wanted
            and wanted[p] != c}  # fmt: skip


def _waves(lab: Lab, wanted: Files, old: Files) -> list[set[str]]:
    """Gateways in the order they converge: first every one that restarts nothing (new
    gateways, new tunnels, firewalls), then, one group at a time, the two ends of the tunnels
    that restart, joined when they share a gateway; so each group's routes can be drained to
    gateways that stay up."""
    groups: list[set[str]] = []
    for tunnel in lab.design.tunnels:
        ends = {e.gateway for e in tunnel.ends()}
        if not any(_conf(tunnel.name) in _restarts(wanted[g], old[g]) for g in ends):
            continue
        joined = [g for g in groups if g & ends]
        groups = [g for g in groups if not g & ends] + [set().union(ends, *joined)]
    calm = set(lab.layout.gateways) - set().union(*groups)
    return [calm, *groups] if calm else groups


Drained = list[tuple[layoutmod.TableNode, str, str]]  # table, destination, gateway it was on


def _drain(lab: Lab, gateways: set[str]) -> Drained:
    """Make before break: every route through a gateway about to restart a tunnel moves to
    another gateway of its table (as the failover would), and comes back when converged. A
    route with no other gateway stays (a one-AZ VPC: its restart costs what ``watch`` shows)."""
    moved: Drained = []
    for table in lab.layout.tables:
        others = [g for g in table.gateways if g not in gateways and g in lab.layout.gateways]
        for destination in table.destinations:
            via = _via(lab, table, str(destination))
            if via in gateways and others:
                lifecycle.set_route(lab, table, str(destination), others[0])
                moved.append((table, str(destination), via))
    return moved


def _restore(lab: Lab, drained: Drained) -> None:
    for table, destination, gateway in drained:
        if gateway in lab.layout.gateways:
            lifecycle.set_route(lab, table, destination, gateway)


def _via(lab: Lab, table: layoutmod.TableNode, destination: str) -> str | None:
    out = shell.ip("route", "show", "table", str(table.table_id), destination, ns=table.ns,
                   check=False).stdout.split()  # fmt: skip
    if "via" not in out:
        return None
    address = out[out.index("via") + 1]
    return next((g.name for g in lab.layout.gateways.values() if str(g.private) == address), None)


def _change(lab: Lab, gateway: str, files: Mapping[str, bytes],
            before: Mapping[str, bytes]) -> Change:  # fmt: skip
    lines = _describe(before, files) if before else (
        f"+ gateway ({len(lab.design.tunnels_by_gateway[gateway])} tunnels)",)  # fmt: skip
    return Change(gateway, lines or ("unchanged",))


def _publish(lab: Lab, new_ns: set[str], wanted: Files, old: Files,
             wave: set[str]) -> dict[str, Mapping[str, int]]:  # fmt: skip
    """Publish the wave's desired folders (starting new gateways); per gateway, the tunnels to
    wait for, with the log offset their READY must come after."""
    waits: dict[str, Mapping[str, int]] = {}
    for name in sorted(wave):
        gw, files, before = lab.layout.gateways[name], wanted[name], old[name]
        tunnels = {t.name for t in lab.design.tunnels_by_gateway[name]}
        moved = {t for t in tunnels if before.get(_conf(t)) != files[_conf(t)]}
        waits[name] = {t: _size(agents.tunnel_log(lab.state, name, t)) for t in moved}
        if gw.ns in new_ns:
            lifecycle.start_gateway(lab, gw, files)
        elif files != before:
            agents.publish(lab.state, name, files)
    return waits


def _conf(tunnel: str) -> str:
    return f"openvpn/{tunnel}.conf"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _describe(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> tuple[str, ...]:
    names = {"firewall.nft": "firewall", "probe.json": "probe plan", "routes.json": "routes"}
    lines = []
    for path in sorted(set(old) | set(new)):
        what = names.get(path) or f"tunnel {path.removeprefix('openvpn/').removesuffix('.conf')}"
        if path not in old:
            lines.append(f"+ {what}")
        elif path not in new:
            lines.append(f"- {what}")
        elif old[path] != new[path]:
            lines.append(f"~ {what}" + (" (restarted)" if path.startswith("openvpn/") else ""))
    return tuple(lines)


def _record_topology(lab: Lab) -> None:
    settings = lab.settings()
    settings["topology"] = str(Path(lab.plan.source.file).resolve())
    settings["vpcs"] = {name: str(vpc.cidr) for name, vpc in lab.design.vpcs.items()}
    lab.path("lab.json").write_text(json.dumps(settings))


def _ready_to_wait(lab: Lab, waits: Mapping[str, Mapping[str, int]],
                   published: set[str]) -> dict[str, Mapping[str, int]]:  # fmt: skip
    """The waits of tunnels both of whose ends run their new configuration by now (a tunnel
    to a gateway of a later wave comes up with that wave)."""
    ends = {t.name: {e.gateway for e in t.ends()} for t in lab.design.tunnels}
    return {g: {t: o for t, o in tunnels.items() if ends[t] <= published}
            for g, tunnels in waits.items()}  # fmt: skip


def _wait(lab: Lab, waits: Mapping[str, Mapping[str, int]], timeout: float) -> None:
    digests = {g: agents.digest(lab.state, g) for g in waits}
    deadline = time.monotonic() + timeout
    while True:
        pending = [f"{g} (agent)" for g, d in digests.items() if not agents.runs(lab.state, g, d)]
        pending += [f"{g} {t}" for g, tunnels in waits.items() for t, offset in tunnels.items()
                    if not agents.up_since(lab.state, g, t, offset)]  # fmt: skip
        if not pending:
            return
        if time.monotonic() > deadline:
            raise shell.LabError(f"not converged after {timeout:.0f}s: {', '.join(pending[:4])}"
                                 f"; see {lab.path('agents')}")  # fmt: skip
        time.sleep(0.2)
