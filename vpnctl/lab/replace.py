"""``lab apply`` of what needs a new instance: gateways replaced AZ by AZ, as apply does on AWS.

In the lab an image is the OpenVPN it ships (``openvpns``). A gateway whose recorded image is
not the edit's needs a new instance. The steps are ``replacement.plan``'s, and each one:

1. drains: the failover decision with the step's gateways gone (``replacement.drain``) moves
   their route tables, and those on the far ends of their tunnels, to gateways that stay;
2. kills the step's gateways (``drill.kill``: the instance is terminated) and wipes what their
   agents had (installed files, state, logs, firewall: a fresh boot has none of it);
3. boots them again: the edit's desired folder, the new image's OpenVPN, a fresh agent
   (``drill.revive``), and waits until each agent runs the designed digest and every one of
   its tunnels has logged that it is up;
4. restores the drained routes to the gateway each was on, then goes on to the next step.

A gateway started before images were recorded counts as already running the edit's image.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping

from vpnctl import images
from vpnctl import replacement as rp
from vpnctl.failover.decision import Route
from vpnctl.lab import agents, drill, lifecycle, openvpns, shell
from vpnctl.lab.lifecycle import Lab

Files = Mapping[str, Mapping[str, bytes]]  # gateway -> relative path -> content


def plan(lab: Lab, new: set[str]) -> rp.Replacement:
    """The running gateways (not the ``new`` namespaces) whose image the edit changes."""
    found = []
    for gw in lab.layout.gateways.values():
        had = agents.image(lab.state, gw.name)
        wanted = images.image_of(lab.plan.topology, gw.vpc)[0]
        if gw.ns in new or had is None or had == wanted:
            continue
        runs = openvpns.binary_for(wanted)[1]
        found.append(rp.Why(gw.name, (f"image {had} -> {wanted}: runs {runs}",)))
    return rp.plan(lab.design, found)


def run(
    lab: Lab, replacing: rp.Replacement, wanted: Files, say: Callable[[str], None], wait: float
) -> None:
    for warning in replacing.warnings(lab.design):
        say(f"WARNING: {warning}")
    for number, step in enumerate(replacing.steps, 1):
        say(f"replacing, step {number}/{len(replacing.steps)}: {step.describe()}")
        before = routes(lab)
        out = frozenset(step.gateways)
        for choice in rp.drain(lab.design, before, out, lab.plan.topology.failover, time.time()):
            _set(lab, (choice.table, choice.destination), str(choice.chosen))
        drill.kill(lab, step.gateways)
        for name in step.gateways:
            _fresh(lab, name, wanted[name])
        drill.revive(lab, step.gateways)
        _ready(lab, step.gateways, wait)
        for route, gateway in rp.restore(lab.design, routes(lab), before):
            _set(lab, route, gateway)
        say(f"  step {number}/{len(replacing.steps)} done: {', '.join(step.gateways)} replaced")


def routes(lab: Lab) -> dict[Route, str | None]:
    """(table, destination) -> the gateway it goes through now."""
    found: dict[Route, str | None] = {}
    for table in lab.layout.tables:
        for destination in map(str, table.destinations):
            found[(table.name, destination)] = _via(lab, table.ns, table.table_id, destination)
    return found


def _via(lab: Lab, ns: str, table_id: int, destination: str) -> str | None:
    out = shell.ip("route", "show", "table", str(table_id), destination, ns=ns,
                   check=False).stdout.split()  # fmt: skip
    if "via" not in out:
        return None
    address = out[out.index("via") + 1]
    return next((g.name for g in lab.layout.gateways.values() if str(g.private) == address), None)


def _set(lab: Lab, route: Route, gateway: str) -> None:
    table = next(t for t in lab.layout.tables if t.name == route[0])
    lifecycle.set_route(lab, table, route[1], gateway)


def _fresh(lab: Lab, gateway: str, files: Mapping[str, bytes]) -> None:
    """What a new instance of the gateway starts from: nothing of the old one's, the edit's
    desired folder and image."""
    for part in ("live", "run", "status", "agent.json", "agent.log"):
        path = agents.folder(lab.state, gateway, part)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    gw = lab.layout.gateways[gateway]
    shell.run("nft", "flush", "ruleset", ns=gw.ns, check=False)
    agents.publish(lab.state, gateway, files)
    (agents.folder(lab.state, gateway, "image")).write_text(
        images.image_of(lab.plan.topology, gw.vpc)[0] + "\n"
    )


def _ready(lab: Lab, gateways: tuple[str, ...], timeout: float) -> None:
    """Until each new gateway's agent runs its desired digest with every tunnel up."""
    digests = {g: agents.digest(lab.state, g) for g in gateways}
    deadline = time.monotonic() + timeout
    while True:
        pending = [f"{g} (agent reports {digests[g][:12]})" for g in gateways
                   if not agents.runs(lab.state, g, digests[g])]  # fmt: skip
        pending += [f"{g} {t.name} up" for g in gateways for t in lab.design.tunnels_by_gateway[g]
                    if not agents.up_since(lab.state, g, t.name)]  # fmt: skip
        if not pending:
            return
        if time.monotonic() > deadline:
            raise shell.LabError(f"replacement not ready after {timeout:.0f}s: waited for "
                                 f"{', '.join(pending[:4])}; its routes stay drained; see "
                                 f"{lab.path('agents')}")  # fmt: skip
        time.sleep(0.2)
