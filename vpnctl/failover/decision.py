"""Which gateway each routing route table should use. Pure: design + health in, choices out.

The rules, per route table (one per AZ of a VPC, gateways listed same-AZ first):

1. A gateway is healthy when its instance is running and not being terminated, its probe
   alarm is not in ALARM, and the probe has no tunnel of it DOWN. DOWN already means several
   failed runs in a row, and UP again a stricter number of good ones (``probe.health``), so
   one bad minute moves nothing.
2. If no gateway of the VPC is healthy, nothing changes: a degraded route that still carries
   something beats a black hole.
3. A table on a healthy gateway stays there. It goes back to its preferred (same-AZ)
   gateway only when ``failover.failback`` is on and that gateway has been healthy for
   ``failover.hold_down_s`` seconds, so a gateway that comes and goes does not drag routes.
4. A table on an unhealthy, missing or unknown gateway moves to the healthiest gateway, the
   preferred one first, then the others in order; alarms in INSUFFICIENT_DATA rank after OK.

Every choice carries its reason, so the hook's log line says what was seen and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vpnctl.design import Design, RouteTable
from vpnctl.topology import Failover

RUNNING = "running"


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

    @property
    def healthy(self) -> bool:
        return (
            self.instance == RUNNING
            and not self.terminating
            and self.alarm != "ALARM"
            and not self.down_tunnels
        )

    def describe(self) -> str:
        if self.instance != RUNNING:
            return self.instance
        if self.terminating:
            return "terminating"
        if self.alarm == "ALARM":
            return "in ALARM"
        if self.down_tunnels:
            return "; ".join(self._down())
        return "healthy"

    def _down(self) -> list[str]:
        """Name the tunnel that is lost: a tunnel cut off beyond its far end is not down."""
        cut = dict(self.beyond)
        direct = sorted(t for t in self.down_tunnels if t not in cut)
        found = [f"DOWN on {', '.join(direct)}"] if direct else []
        found += [f"cut off: {lost} is DOWN beyond {own}" for own, lost in sorted(cut.items())]
        return found


@dataclass(frozen=True)
class Choice:
    table: str
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
    current: Mapping[str, str | None],
    states: Mapping[str, GatewayState],
    policy: Failover,
    now: float,
) -> tuple[Choice, ...]:
    """A choice for every route table of the design; ``current`` maps table -> gateway."""
    return tuple(_choose(t, current.get(t.name), states, policy, now) for t in design.route_tables)


def _choose(
    table: RouteTable,
    current: str | None,
    states: Mapping[str, GatewayState],
    policy: Failover,
    now: float,
) -> Choice:
    def choice(chosen: str | None, reason: str) -> Choice:
        return Choice(table.name, table.vpc, table.az, current, chosen, reason)

    healthy = _ranked(table, states)
    if not healthy:
        return choice(None, "no healthy gateway in the VPC; leaving the route as it is")
    preferred = table.gateways[0]
    if current in healthy:
        if current == preferred:
            return choice(current, f"{current} (same AZ) is healthy")
        if policy.failback and preferred in healthy and _settled(states[preferred], policy, now):
            return choice(
                preferred,
                f"failback: {preferred} has been healthy for {policy.hold_down_s}s or more",
            )
        return choice(current, f"{current} is healthy; staying (failback off or holding down)")
    seen = _state(states, current).describe() if current else "not pointing at a gateway"
    return choice(healthy[0], f"{current or 'route'} is {seen}; moving to {healthy[0]}")


def _state(states: Mapping[str, GatewayState], gateway: str) -> GatewayState:
    return states.get(gateway, GatewayState())


def _ranked(table: RouteTable, states: Mapping[str, GatewayState]) -> list[str]:
    """The table's healthy gateways, healthiest first, preference order breaking ties."""
    order = {g: i for i, g in enumerate(table.gateways)}
    healthy = [g for g in table.gateways if _state(states, g).healthy]
    return sorted(healthy, key=lambda g: (states[g].alarm != "OK", order[g]))


def _settled(state: GatewayState, policy: Failover, now: float) -> bool:
    return state.healthy_since is not None and now - state.healthy_since >= policy.hold_down_s
