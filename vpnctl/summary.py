"""Route summarisation: the fewest prefixes that reach a set of VPCs, and nothing else.

A route table needs the remote routing subnets. Listing them one by one runs into AWS's 50
routes per table long before a few dozen VPCs; summarising them blindly (10.0.0.0/8 via the
gateway) steals address space that other paths, on-premises networks or peered VPCs, rightly
use. The rule here: an aggregate may cover the topology's own allocations that are reached
through this path and pool space nobody has been given, and nothing else: not ``reserved``, not
AWS's own ranges, not the tunnel pool, not VPCs this one does not reach, never 0.0.0.0/0.

Within that allowed space the best aggregate for a destination is its largest supernet that
still lies inside it. Largest supernets nest, so the distinct ones are the minimal cover: no
set of allowed prefixes covering the same destinations can be smaller.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Network, collapse_addresses

from vpnctl.space import Space


def merge(nets: Iterable[IPv4Network]) -> tuple[IPv4Network, ...]:
    """Exact routes: ``nets`` with adjacent and nested prefixes merged, nothing added."""
    nets = list(nets)
    if len(nets) < 2:
        return tuple(nets)
    return tuple(collapse_addresses(nets))


class Summariser:
    """Summarises routes for many VPCs that share one address plan.

    ``cidrs`` maps every VPC of the topology to its CIDR; ``pool`` is the space a summary may
    cover besides the VPCs it reaches, ``forbidden`` what none may cover. Each VPC's allowed
    space adds the VPCs it reaches and removes those it does not; VPCs that reach every other
    one with one summary (a hub's spokes, a VPC with more next hops than its tables have
    routes) share one space, so a 5,000-VPC hub costs one pass, not 5,000. The design asks
    ``for_some`` once per next hop for the others, passing only that next hop's VPCs, so one
    next hop's routes never cover another's VPCs.
    """

    def __init__(
        self, cidrs: Mapping[str, IPv4Network], pool: IPv4Network, forbidden: Iterable[IPv4Network]
    ) -> None:
        self.cidrs = dict(cidrs)
        self.pool = pool
        self.forbidden = tuple(forbidden)
        self._everyone: dict[str, IPv4Network] | None = None
        self._everyone_count: Counter[IPv4Network] = Counter()

    def for_all_others(self, vpc: str) -> tuple[IPv4Network, ...]:
        """Routes for a VPC that reaches every other VPC through one next hop."""
        if self._everyone is None:
            space = self._space(set(self.cidrs), ())
            self._everyone = {n: space.largest_within(c) for n, c in self.cidrs.items()}
            self._everyone_count = Counter(self._everyone.values())
        mine = self._everyone[vpc]
        return tuple(
            sorted(m for m, count in self._everyone_count.items() if count - (m == mine) > 0)
        )

    def for_some(self, vpc: str, reached: Iterable[str]) -> tuple[IPv4Network, ...]:
        """Routes for a VPC that reaches only ``reached``."""
        reached = set(reached)
        unreached = [c for n, c in self.cidrs.items() if n not in reached and n != vpc]
        space = self._space(reached | {vpc}, unreached)
        return tuple(sorted({space.largest_within(self.cidrs[n]) for n in reached}))

    def _space(self, reached: set[str], unreached: Iterable[IPv4Network]) -> Space:
        include = [self.pool, *(self.cidrs[n] for n in reached)]
        return Space.from_networks(include, [*self.forbidden, *unreached])
