"""Replacing gateways that need a new instance, AZ by AZ, without unlinking a VPC. Pure.

A gateway needs a new instance when what it boots from changes: its image, its instance type
or its boot-time settings (the launch template's boot digest, ``aws.diff.boot_digest``). The
running instance keeps what it booted with, so it is replaced: its routes are drained to
gateways that stay, the instance goes, a new one boots from the new launch template version,
and the next step starts only once the new gateway reports ready with the designed
configuration digest and its tunnels up (the gates, checked by whoever carries the plan out).

The order (``plan``), reasoned from the failover decision's own rules (``decision``,
``signals``): taking a set of gateways out is safe when every route of every routing table
still has a usable gateway of its VPC that reaches as much as it does with every gateway up.
That is worked out by the decision's functions themselves: the gateways taken out count as
missing instances (``signals.gateway_states``: their peers' tunnels to them are DOWN, and a
transit hub's onward reach follows), and each table's best reach is compared with the
all-up one. So:

- gateways are taken in AZ order (every VPC's first AZ, then every VPC's second, ...), and
  each joins the first step it can join safely, else a new one; a step holds one AZ of a
  VPC at most (a bad new image costs a VPC one gateway, never two): AZ-a of every VPC goes
  together when the links pair a with a and b with b, and never both ends of a link's only
  working tunnels at once;
- a gateway that cannot be taken out alone without cutting a path (the only gateway of a
  one-AZ VPC, or the only end of a link's tunnels) goes in a step of its own, after every
  safe step, with a warning naming what it cuts for the length of a boot. A broken new image
  then shows on a gateway with a sibling, before any path that has no other way is touched.

``drain`` is what a step does to the routes first: the decision with the step's gateways out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vpnctl.design import Design, RouteTable
from vpnctl.failover.decision import Choice, GatewayState, Route, decide
from vpnctl.failover.signals import gateway_states
from vpnctl.topology import Failover

RUNNING = "running"
OUT = "missing"  # how a gateway being replaced counts: no instance to route through


@dataclass(frozen=True)
class Why:
    """Why one gateway needs a new instance."""

    gateway: str
    reasons: tuple[str, ...]  # "image ami-1 -> ami-2", "instance type t3.small -> t3.medium"

    def describe(self) -> str:
        return f"{self.gateway} ({'; '.join(self.reasons)})"


@dataclass(frozen=True)
class Step:
    gateways: tuple[str, ...]
    cuts: tuple[tuple[str, str], ...] = ()  # (from VPC, to VPC) with no path while it boots

    def describe(self) -> str:
        said = ", ".join(self.gateways)
        if not self.cuts:
            return said
        return f"{said} (CUTS {', '.join(f'{a} -> {b}' for a, b in self.cuts)} while it boots)"


@dataclass(frozen=True)
class Replacement:
    why: tuple[Why, ...]
    steps: tuple[Step, ...]

    def __bool__(self) -> bool:
        return bool(self.steps)

    @property
    def gateways(self) -> tuple[str, ...]:
        return tuple(g for s in self.steps for g in s.gateways)

    def warnings(self, design: Design) -> tuple[str, ...]:
        """One line per step that cuts a path: what goes, and why it cannot be helped."""
        found = []
        for step in self.steps:
            if not step.cuts:
                continue
            alone = [g for g in step.gateways if _only_gateway(design, g)]
            what = ", ".join(f"{a} -> {b}" for a, b in step.cuts)
            if alone:
                vpc = design.gateway_by_name[alone[0]].vpc
                found.append(
                    f"vpc {vpc} has one AZ: replacing its only gateway {alone[0]} drops its "
                    f"link ({what}) for the length of a boot"
                )
            else:
                found.append(
                    f"replacing {', '.join(step.gateways)} drops {what} for the length of a "
                    "boot (no other tunnel carries it)"
                )
        return tuple(found)

    def as_json(self) -> dict[str, object]:
        return {
            "gateways": [{"name": w.gateway, "why": list(w.reasons)} for w in self.why],
            "steps": [
                {"gateways": list(s.gateways), "cuts": [list(c) for c in s.cuts]}
                for s in self.steps
            ],
        }


NOTHING = Replacement((), ())


def plan(design: Design, why: Iterable[Why]) -> Replacement:
    """The steps that replace the gateways ``why`` names, in a safe order."""
    wanted = {w.gateway: w for w in why if w.gateway in design.gateway_by_name}
    if not wanted:
        return NOTHING
    base = _best(design, frozenset())
    safe: list[list[str]] = []
    alone: list[Step] = []
    for gateway in sorted(wanted, key=lambda g: _position(design, g)):
        cut = cuts(design, frozenset({gateway}), base)
        if cut:
            alone.append(Step((gateway,), cut))
            continue
        joined = next((s for s in safe if _joins(design, s, gateway, base)), None)
        if joined is None:
            safe.append([gateway])
        else:
            joined.append(gateway)
    steps = tuple(Step(tuple(s)) for s in safe) + tuple(alone)
    return Replacement(tuple(wanted[g] for g in sorted(wanted)), steps)


def _joins(design: Design, step: list[str], gateway: str, base: Mapping[Route, Reached]) -> bool:
    """One AZ of a VPC at a time, and nothing cut with the step's gateways all out."""
    vpc = design.gateway_by_name[gateway].vpc
    if any(design.gateway_by_name[g].vpc == vpc for g in step):
        return False
    return not cuts(design, frozenset({*step, gateway}), base)


def _position(design: Design, gateway: str) -> tuple[int, str]:
    """(its AZ's place in its VPC, its name): every VPC's first AZ before any second."""
    vpc = design.vpcs[design.gateway_by_name[gateway].vpc]
    return vpc.gateways.index(gateway), gateway


def _only_gateway(design: Design, gateway: str) -> bool:
    return len(design.vpcs[design.gateway_by_name[gateway].vpc].gateways) == 1


def out_states(design: Design, out: frozenset[str]) -> dict[str, GatewayState]:
    """Every gateway's state with ``out`` taken away and every other one healthy."""
    instances = {g.name: OUT if g.name in out else RUNNING for g in design.gateways}
    return gateway_states(design, instances)


def _wanted(design: Design, table: RouteTable, destination: str) -> frozenset[str]:
    """The routing subnets of other VPCs a route is for (as the decision counts them)."""
    net = next(d for d in table.destinations if str(d) == destination)
    return frozenset(
        str(s.cidr)
        for name, vpc in design.vpcs.items()
        if name != table.vpc
        for s in vpc.routing_subnets
        if s.cidr.subnet_of(net)
    )


Reached = tuple[int, frozenset[str]]  # the most one gateway reaches, and what any reaches


def _best(design: Design, out: frozenset[str]) -> dict[Route, Reached]:
    """Per route, the most one usable gateway of its table reaches with ``out`` gone (the
    decision puts a route on one gateway), and the routing subnets any of them reaches."""
    states = out_states(design, out)
    found: dict[Route, Reached] = {}
    for table in design.route_tables:
        for d in map(str, table.destinations):
            wanted = _wanted(design, table, d)
            most = max(states[g].reach(wanted) for g in table.gateways)
            reached = frozenset().union(*(_reached(states[g], wanted) for g in table.gateways))
            found[(table.name, d)] = (most, reached)
    return found


def _reached(state: GatewayState, wanted: frozenset[str]) -> frozenset[str]:
    if not state.usable:
        return frozenset()
    if state.reaches is None:
        return frozenset() if state.down_tunnels else wanted
    return state.reaches & wanted


def cuts(
    design: Design, out: frozenset[str], base: Mapping[Route, Reached] | None = None
) -> tuple[tuple[str, str], ...]:
    """(from VPC, to VPC) pairs some route of which reaches less with ``out`` gone."""
    base = base if base is not None else _best(design, frozenset())
    now = _best(design, out)
    tables = {t.name: t for t in design.route_tables}
    found: set[tuple[str, str]] = set()
    for route, (most, reached) in base.items():
        if now[route][0] >= most:
            continue
        table = tables[route[0]]
        lost = (reached - now[route][1]) or reached
        found.update((table.vpc, v) for v in _vpcs_of(design, lost))
    return tuple(sorted(found))


def _vpcs_of(design: Design, subnets: frozenset[str]) -> list[str]:
    return [
        n for n, v in design.vpcs.items() if any(str(s.cidr) in subnets for s in v.routing_subnets)
    ]


def drain(
    design: Design,
    current: Mapping[Route, str | None],
    out: frozenset[str],
    policy: Failover,
    now: float,
) -> tuple[Choice, ...]:
    """The route moves that take traffic off ``out`` (and off the tunnels to it): the
    decision's choices with those gateways missing, only the routes that change."""
    choices = decide(design, current, out_states(design, out), policy, now)
    return tuple(c for c in choices if c.changed and (c.table, c.destination) in current)


def restore(
    design: Design,
    current: Mapping[Route, str | None],
    before: Mapping[Route, str | None],
) -> tuple[tuple[Route, str], ...]:
    """The routes a drain moved, back on the gateway each was on before it (when that
    gateway is in the design still)."""
    return tuple(
        (route, was)
        for route, was in sorted(before.items())
        if was is not None and was in design.gateway_by_name and current.get(route) != was
    )
