"""``lab up`` and ``lab down``: build the topology in namespaces, and remove every trace of it.

``up`` plans the topology (the same pipeline as every command, without writing its lock),
lays it out (``layout``), and builds it step by step, journalling each namespace before making
it. Each gateway runs the gateway agent, as on AWS (``agents``): it converges the gateway to the
desired folder the lab writes for it (render's files, keys made for this lab only), starting
the real ``openvpn`` in its namespace; names resolve through ``/etc/netns/<ns>/hosts``. ``up``
waits until every tunnel is up. The lab's AWS side is an emulator in its internet namespace,
put into shape by ``vpnctl apply --sandbox``; the agents publish to it, the failover hook's
handler runs on its events, and the VPC routers follow its route tables (``awspath``).

``down`` kills every process in the lab's namespaces, deletes the namespaces (their veths go
with them) and their hosts files, and removes the state directory. It works from the journal,
and also sweeps namespaces by the lab's prefix, so a ``lab up`` killed halfway is removed too.
Running it twice is fine.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from ipaddress import IPv4Address
from pathlib import Path

from vpnctl import images, pipeline, render
from vpnctl.aws import rules
from vpnctl.lab import agents, secgroups, shell
from vpnctl.lab import layout as layoutmod
from vpnctl.lab.impair import Impairment
from vpnctl.lab.impair import parse as parse_impairments
from vpnctl.lab.journal import Journal
from vpnctl.lab.model import Lab
from vpnctl.lab.relay import Leg

STATE_ROOT = Path("/run/vpnctl-lab")
__all__ = ["STATE_ROOT", "Lab", "down", "open_lab"]


def open_lab(topology: str | Path, state_root: Path = STATE_ROOT) -> Lab:
    """The lab of ``topology``; laid out as the running lab's slots say, if one runs."""
    planned = pipeline.plan(topology)
    prefix = layoutmod.prefix_for(planned.topology.name)
    state = state_root / prefix
    try:
        kept = layoutmod.Slots.from_json(json.loads((state / "slots.json").read_text()))
    except FileNotFoundError:
        kept = None
    return Lab(planned, layoutmod.plan(planned.design, prefix, kept), state)


def save_slots(lab: Lab) -> None:
    lab.path("slots.json").write_text(json.dumps(lab.layout.slots.to_json(), sort_keys=True))


def require_root() -> None:
    if os.geteuid() != 0:
        raise shell.LabError("the lab needs root (network namespaces, veth pairs, nftables)")
    for tool in ("ip", "openvpn", "nft"):
        if shutil.which(tool) is None:
            raise shell.LabError(f"the lab needs {tool}; install it (apt-get install {tool})")


# --------------------------------------------------------------------------- up


def up(lab: Lab, impair: Iterable[str] = (), say: Callable[[str], None] = print,
       tuning: Mapping[str, float | None] | None = None, wait: float = 60,
       aws: bool = True) -> None:  # fmt: skip
    """``aws`` False: no emulator, hook or route follower (``awspath``); the routers keep the
    routes ``make_routes`` gives them and the agents publish nothing."""
    require_root()
    if lab.path("journal.jsonl").exists():
        raise shell.LabError(f"a lab of {lab.plan.topology.name} is already up "
                             f"(state in {lab.state}); run `vpnctl lab down` first")  # fmt: skip
    impairments = parse_impairments(impair, lab.design)
    for sub in ("", "agents", "logs"):
        lab.path(sub).mkdir(parents=True, exist_ok=True)
    save_slots(lab)
    lab.path("lab.json").write_text(json.dumps({
        "topology": str(Path(lab.plan.source.file).resolve()),
        "impair": list(impair),
        "vpcs": {name: str(vpc.cidr) for name, vpc in lab.design.vpcs.items()},
        "tuning": {k: v for k, v in (tuning or {}).items() if v is not None},
        "aws": aws,
    }))  # fmt: skip
    make_namespaces(lab)
    make_wires(lab)
    make_routes(lab)
    legs = _relay_legs(lab, impairments)
    write_hosts_files(lab, legs)
    _impair(lab, impairments, legs)
    secgroups.install(security_groups(lab))
    from vpnctl.lab import awspath  # the AWS side: emulator, apply, hook, route follower

    if aws:
        awspath.prepare(lab)
    _gateways(lab)
    awspath.follow(lab)  # nothing without the AWS side
    if wait:
        wait_ready(lab, wait)
        if aws:
            awspath.wait_reported(lab, wait)
    say(describe(lab))


def pending_tunnels(lab: Lab) -> list[str]:
    """``gateway tunnel`` for every tunnel end whose openvpn has not come up yet."""
    return [f"{gateway} {tunnel.name}"
            for gateway, tunnels in lab.design.tunnels_by_gateway.items() for tunnel in tunnels
            if not agents.up_since(lab.state, gateway, tunnel.name)]  # fmt: skip


def wait_ready(lab: Lab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while waiting := pending_tunnels(lab):
        if time.monotonic() > deadline:
            raise shell.LabError(f"{len(waiting)} tunnel end(s) not up after {timeout:.0f}s "
                                 f"(e.g. {waiting[0]}); see {lab.path('agents')}")  # fmt: skip
        time.sleep(0.1)


def make_namespaces(lab: Lab, only: Iterable[str] | None = None) -> None:
    for ns in lab.layout.namespaces if only is None else only:
        lab.journal.record("netns", ns)
        shell.add_namespace(ns)
        for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0"):  # fmt: skip
            shell.run("sysctl", "-qw", key, ns=ns)


def make_wires(lab: Lab, only: Iterable[layoutmod.Wire] | None = None) -> None:
    for wire in lab.layout.wires if only is None else only:
        shell.ip("link", "add", wire.a.name, "netns", wire.a.ns, "type", "veth",
                 "peer", "name", wire.b.name, "netns", wire.b.ns)  # fmt: skip
        for end in (wire.a, wire.b):
            shell.ip("addr", "add", f"{end.address}/{end.network.prefixlen}", "dev", end.name,
                     ns=end.ns)  # fmt: skip
            shell.ip("link", "set", end.name, "up", ns=end.ns)


def gateway_routes(gw: layoutmod.GatewayNode) -> None:
    shell.ip("route", "replace", "default", "via", str(gw.uplink), ns=gw.ns)
    # the gateway's own VPC stays behind the VPC router, whatever the tunnels' routes cover
    shell.ip("route", "replace", str(gw.vpc_cidr), "via", str(gw.router), ns=gw.ns)


def make_routes(lab: Lab, new: Iterable[str] | None = None) -> None:
    """Routes of every namespace (or of the ``new`` ones and their new route tables)."""
    fresh = set(lab.layout.namespaces if new is None else new)
    for gw in lab.layout.gateways.values():
        if gw.ns in fresh:
            gateway_routes(gw)
    for host in lab.layout.hosts:
        if host.ns in fresh:
            shell.ip("route", "add", "default", "via", str(host.router), ns=host.ns)
    for table in lab.layout.tables:
        if table.ns in fresh:
            add_table(lab, table)


def add_table(lab: Lab, table: layoutmod.TableNode) -> None:
    """A route table: its policy rule, the VPC's local route, its destinations."""
    tid = str(table.table_id)
    shell.ip("rule", "add", "from", str(table.source), "lookup", tid, "pref", tid, ns=table.ns)
    shell.ip("route", "add", "throw", str(table.local), "table", tid, ns=table.ns)
    via = lab.layout.gateway_ip(table.gateways[0])
    for destination in table.destinations:
        shell.ip("route", "add", str(destination), "via", str(via), "table", tid, ns=table.ns)


def _relay_legs(lab: Lab, impairments: dict[str, Impairment]) -> list[Leg]:
    delayed = [t for t in lab.design.tunnels if impairments.get(t.link, Impairment()).delay_ms]
    views = layoutmod.RELAYS.hosts()
    legs = []
    for tunnel in delayed:
        a, b = lab.layout.gateways[tunnel.a.gateway], lab.layout.gateways[tunnel.b.gateway]
        legs.append(Leg(str(a.public), str(b.public), str(next(views)), str(next(views)),
                        tunnel.a.port, impairments[tunnel.link].delay_ms))  # fmt: skip
    return legs


def write_hosts_files(lab: Lab, legs: list[Leg]) -> None:
    """Each gateway's /etc/hosts: every gateway's name -> its address (or a relay's view)."""
    views = _views(legs)
    gateways = lab.layout.gateways
    for gw in gateways.values():
        lines = ["127.0.0.1 localhost"]
        for other in gateways.values():
            shown = views.get((str(gw.public), str(other.public)), str(other.public))
            lines.append(f"{shown} {lab.design.gateway_by_name[other.name].fqdn}")
        folder = shell.ETC_NETNS / gw.ns
        lab.journal.record("hosts", str(folder))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "hosts").write_text("\n".join(lines) + "\n")


def _impair(lab: Lab, impairments: dict[str, Impairment], legs: list[Leg]) -> None:
    inet = lab.layout.internet
    for leg in legs:
        for view in (leg.a_view, leg.b_view):
            shell.ip("addr", "add", f"{view}/32", "dev", "lo", ns=inet)
    if legs:
        spec = lab.path("relay.json")
        spec.write_text(json.dumps([leg.__dict__ for leg in legs]))
        shell.spawn([sys.executable, "-m", "vpnctl.lab.relay", str(spec)], inet,
                    lab.path("logs", "relay.log"))  # fmt: skip
    rules = _loss_rules(lab, impairments, legs)
    if rules:
        script = ("table inet vlab {\n chain pre {\n  type filter hook prerouting priority -150;"
                  " policy accept;\n" + "".join(f"  {r}\n" for r in rules) + " }\n}\n")  # fmt: skip
        shell.run("nft", "-f", "-", ns=inet, stdin=script)


def security_groups(
    lab: Lab,
    gateway_rules: secgroups.GatewayRules = rules.gateway_permits,
    routing_rules: secgroups.RoutingRules = rules.routing_permits,
) -> secgroups.Scripts:
    """The security groups apply writes, as this lab's namespaces enforce them (``up`` installs
    them before any gateway starts, so the tunnels come up through them)."""
    impair = lab.settings().get("impair")
    specs = [str(x) for x in impair] if isinstance(impair, list) else []
    legs = _relay_legs(lab, parse_impairments(specs, lab.design))
    return secgroups.scripts(lab.design, lab.layout, _views(legs), gateway_rules, routing_rules)


def _views(legs: list[Leg]) -> dict[tuple[str, str], str]:
    """(gateway address, peer address) -> where that gateway sends for that peer (a relay)."""
    return {(leg.a, leg.b): leg.a_view for leg in legs} | {
        (leg.b, leg.a): leg.b_view for leg in legs
    }


def _loss_rules(lab: Lab, impairments: dict[str, Impairment], legs: list[Leg]) -> list[str]:
    views = _views(legs)
    rules = []
    for tunnel in lab.design.tunnels:
        loss = impairments.get(tunnel.link, Impairment()).loss_pct
        if not loss:
            continue
        ends = [str(lab.layout.gateways[e.gateway].public) for e in tunnel.ends()]
        for src, dst in ((ends[0], ends[1]), (ends[1], ends[0])):
            to = views.get((src, dst), dst)
            per_mille = round(loss * 10)
            rules.append(f"ip saddr {src} ip daddr {to} udp dport {tunnel.a.port} "
                         f"numgen random mod 1000 < {per_mille} drop")  # fmt: skip
    return rules


def _gateways(lab: Lab) -> None:
    secrets = agents.lab_keys(lab.state, lab.design)  # one set per tunnel, shared by both ends
    for gw in lab.layout.gateways.values():
        files = agents.files_for(lab.plan.topology, lab.design, gw.name, lab.state, secrets)
        start_gateway(lab, gw, files)


def start_gateway(lab: Lab, gw: layoutmod.GatewayNode, files: Mapping[str, bytes]) -> None:
    """The gateway's kernel settings, its desired folder (``files``), and its agent, which
    converges it (firewall, then tunnels) in its namespace."""
    for line in render.sysctl().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = (p.strip() for p in line.split("=", 1))
            shell.run("sysctl", "-qw", f"{key}={value}", ns=gw.ns, check=False)
    agents.publish(lab.state, gw.name, files)
    agents.start(lab.state, gw.name, gw.ns, images.image_of(lab.plan.topology, gw.vpc)[0])


# --------------------------------------------------------------------------- down


def down(prefix: str, state_root: Path = STATE_ROOT) -> list[str]:
    """Remove every namespace, hosts file, process and file of the lab; return what went."""
    state = state_root / prefix
    journal = Journal(state / "journal.jsonl")
    entries = journal.entries()
    names = {v for k, v in entries if k == "netns"}
    names |= {ns for ns in shell.namespaces() if ns.startswith(f"{prefix}-")}
    removed = sorted(names & set(shell.namespaces()))
    shell.kill_all(*removed)
    for ns in removed:
        shell.delete_namespace(ns)
    for kind, value in entries:
        if kind == "hosts":
            shutil.rmtree(value, ignore_errors=True)
    for leftover in shell.ETC_NETNS.glob(f"{prefix}-*") if shell.ETC_NETNS.is_dir() else ():
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.rmtree(state, ignore_errors=True)
    return removed


# --------------------------------------------------------------------------- description


def describe(lab: Lab) -> str:
    layout = lab.layout
    lines = [f"lab {layout.prefix} is up: {len(layout.namespaces)} namespaces, "
             f"{len(lab.design.tunnels)} tunnels (state in {lab.state})", ""]  # fmt: skip
    lines.append("gateways (public address, VPC side):")
    for gw in layout.gateways.values():
        lines.append(f"  {gw.name:<24} {gw.public!s:<15} {gw.private!s:<15} ns {gw.ns}")
    lines.append("hosts:")
    for host in layout.hosts:
        kind = "routing" if host.routed else "private (not routed across)"
        lines.append(f"  {host.vpc:<16} {host.az or '-':<16} {host.address!s:<15} {kind:<28} "
                     f"ns {host.ns}")  # fmt: skip
    topology = lab.plan.source.file
    gateway = next(iter(layout.gateways.values()))
    router = layout.routers[gateway.vpc]
    lines += ["", "security groups as apply writes them, on each gateway's ports (in its router and "
              "the internet namespace)", f"and every routing host: nft list table inet "
              f"{secgroups.TABLE}", "", "try:"]  # fmt: skip
    lines.append(f"  ip netns exec {router} nft list counter inet {secgroups.TABLE} "
                 f"dropped_{gateway.port}      # what {gateway.name}'s group dropped")  # fmt: skip
    pair = _icmp_pair(lab)
    if pair:
        lines.append(f"  ip netns exec {pair[0].ns} vpnctl probe --target {pair[1].address}"
                     f"      # {pair[0].vpc} -> {pair[1].vpc}, allowed")  # fmt: skip
    lines += [f"  ip netns exec {gateway.ns} cat /etc/hosts",
              f"  vpnctl lab test {topology} [--drill az={gateway.az}]",
              f"  vpnctl lab down {topology}"]  # fmt: skip
    return "\n".join(lines)


def _icmp_pair(lab: Lab) -> tuple[layoutmod.HostNode, layoutmod.HostNode] | None:
    """Two routing hosts an allowed ICMP flow joins, to show the lab works."""
    for flow in lab.plan.topology.allow:
        if flow.proto in ("icmp", "all"):
            src = next(h for h in lab.layout.hosts if h.vpc == flow.src and h.routed)
            dst = next(h for h in lab.layout.hosts if h.vpc == flow.dst and h.routed)
            return src, dst
    return None


def current_gateway(lab: Lab, table: layoutmod.TableNode) -> str | None:
    """Which gateway a lab route table uses now, read from its router namespace: the one all
    its routes go to, None when they go to different ones (a table has a route per next hop,
    and failover moves each on its own) or to none."""
    found = set(current_gateways(lab, table).values())
    return found.pop() if len(found) == 1 else None


def current_gateways(lab: Lab, table: layoutmod.TableNode) -> dict[str, str | None]:
    """Destination -> the gateway its route in the table goes to now (None: no such route)."""
    return {str(d): _via(lab, table, str(d)) for d in table.destinations}


def _via(lab: Lab, table: layoutmod.TableNode, destination: str) -> str | None:
    out = shell.ip("route", "show", "table", str(table.table_id), destination, ns=table.ns,
                   check=False).stdout  # fmt: skip
    words = out.split()
    if "via" not in words:
        return None
    via = IPv4Address(words[words.index("via") + 1])
    return next((g.name for g in lab.layout.gateways.values() if g.private == via), None)


def set_gateway(lab: Lab, table: layoutmod.TableNode, gateway: str) -> None:
    via = str(lab.layout.gateway_ip(gateway))
    for destination in table.destinations:
        shell.ip("route", "replace", str(destination), "via", via, "table",
                 str(table.table_id), ns=table.ns)  # fmt: skip


def set_route(lab: Lab, table: layoutmod.TableNode, destination: str, gateway: str) -> None:
    """Point one destination of a lab route table at ``gateway``."""
    shell.ip("route", "replace", destination, "via", str(lab.layout.gateway_ip(gateway)),
             "table", str(table.table_id), ns=table.ns)  # fmt: skip
