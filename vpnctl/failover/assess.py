"""From what the hook saw and the event, the work to do. Pure: ``Seen`` in, ``Assessment`` out.

- Which instance is each gateway's now: the liveliest one carrying its name (running before
  pending before stopping..., the newest first). A route to the ENI of any other instance is a
  route to nothing, whatever gateway that instance once served.
- The event adds what the read may not show yet: a state change it reports, the instance a
  terminate lifecycle action holds, an alarm's new state.
- An agent's health event adds its reading to the evidence read (``evidence``), or marks its
  instance ready.
- Gateways whose region this run cannot read (another account, another partition) count as
  running: their alarm speaks for them.
- Then ``signals.gateway_states`` (the health rules) and ``decision.decide``; each changed
  table becomes one ``Move`` per destination that is not on the chosen gateway already, so a
  repeated run makes no call at all. A launch (or a reconcile) adds the instance fixes and DNS records its own boot
  may have missed; a terminate lifecycle action is completed once routes are off the instance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import assert_never

from vpnctl.aws import names
from vpnctl.design import Gateway
from vpnctl.failover import evidence as ev
from vpnctl.failover import seen as ob
from vpnctl.failover.bundle import Bundle
from vpnctl.failover.decision import Choice, GatewayState, Route, decide
from vpnctl.failover.events import (
    AlarmChanged,
    AnyEvent,
    GatewayHealth,
    InstanceLaunched,
    InstanceStateChanged,
    InstanceTerminating,
    Reconcile,
)
from vpnctl.failover.signals import Heard, gateway_states
from vpnctl.health_contract import SIBLING_UP, TUNNEL_UP

RANK = names.STATE_RANK
LIVE = names.LIVE_STATES


@dataclass(frozen=True)
class Move:
    account: str
    region: str
    table_id: str
    table: str
    destination: str
    gateway: str
    eni: str
    was: str | None  # the target it replaces; None when the route is missing

    def describe(self) -> str:
        return f"route {self.table}: {self.destination} -> {self.gateway} ({self.eni})"


@dataclass(frozen=True)
class FixInstance:
    account: str
    region: str
    gateway: str
    instance_id: str
    disable_check: bool
    allocation_id: str | None  # associate this Elastic IP, when it is elsewhere

    def describe(self) -> str:
        what = ["source/destination check off"] if self.disable_check else []
        what += ["elastic ip associated"] if self.allocation_id else []
        return f"instance {self.instance_id} of {self.gateway}: {', '.join(what)}"


@dataclass(frozen=True)
class FixRecord:
    account: str
    region: str
    zone_id: str
    fqdn: str
    ip: str
    ttl: int
    was: tuple[str, ...] | None

    def describe(self) -> str:
        return f"dns {self.fqdn} A {self.ip} ttl {self.ttl}"


@dataclass(frozen=True)
class Complete:
    account: str
    region: str
    group: str
    hook: str
    token: str
    instance_id: str

    def describe(self) -> str:
        return f"lifecycle action of {self.instance_id} in {self.group}: CONTINUE"


@dataclass(frozen=True)
class Assessment:
    ignored: str | None = None  # why the event concerns nothing of this topology
    states: Mapping[str, GatewayState] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    moves: tuple[Move, ...] = ()
    fixes: tuple[FixInstance, ...] = ()
    records: tuple[FixRecord, ...] = ()
    complete: Complete | None = None
    unobserved: tuple[str, ...] = ()  # gateways assumed running (region out of reach)
    notes: tuple[str, ...] = ()

    @property
    def mutating(self) -> bool:
        return bool(self.moves or self.fixes or self.records or self.complete)

    def accounts(self) -> frozenset[str]:
        work: tuple[Move | FixInstance | FixRecord, ...] = (*self.moves, *self.fixes, *self.records)
        found = {w.account for w in work}
        return frozenset(found | ({self.complete.account} if self.complete else set()))


def assess(
    bundle: Bundle,
    seen: ob.Seen,
    event: AnyEvent,
    now: float,
    draining: frozenset[str] = frozenset(),
) -> Assessment:
    """The work for ``event``; ``draining`` gateways are treated as terminating (a key
    rotation takes routes off a tunnel's gateways this way before restarting it)."""
    ignored = _irrelevant(bundle, seen, event)
    if ignored:
        return Assessment(ignored=ignored)
    told = _told(bundle, event)
    best = _overlaid(best_instances(seen), told)
    states = _states(bundle, seen, best, told, now, draining)
    current = _current(bundle, seen, best)
    choices = tuple(
        c
        for c in decide(bundle.design, current, states, bundle.policy, now)
        if (c.table, c.destination) in current
    )
    tables = {t.name: t for t in seen.tables}
    moves = tuple(m for c in choices if c.changed if (m := _move(c, tables, best)) is not None)
    fixed = _fixed_gateways(bundle, seen, told)
    return Assessment(
        None,
        states,
        choices,
        moves,
        tuple(f for g in fixed if (f := _fix(g, seen, best)) is not None),
        tuple(r for g in fixed if (r := _record(bundle, g, seen)) is not None),
        _complete(bundle, seen, told.lifecycle),
        tuple(g.name for g in bundle.design.gateways if not _observed(g, seen)),
        _notes(bundle, seen, fixed),
    )


# ------------------------------------------------------------------ what the event is about


def _groups(bundle: Bundle) -> dict[str, Gateway]:
    return {ob.group_name(bundle.topology, g.name): g for g in bundle.design.gateways}


def _irrelevant(bundle: Bundle, seen: ob.Seen, event: AnyEvent) -> str | None:
    topo = bundle.topology
    match event:
        case InstanceStateChanged():
            if event.instance_id not in {i.id for i in seen.instances}:
                return f"instance {event.instance_id} is not a gateway of {topo}"
        case InstanceLaunched() | InstanceTerminating():
            if event.group not in _groups(bundle):
                return f"auto scaling group {event.group} is not a gateway's of {topo}"
        case AlarmChanged():
            gateway = event.alarm.removeprefix(ob.alarm_prefix(topo))
            if gateway == event.alarm or gateway not in bundle.design.gateway_by_name:
                return f"alarm {event.alarm} is not a probe alarm of {topo}"
        case GatewayHealth():
            if event.topology != topo or event.gateway not in bundle.design.gateway_by_name:
                return (
                    f"health of {event.gateway} in {event.topology} is not of a gateway of {topo}"
                )
        case Reconcile():
            pass
        case _:
            assert_never(event)
    return None


@dataclass(frozen=True)
class _Told:
    """What the event says beyond the read, and the work it asks for besides routes."""

    state: tuple[str, str] | None = None  # (instance id, EC2 state) the read may lag behind
    alarm: tuple[str, str] | None = None  # (gateway, alarm state)
    points: tuple[ev.Point, ...] = ()  # an agent's reading
    ready: str | None = None  # an instance whose agent reported ready
    lifecycle: InstanceTerminating | None = None  # held in a terminate wait; complete it
    fix: frozenset[str] | None = frozenset()  # gateways to fix; None: every one in reach


def _told(bundle: Bundle, event: AnyEvent) -> _Told:
    match event:
        case InstanceStateChanged():
            return _Told(state=(event.instance_id, event.state))
        case InstanceLaunched():
            return _Told(fix=frozenset({_groups(bundle)[event.group].name}))
        case InstanceTerminating():
            return _Told(lifecycle=event)
        case AlarmChanged():
            return _Told(
                alarm=(event.alarm.removeprefix(ob.alarm_prefix(bundle.topology)), event.state)
            )
        case Reconcile():
            return _Told(fix=None)
        case GatewayHealth():
            return _health(event)
        case _:
            assert_never(event)


def _health(event: GatewayHealth) -> _Told:
    reading = ev.Reading(event.at, event.up)
    match event.kind:
        case "tunnel":
            query = ev.Query(TUNNEL_UP, event.gateway, event.name)
            return _Told(points=(ev.Point(query, reading),))
        case "sibling":
            query = ev.Query(SIBLING_UP, event.gateway, event.name)
            return _Told(points=(ev.Point(query, reading),))
        case "ready":
            return _Told(ready=event.instance_id)
        case _:
            assert_never(event.kind)


# ------------------------------------------------------------------ gateways


def best_instances(seen: ob.Seen) -> dict[str, ob.Instance]:
    """Each gateway's instance now: the liveliest state, then the newest."""
    found: dict[str, ob.Instance] = {}
    for i in seen.instances:
        if not i.gateway or i.state not in RANK:
            continue
        have = found.get(i.gateway)
        if have is None or (RANK.index(i.state), -i.launched) < (
            RANK.index(have.state),
            -have.launched,
        ):
            found[i.gateway] = i
    return found


def _overlaid(best: dict[str, ob.Instance], told: _Told) -> dict[str, ob.Instance]:
    """An EC2 state change the read has not caught up with yet."""
    if told.state is None or told.state[1] not in names.GONE_STATES:
        return best
    instance_id, state = told.state
    return {
        g: dataclasses.replace(i, state=state) if i.id == instance_id else i
        for g, i in best.items()
    }


def _observed(gateway: Gateway, seen: ob.Seen) -> bool:
    return (gateway.account, gateway.region) in seen.regions


def _states(
    bundle: Bundle,
    seen: ob.Seen,
    best: Mapping[str, ob.Instance],
    told: _Told,
    now: float,
    draining: frozenset[str] = frozenset(),
) -> dict[str, GatewayState]:
    instances: dict[str, str] = {}
    for g in bundle.design.gateways:
        found = best.get(g.name)
        instances[g.name] = (
            (found.state if found else "missing") if _observed(g, seen) else names.RUNNING
        )
    alarms = dict(seen.alarms)
    if told.alarm is not None:
        gateway, state = told.alarm
        had = alarms.get(gateway)
        if had is None or had.state != state:
            alarms[gateway] = ob.Alarm(state, now)
    held = set(seen.terminating()) | ({told.lifecycle.instance_id} if told.lifecycle else set())
    return gateway_states(
        bundle.design,
        instances,
        frozenset(),
        {g: a.state for g, a in alarms.items()},
        {g: max(i.launched, alarms[g].since if g in alarms else 0.0) for g, i in best.items()},
        frozenset(g for g, i in best.items() if i.id in held) | draining,
        _heard(bundle, seen, best, told, now),
    )


def _heard(
    bundle: Bundle, seen: ob.Seen, best: Mapping[str, ob.Instance], told: _Told, now: float
) -> Heard:
    evidence = seen.evidence.with_points(told.points)
    if told.ready is not None:
        evidence = evidence.with_ready(told.ready)
    observed = frozenset(g.name for g in bundle.design.gateways if _observed(g, seen))
    ready = frozenset(
        g for g, i in best.items() if g in observed and (i.ready or i.id in evidence.ready)
    )
    return Heard(evidence, observed, ready, now)


# ------------------------------------------------------------------ route tables


def _current(
    bundle: Bundle, seen: ob.Seen, best: Mapping[str, ob.Instance]
) -> dict[Route, str | None]:
    """(table, destination) -> the gateway that route uses now (None: missing or dead), for
    every table this run can read."""
    enis = {i.eni: g for g, i in best.items() if i.eni}
    tables = {t.name: t for t in seen.tables}
    current: dict[Route, str | None] = {}
    for design_table in bundle.design.route_tables:
        found = tables.get(design_table.name)
        if found is None:
            continue
        for d in map(str, design_table.destinations):
            current[(design_table.name, d)] = enis.get(found.routes.get(d, ""))
    return current


def _move(
    choice: Choice, tables: Mapping[str, ob.Table], best: Mapping[str, ob.Instance]
) -> Move | None:
    assert choice.chosen is not None
    eni = best[choice.chosen].eni
    found = tables[choice.table]
    was = found.routes.get(choice.destination)
    if eni is None or was == eni:
        return None
    return Move(
        found.account, found.region, found.id, found.name, choice.destination, choice.chosen,
        eni, was,
    )  # fmt: skip


# ------------------------------------------------------------------ new instances and names


def _fixed_gateways(bundle: Bundle, seen: ob.Seen, told: _Told) -> list[Gateway]:
    return [
        g
        for g in bundle.design.gateways
        if _observed(g, seen) and (told.fix is None or g.name in told.fix)
    ]


def _fix(gateway: Gateway, seen: ob.Seen, best: Mapping[str, ob.Instance]) -> FixInstance | None:
    instance = best.get(gateway.name)
    if instance is None or instance.state not in LIVE:
        return None
    address = seen.addresses.get(gateway.name)
    elsewhere = address is not None and address.instance_id != instance.id
    if not (instance.source_dest_check or elsewhere):
        return None
    return FixInstance(
        gateway.account,
        gateway.region,
        gateway.name,
        instance.id,
        instance.source_dest_check,
        address.allocation_id if address is not None and elsewhere else None,
    )


def _record(bundle: Bundle, gateway: Gateway, seen: ob.Seen) -> FixRecord | None:
    zone, address = seen.zone, seen.addresses.get(gateway.name)
    if zone is None or address is None:
        return None
    ttl = bundle.design.ttl
    have = zone.records.get(gateway.fqdn)
    if have is not None and have.values == (address.public_ip,) and have.ttl == ttl:
        return None
    was = have.values if have else None
    return FixRecord(zone.account, zone.region, zone.id, gateway.fqdn, address.public_ip, ttl, was)


def _complete(bundle: Bundle, seen: ob.Seen, event: InstanceTerminating | None) -> Complete | None:
    """The event's lifecycle action, unless the group shows it gone or completed already."""
    if event is None:
        return None
    state = seen.lifecycle.get(event.instance_id)
    if state is None or state in ob.DONE:
        return None
    gateway = _groups(bundle)[event.group]
    return Complete(
        gateway.account, gateway.region, event.group, event.hook, event.token, event.instance_id
    )


def _notes(bundle: Bundle, seen: ob.Seen, fixed: list[Gateway]) -> tuple[str, ...]:
    if fixed and seen.zone is None:
        return (
            f"dns records not checked: zone {bundle.design.zone} (account "
            f"{bundle.dns_account}) is out of this run's reach",
        )
    return ()
