"""The designed network shown three ways: text for people, JSON for scripts, DOT for Graphviz.

Each function takes a ``Design`` and returns a string; nothing here prints or writes. The JSON
keys are a promise to users (``spec/interfaces.md``): add keys, never rename them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from vpnctl.design import Design, Tunnel, VpcDesign


def to_json(design: Design, notes: Iterable[str] = ()) -> str:
    tables = design.route_tables
    doc: dict[str, Any] = {
        "name": design.name,
        "zone": design.zone,
        "vpcs": {name: _vpc_json(design, v) for name, v in design.vpcs.items()},
        "tunnels": [_tunnel_json(t) for t in design.tunnels],
        "routes": [
            {"vpc": t.vpc, "az": t.az, "route_table": t.name, "destination": str(d), "via": t.via}
            for t in tables
            for d in t.destinations
        ],
        "route_tables": [
            {
                "name": t.name,
                "vpc": t.vpc,
                "az": t.az,
                "subnet": str(t.subnet),
                "via": t.via,
                "failover": list(t.gateways[1:]),
                "route_count": len(t.destinations),
                "route_quota": design.route_quota,
            }
            for t in tables
        ],
        "flows": [
            {
                "from": f.flow.src,
                "to": f.flow.dst,
                "proto": f.flow.proto,
                "ports": [p[0] if p[0] == p[1] else f"{p[0]}-{p[1]}" for p in f.flow.ports],
                "sources": [str(s) for s in f.sources],
                "destinations": [str(d) for d in f.destinations],
            }
            for f in design.flows
        ],
        "warnings": list(design.warnings),
        "notes": list(notes),
        "summary": _summary(design),
    }
    # one line: scripts read it with jq, and the compact form is several times faster to
    # write for a plan of thousands of VPCs
    return json.dumps(doc) + "\n"


def _vpc_json(design: Design, vpc: VpcDesign) -> dict[str, Any]:
    gateways = design.gateway_by_name
    return {
        "cidr": str(vpc.cidr),
        "account": vpc.account,
        "partition": vpc.partition,
        "region": vpc.region,
        "vpc_id": vpc.vpc_id,
        "routing_subnets": [{"az": s.az, "cidr": str(s.cidr)} for s in vpc.routing_subnets],
        "gateway_subnets": [{"az": s.az, "cidr": str(s.cidr)} for s in vpc.gateway_subnets],
        "gateways": [
            {"name": g, "az": gateways[g].az, "fqdn": gateways[g].fqdn} for g in vpc.gateways
        ],
        "route_tables": list(vpc.route_tables),
    }


def _tunnel_json(tunnel: Tunnel) -> dict[str, Any]:
    def end(e: Any) -> dict[str, Any]:
        return {
            "gateway": e.gateway,
            "vpc": e.vpc,
            "fqdn": e.fqdn,
            "inside_ip": str(e.inside_ip),
            "port": e.port,
            "routes": [str(r) for r in e.routes],
        }

    return {
        "name": tunnel.name,
        "link": tunnel.link,
        "mode": tunnel.mode,
        "inside_cidr": str(tunnel.inside_cidr),
        "a": end(tunnel.a),
        "b": end(tunnel.b),
    }


def _summary(design: Design) -> dict[str, int]:
    counts = [len(t.destinations) for t in design.route_tables]
    return {
        "vpcs": len(design.vpcs),
        "gateways": len(design.gateways),
        "links": len({t.link for t in design.tunnels}),
        "tunnels": len(design.tunnels),
        "route_tables": len(design.route_tables),
        "routes": sum(counts),
        "max_routes_per_table": max(counts, default=0),
        "flows": len(design.flows),
    }


def to_text(design: Design, notes: Iterable[str] = ()) -> str:
    lines = [f"Plan for {design.name} (zone {design.zone}, TTL {design.ttl}s)", ""]
    for vpc in design.vpcs.values():
        lines += _vpc_text(design, vpc)
    if design.flows:
        lines.append("Allowed flows (everything else is dropped):")
        lines += [
            f"  {f.flow.src} -> {f.flow.dst}  {f.flow.proto} {f.flow.describe_ports()}"
            for f in design.flows
        ]
        lines.append("")
    for title, items in (("Warnings", design.warnings), ("Notes", tuple(notes))):
        if items:
            lines.append(f"{title}:")
            lines += [f"  - {item}" for item in items]
            lines.append("")
    s = _summary(design)
    lines.append(
        f"Plan: {s['vpcs']} VPCs, {s['gateways']} gateways, {s['tunnels']} tunnels on "
        f"{s['links']} links, {s['route_tables']} route tables (at most "
        f"{s['max_routes_per_table']} of {design.route_quota} routes), {s['flows']} allowed flows."
    )
    return "\n".join(lines) + "\n"


def _vpc_text(design: Design, vpc: VpcDesign) -> list[str]:
    where = f"account {vpc.account} ({vpc.partition}), {vpc.region}"
    adopted = f", adopts {vpc.vpc_id}" if vpc.vpc_id else ""
    lines = [f"VPC {vpc.name}  {vpc.cidr}  {where}{adopted}"]
    gateway_subnets = {s.az: s.cidr for s in vpc.gateway_subnets}
    by_az = {design.gateway_by_name[g].az: design.gateway_by_name[g] for g in vpc.gateways}
    for subnet in vpc.routing_subnets:
        lines.append(
            f"  {subnet.az:<16} routing {subnet.cidr!s:<18} gateway subnet "
            f"{gateway_subnets[subnet.az]!s:<18} {by_az[subnet.az].fqdn}"
        )
    for table in (design.route_table_by_name[name] for name in vpc.route_tables):
        fallback = f", then {', '.join(table.gateways[1:])}" if len(table.gateways) > 1 else ""
        lines.append(
            f"  route table {table.name} ({len(table.destinations)} of "
            f"{design.route_quota}): via {table.via}{fallback}"
        )
        lines += [f"      {d}" for d in table.destinations]
    for name in vpc.gateways:
        for tunnel in design.tunnels_by_gateway.get(name, ()):
            here, far = tunnel.end(name)
            lines.append(
                f"  tunnel {tunnel.name:<36} {here.gateway} {here.inside_ip} <-> {far.inside_ip} "
                f"{far.gateway}  udp/{here.port}  {tunnel.mode}"
            )
    lines.append("")
    return lines


def to_dot(design: Design) -> str:
    lines = [
        f'graph "{design.name}" {{',
        "  graph [rankdir=LR, fontname=Helvetica];",
        "  node [shape=box, style=rounded, fontname=Helvetica];",
        "  edge [fontname=Helvetica, fontsize=10];",
    ]
    for vpc in design.vpcs.values():
        lines.append(f'  subgraph "cluster_{vpc.name}" {{')
        lines.append(f'    label="{vpc.name}\\n{vpc.cidr}\\n{vpc.partition} {vpc.region}";')
        for subnet in vpc.routing_subnets:
            gw = next(g for g in vpc.gateways if design.gateway_by_name[g].az == subnet.az)
            lines.append(f'    "{gw}" [label="{gw}\\n{subnet.az}\\nrouting {subnet.cidr}"];')
        lines.append("  }")
    for t in design.tunnels:
        label = f"{t.inside_cidr}\\nudp/{t.a.port}"
        lines.append(f'  "{t.a.gateway}" -- "{t.b.gateway}" [label="{label}", tooltip="{t.name}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
