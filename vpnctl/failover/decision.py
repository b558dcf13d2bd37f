"""Which gateway each route of each routing route table should use. Pure: design + health in,
choices out.

Health is judged per destination, not all or nothing: a gateway that lost its way to one VPC
still carries traffic to the others, and for those it is better than a dead one. So the rules
hold for every (route table, destination) pair, the table's gateways listed same-AZ first:

1. A gateway is usable when its instance is running and not being terminated, its probe
   alarm is not in ALARM, its agent has reported ready (``READY_TAG``: a booting replacement
   is not usable) and its siblings do not all see it DOWN (a hung gateway publishes nothing,
   so the gateways beside it speak for it). For a destination it *reaches* the VPCs under that
   destination it has a working path to (``reaches``, from ``signals``: its own tunnels up, and
   the onward tunnels of a transit hub up). A gateway with nothing DOWN reaches everything.
   A tunnel is up only while a fresh measurement says so (``signals``: silence past
   ``GRACE_S`` is DOWN); DOWN itself is a sound failure streak (the agent's hysteresis,
   ``probe.health``): one bad moment moves nothing.
2. If no usable gateway of the VPC reaches anything under a destination, that route does not
   change: a degraded route that still carries something beats a black hole.
3. A route on a gateway that reaches as much as any other stays there. It goes back to its
   preferred (same-AZ) gateway only when ``failover.failback`` is on and that gateway has been
   healthy for ``failover.hold_down_s`` seconds, so a gateway that comes and goes does not
   drag routes.
4. Otherwise it moves to the gateway that reaches the most, the preferred one first among
   equals, then the others in order; alarms in INSUFFICIENT_DATA rank after OK.

Every choice carries its reason, so the hook's log line says what was seen and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from vpnctl.aws import names
from vpnctl.design import Design, RouteTable
from vpnctl.topology import Failover

RUNNING = names.RUNNING


@dataclass(frozen=True)
class GatewayState:
    """What is known of one gateway right now."""

    instance: str = "missing"  # EC2 state, or "missing" when no instance was found
    alarm: str = "OK"  # the probe alarm: OK, ALARM, INSUFFICIENT_DATA
    down_tunnels: frozenset[str] = field(default_factory=frozenset)
    terminating: bool = False  # in a terminate lifecycle wait
    healthy_since: float | None = None  # unix time it last became healthy
    # tunnels of down_tunnels that are up themselves but lead to a gateway that lost the
    # tunnel onwards: (this gateway's tunnel, the lost one beyond it)
    beyond: tuple[tuple[str, str], ...] = ()
    # Routing subnets (CIDRs) it has a working path to now; None: every one it is designed to
    # reach when nothing is DOWN, none when something is and no one worked out which
    # (``signals`` does).
    reaches: frozenset[str] | None = None
    ready: bool = True  # its agent reported ready (always, for a gateway judged without evidence)
    siblings_down: bool = False  # every sibling with a fresh view sees it DOWN
    silent_tunnels: frozenset[str] = field(default_factory=frozenset)  # DOWN for lack of news
    unheard: bool = False  # running, but no agent evidence at all of it (an older gateway?)

    @property
    def usable(self) -> bool:
        return (
            self.instance == RUNNING
            and not self.terminating
            and self.alarm != "ALARM"
            and self.ready
            and not self.siblings_down
        )

    @property
    def healthy(self) -> bool:
        return self.usable and not self.down_tunnels

    def reach(self, wanted: frozenset[str]) -> int:
        """How many of the ``wanted`` routing subnets traffic through this gateway gets to."""
        if not self.usable:
            return 0
        if not wanted:  # a route to no VPC's routing subnet: only a healthy gateway will do
            return int(self.healthy)
        if self.reaches is None:
            return 0 if self.down_tunnels else len(wanted)
        return len(self.reaches & wanted)

    def describe(self) -> str:
        if self.instance != RUNNING:
            return self.instance
        if self.terminating:
            return "terminating"
        if self.alarm == "ALARM":
            return "in ALARM"
        if self.siblings_down:
            return "seen DOWN by its siblings"
        if not self.ready:
            return "publishes no health evidence" if self.unheard else "not ready (booting)"
        if self.down_tunnels:
            return "; ".join(self._down())
        return "healthy"

    def _down(self) -> list[str]:
        """Name the tunnel that is lost: a tunnel cut off beyond its far end is not down
        itself, and a silent one said nothing (no fresh evidence either way)."""
        cut = dict(self.beyond)
        silent = self.silent_tunnels - set(cut)
        direct = sorted(t for t in self.down_tunnels if t not in cut and t not in silent)
        found = [f"DOWN on {', '.join(direct)}"] if direct else []
        found += [f"silent on {', '.join(sorted(silent))}"] if silent else []
        found += [f"cut off: {lost} is DOWN beyond {own}" for own, lost in sorted(cut.items())]
        return found


Route = tuple[str, str]  # (route table name, destination CIDR)


@dataclass(frozen=True)
class Choice:
    table: str
    destination: str
    vpc: str
    az: str
    current: str | None
    chosen: str | None  # None: leave the table as it is
    reason: str

    @property
    def changed(self) -> bool:
        return self.chosen is not None and self.chosen != self.current


def decide(
    design: Design,
    current: Mapping[Route, str | None],
    states: Mapping[str, GatewayState],
    policy: Failover,
    now: float,
) -> tuple[Choice, ...]:
    """A choice for every route of every routing table; ``current`` maps (table, destination)
    -> the gateway it uses now."""
    return tuple(
        _choose(table, d, current.get((table.name, str(d))), states, policy, now, design)
        for table in design.route_tables
        for d in table.destinations
    )


def routes(table: RouteTable) -> tuple[Route, ...]:
    return tuple((table.name, str(d)) for d in table.destinations)


def _choose(
    table: RouteTable,
    destination: IPv4Network,
    current: str | None,
    states: Mapping[str, GatewayState],
    policy: Failover,
    now: float,
    design: Design,
) -> Choice:
    def choice(chosen: str | None, reason: str) -> Choice:
        if chosen is not None and _state(states, chosen).unheard:
            reason += f"; no agent evidence of {chosen}: judged by its instance and alarm alone"
        return Choice(table.name, str(destination), table.vpc, table.az, current, chosen, reason)

    wanted = _wanted(design, table, destination, states)
    reach = {g: _state(states, g).reach(wanted) for g in table.gateways}
    ranked = _ranked(table, states, reach)
    if not ranked:
        return choice(None, "no usable gateway in the VPC reaches it; leaving the route as it is")
    best, preferred = reach[ranked[0]], table.gateways[0]
    partial = f" (reaches {best} of {len(wanted)} subnets)" if best < len(wanted) else ""
    if current in ranked and reach[current] == best:
        if current == preferred:
            return choice(current, f"{current} (same AZ) is healthy{partial}")
        if (
            policy.failback
            and reach[preferred] == best
            and _state(states, preferred).healthy
            and _settled(states[preferred], policy, now)
        ):
            return choice(
                preferred,
                f"failback: {preferred} has been healthy for {policy.hold_down_s}s or more",
            )
        return choice(current, f"{current} is healthy; staying (failback off or holding down)")
    seen = _seen(states, current, reach) if current else "not pointing at a gateway"
    return choice(ranked[0], f"{current or 'route'} is {seen}; moving to {ranked[0]}{partial}")


ANY = frozenset({"*"})  # stands for "what the route is for" when no gateway reaches only part


def _wanted(
    design: Design, table: RouteTable, destination: IPv4Network, states: Mapping[str, GatewayState]
) -> frozenset[str]:
    """The routing subnets of other VPCs under ``destination``: what the route is for. Worked
    out only when a gateway of the table reaches part of the topology; otherwise every gateway
    reaches all of it or nothing, and ``ANY`` counts the same (a hook on a large topology
    decides thousands of routes per event)."""
    if all(_state(states, g).reaches is None for g in table.gateways):
        return ANY
    return frozenset(
        str(s.cidr)
        for name, vpc in design.vpcs.items()
        if name != table.vpc
        for s in vpc.routing_subnets
        if s.cidr.subnet_of(destination)
    )


def _seen(states: Mapping[str, GatewayState], gateway: str, reach: Mapping[str, int]) -> str:
    state = _state(states, gateway)
    if state.usable and reach.get(gateway, 0):
        return f"{state.describe()}, reaching less than another gateway"
    return state.describe()


def _state(states: Mapping[str, GatewayState], gateway: str) -> GatewayState:
    return states.get(gateway, GatewayState())


def _ranked(
    table: RouteTable, states: Mapping[str, GatewayState], reach: Mapping[str, int]
) -> list[str]:
    """The table's gateways that reach anything, those reaching most first, then OK alarms
    before INSUFFICIENT_DATA, then preference order."""
    order = {g: i for i, g in enumerate(table.gateways)}
    found = [g for g in table.gateways if reach[g] > 0]
    return sorted(found, key=lambda g: (-reach[g], _state(states, g).alarm != "OK", order[g]))


def _settled(state: GatewayState, policy: Failover, now: float) -> bool:
    return state.healthy_since is not None and now - state.healthy_since >= policy.hold_down_s
