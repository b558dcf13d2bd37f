"""Address allocation: VPC CIDRs, routing and gateway subnets, tunnel /30s and ports.

``allocate(topology, lock)`` is pure. It keeps every allocation the lock already records,
exactly, and only adds what is new, so adding, removing or reordering VPCs, links or AZs never
moves anything that was recorded. Removed entries stay reserved until ``release`` drops them.

Allocation is hierarchical so that routes summarise: each region gets an aligned block of the
pool, sized with room to grow (twice what it needs, where the pool allows), and its VPCs are
carved from it. A region that outgrows its block gets another one. Inside a VPC the routing
subnets are packed from the bottom (so a VPC's routing subnets are one aligned run) and the
gateway subnets from the top, leaving the middle to the VPC's own private subnets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Network

from vpnctl.errors import Problem
from vpnctl.space import Space
from vpnctl.topology import DEFAULT_PORT, Topology, Vpc
from vpnctl.topology import formats as fmt
from vpnctl.tunnels import TunnelSpec, all_tunnels

# Address space AWS keeps for itself: the instance metadata /24 and the /30s it reserves for
# Site-to-Site VPN tunnel inside addresses.
AWS_RESERVED = (
    IPv4Network("169.254.169.0/24"),
    *(IPv4Network(f"169.254.{i}.0/30") for i in range(6)),
    IPv4Network("169.254.169.252/30"),
)
# Docker's default bridge: a VPC here breaks every container host in it. Refused unless pinned.
DOCKER_BRIDGE = IPv4Network("172.17.0.0/16")
MAX_PORT = 65535


@dataclass(frozen=True)
class AzAllocation:
    routing: IPv4Network
    gateway: IPv4Network


@dataclass(frozen=True)
class VpcAllocation:
    cidr: IPv4Network
    azs: Mapping[str, AzAllocation] = field(default_factory=dict)
    # where the VPC lives: not an allocation, but once the VPC leaves the topology this is
    # the only record of the account and region apply must still clean up
    account: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class TunnelAllocation:
    link: str
    inside: IPv4Network
    port: int


@dataclass(frozen=True)
class Lock:
    """Everything allocated for one topology: what ``NAME.lock.json`` holds. No secrets."""

    name: str
    blocks: Mapping[str, tuple[IPv4Network, ...]] = field(default_factory=dict)
    vpcs: Mapping[str, VpcAllocation] = field(default_factory=dict)
    tunnels: Mapping[str, TunnelAllocation] = field(default_factory=dict)


@dataclass(frozen=True)
class Allocation:
    lock: Lock
    notes: tuple[str, ...] = ()  # what a reviewer should know (stale entries, poor summarising)
    problems: tuple[Problem, ...] = ()


def tunnel_gateways(name: str, link: str) -> tuple[str, str] | None:
    """The gateways the tunnel ``name`` of ``link`` joins, or None when ``name`` is not one of
    that link's tunnels: ``a-x--b-y`` of link ``a--b`` joins ``gw-a-x`` and ``gw-b-y``."""
    a, sep, b = link.partition("--")
    head, middle = f"{a}-", f"--{b}-"
    if not sep or not name.startswith(head):
        return None
    rest = name[len(head) :]
    cut = rest.find(middle)
    a_part, b_part = rest[:cut], rest[cut + len(middle) :]
    if cut < 0 or not (fmt.valid(fmt.AZ_PART, a_part) and fmt.valid(fmt.AZ_PART, b_part)):
        return None
    return f"gw-{a}-{a_part}", f"gw-{b}-{b_part}"


class _Forbidden:
    """Networks nothing recorded may overlap, each with how to name it: one bisection per
    question, so checking every recorded entry costs n log n, not n times the list."""

    def __init__(self, nets: Iterable[tuple[IPv4Network, str]]) -> None:
        self.nets = list(nets)
        self.space = Space(_bounds(n) for n, _ in self.nets)

    def overlap(self, net: IPv4Network) -> str | None:
        """What ``net`` overlaps, or None."""
        if not self.space.overlaps(net):
            return None
        return next(what for bad, what in self.nets if bad.overlaps(net))


def release(lock: Lock, topology: Topology, names: Iterable[str] = (), prune: bool = False) -> Lock:
    """Drop lock entries: the VPCs named (and their tunnels), and with ``prune`` every entry
    the topology no longer has. The next ``allocate`` gives released things fresh addresses."""
    drop = set(names)
    if prune:
        drop |= set(lock.vpcs) - set(topology.vpcs)
    vpcs = {n: v for n, v in lock.vpcs.items() if n not in drop}
    if prune:
        vpcs = {n: _prune_azs(v, topology.vpcs[n]) for n, v in vpcs.items()}
    live = {t.name for t in all_tunnels(topology, lock.tunnels)} if prune else None
    tunnels = {
        n: t
        for n, t in lock.tunnels.items()
        if not set(t.link.split("--")) & drop and (live is None or n in live)
    }
    regions = {v.region for v in topology.vpcs.values()} if prune else None
    blocks = {r: b for r, b in lock.blocks.items() if regions is None or r in regions}
    return Lock(lock.name, blocks, vpcs, tunnels)


def _prune_azs(alloc: VpcAllocation, vpc: Vpc) -> VpcAllocation:
    return replace(alloc, azs={az: a for az, a in alloc.azs.items() if az in vpc.azs})


def allocate(topology: Topology, lock: Lock | None = None) -> Allocation:
    """Allocate what ``lock`` lacks for ``topology``; never move what it records."""
    allocator = _Allocator(topology, lock or Lock(topology.name))
    return allocator.run()


class _Allocator:
    def __init__(self, topology: Topology, lock: Lock) -> None:
        self.t = topology
        self.lock = lock
        self.a = topology.addressing
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.vpcs: dict[str, VpcAllocation] = {}
        self.blocks: dict[str, list[IPv4Network]] = {r: list(b) for r, b in lock.blocks.items()}

    def run(self) -> Allocation:
        if self.lock.name != self.t.name:
            self.problems.append(
                Problem(
                    "name",
                    f"the lock file was written for topology {self.lock.name!r}, not"
                    f" {self.t.name!r}; restore the right one, or remove it to allocate afresh",
                )
            )
            return Allocation(self.lock, (), tuple(self.problems))
        self.check_pins()
        if not self.problems:
            self.allocate_vpcs()
        if not self.problems:
            self.allocate_subnets()
        tunnels = self.allocate_tunnels() if not self.problems else {}
        self.note_stale()
        self.check_edits()
        result = Lock(
            self.t.name,
            {r: tuple(b) for r, b in sorted(self.blocks.items())},
            dict(sorted(self.vpcs.items())),
            dict(sorted(tunnels.items())),
        )
        return Allocation(result, tuple(self.notes), tuple(self.problems))

    # ----------------------------------------------------------------- pins

    def check_pins(self) -> None:
        pins = sorted(
            ((v.cidr, v.name) for v in self.t.vpcs.values() if v.cidr is not None),
            key=lambda p: (int(p[0].network_address), p[1]),
        )
        for (net, name), (other, other_name) in _overlapping_pairs(pins):
            self.problems.append(
                Problem(
                    f"vpcs.{other_name}.cidr",
                    f"{other} overlaps {net}, pinned for VPC {name}; pinned CIDRs must be disjoint",
                )
            )
        forbidden = [
            *((r, f"addressing.reserved entry {r}") for r in self.a.reserved),
            *((r, f"{r}, which AWS reserves") for r in AWS_RESERVED),
            (self.a.tunnel_pool, f"addressing.tunnel_pool {self.a.tunnel_pool}"),
        ]
        for net, name in pins:
            for bad, what in forbidden:
                if net.overlaps(bad):
                    self.problems.append(Problem(f"vpcs.{name}.cidr", f"{net} overlaps {what}"))

    # ----------------------------------------------------------------- VPC CIDRs

    def allocate_vpcs(self) -> None:
        pinned = {v.name: v.cidr for v in self.t.vpcs.values() if v.cidr is not None}
        for name, cidr in pinned.items():
            self.vpcs[name] = self.kept_vpc(name, cidr)
        recorded = {n: v for n, v in self.lock.vpcs.items() if n not in pinned}
        free = Space.from_networks(
            [self.a.pool],
            [
                *self.a.reserved,
                *AWS_RESERVED,
                DOCKER_BRIDGE,
                self.a.tunnel_pool,
                *pinned.values(),
                *(v.cidr for v in recorded.values()),
            ],
        )
        forbidden = _Forbidden(
            [
                *((r, str(r)) for r in self.a.reserved),
                *((p, str(p)) for p in pinned.values()),
                *((r, f"{r}, which AWS reserves") for r in AWS_RESERVED),
                (self.a.tunnel_pool, f"addressing.tunnel_pool {self.a.tunnel_pool}"),
            ]
        )
        for name, alloc in recorded.items():  # kept even when no longer in the topology
            if name in self.t.vpcs:
                self.check_recorded(self.t.vpcs[name], alloc, forbidden)
            self.vpcs[name] = alloc
        unclaimed = free.copy()
        for blocks in self.blocks.values():
            for block in blocks:
                unclaimed.remove(block)
        todo: dict[str, list[Vpc]] = {}
        for vpc in sorted(self.t.vpcs.values(), key=lambda v: v.name):
            if vpc.name not in self.vpcs:
                todo.setdefault(vpc.region, []).append(vpc)
        need, have = sum(_need(v) for v in todo.values()), free.size()
        missing = 0
        for region in sorted(todo, key=lambda r: (-_need(todo[r]), r)):
            missing += self.allocate_region(region, todo[region], free, unclaimed)
        if missing:
            self.problems.append(
                Problem("addressing.pool", self.pool_too_small(missing, need, have))
            )

    def kept_vpc(self, name: str, cidr: IPv4Network) -> VpcAllocation:
        recorded = self.lock.vpcs.get(name)
        if recorded is None or recorded.cidr == cidr:
            return recorded or VpcAllocation(cidr)
        self.notes.append(
            f"VPC {name} is pinned to {cidr}; its recorded {recorded.cidr} and "
            "its subnets are given up"
        )
        return VpcAllocation(cidr)

    def check_recorded(self, vpc: Vpc, alloc: VpcAllocation, forbidden: _Forbidden) -> None:
        name = vpc.name
        bad = forbidden.overlap(alloc.cidr)
        if bad is not None:
            self.problems.append(
                Problem(
                    f"vpcs.{name}",
                    f"its recorded CIDR {alloc.cidr} (lock file) now overlaps {bad}; "
                    f"re-plan with --release {name} to give it a new one",
                )
            )
        if alloc.account is not None and (alloc.account, alloc.region) != (vpc.account, vpc.region):
            where = "region" if alloc.region != vpc.region else "account"
            self.problems.append(
                Problem(
                    f"vpcs.{name}.{where}",
                    f"the lock file records VPC {name} in account {alloc.account}, region"
                    f" {alloc.region}; a VPC cannot move between accounts or regions, so"
                    f" re-plan with --release {name} to allocate it afresh where it now is",
                )
            )

    def allocate_region(self, region: str, vpcs: list[Vpc], free: Space, unclaimed: Space) -> int:
        """Place ``vpcs`` in ``region``'s blocks, growing them; return how many did not fit."""
        vpcs = sorted(vpcs, key=lambda v: (v.prefix, v.name))  # largest first packs aligned
        left = [v for v in vpcs if not self.place(v, free, self.blocks.get(region, []))]
        if left:
            block = self.new_block(left, unclaimed)
            if block is not None:
                self.blocks.setdefault(region, []).append(block)
                left = [v for v in left if not self.place(v, free, [block])]
        if left:
            self.notes.append(
                f"region {region}: no aligned block left in the pool; "
                f"{', '.join(v.name for v in left)} placed wherever there was room, "
                "so routes to them summarise less"
            )
            left = [v for v in left if not self.place(v, free, [None], unclaimed)]
        return len(left)

    def place(
        self,
        vpc: Vpc,
        free: Space,
        within: Sequence[IPv4Network | None],
        prefer: Space | None = None,
    ) -> bool:
        for block in within:
            cidr = (prefer.find(vpc.prefix, block) if prefer else None) or free.find(
                vpc.prefix, block
            )
            if cidr is not None:
                free.remove(cidr)
                if prefer:
                    prefer.remove(cidr)
                self.vpcs[vpc.name] = VpcAllocation(cidr)
                return True
        return False

    def new_block(self, vpcs: list[Vpc], unclaimed: Space) -> IPv4Network | None:
        need = _need(vpcs)
        for headroom in (2, 1):
            size = 1 << max(need * headroom - 1, 0).bit_length()
            prefixlen = 32 - size.bit_length() + 1
            if prefixlen < self.a.pool.prefixlen:
                continue
            block = unclaimed.take(prefixlen)
            if block is not None:
                return block
        return None

    def pool_too_small(self, missing: int, need: int, have: int) -> str:
        short = need - have
        what = (
            f"{short} addresses short (need {need}, {have} free)"
            if short > 0
            else f"{have} addresses are free but too fragmented for {need} in aligned blocks"
        )
        return (
            f"pool {self.a.pool} has no room for {missing} more VPC(s): {what}; use a larger "
            "pool or a smaller VPC size (vpc_prefix)"
        )

    # ----------------------------------------------------------------- subnets

    def allocate_subnets(self) -> None:
        for name, alloc in list(self.vpcs.items()):
            vpc = self.t.vpcs.get(name)
            if vpc is not None:
                self.vpcs[name] = self.vpc_subnets(vpc, alloc)

    def vpc_subnets(self, vpc: Vpc, alloc: VpcAllocation) -> VpcAllocation:
        if all(az in alloc.azs for az in vpc.azs):  # all recorded: nothing to carve
            if (alloc.account, alloc.region) == (vpc.account, vpc.region):
                return alloc
            return replace(alloc, account=vpc.account, region=vpc.region)
        space = Space.of(alloc.cidr)
        for used in alloc.azs.values():
            space.remove(used.routing)
            space.remove(used.gateway)
        azs = dict(alloc.azs)
        for az in sorted(vpc.azs):
            if az in azs:
                continue
            routing = space.take(self.a.routing_prefix)
            gateway = space.take(self.a.gateway_prefix, from_top=True)
            if routing is None or gateway is None:
                self.problems.append(
                    Problem(
                        f"vpcs.{vpc.name}.azs",
                        f"{alloc.cidr} has no room for a /{self.a.routing_prefix} routing subnet and "
                        f"a /{self.a.gateway_prefix} gateway subnet in each of its {len(vpc.azs)} "
                        "AZs; use a larger VPC or smaller routing_prefix/gateway_prefix",
                    )
                )
                break
            azs[az] = AzAllocation(routing, gateway)
        return replace(alloc, azs=dict(sorted(azs.items())), account=vpc.account, region=vpc.region)

    # ----------------------------------------------------------------- tunnels

    def allocate_tunnels(self) -> dict[str, TunnelAllocation]:
        specs = sorted(all_tunnels(self.t, self.lock.tunnels), key=lambda s: s.name)
        ports = _PortBook()
        kept = dict(self.lock.tunnels)  # recorded, even if no longer in use
        self.pin_ports(specs, ports)
        self.hold_recorded_ports(specs, kept, ports)
        vpc_cidrs = [v.cidr for v in self.vpcs.values() if v.cidr.overlaps(self.a.tunnel_pool)]
        space = Space.from_networks(
            [self.a.tunnel_pool],
            [*AWS_RESERVED, *self.a.reserved, *vpc_cidrs, *(t.inside for t in kept.values())],
        )
        self.check_recorded_insides(specs, kept)
        result = dict(kept)
        missing = 0
        for spec in specs:
            recorded = kept.get(spec.name)
            port = spec.link.port or (recorded.port if recorded else ports.next_free(spec))
            if port > MAX_PORT:
                self.problems.append(
                    Problem(spec.link.origin, f"no UDP port left on {spec.a_gateway}")
                )
                continue
            inside = recorded.inside if recorded else space.take(30)
            if inside is None:
                missing += 1
                continue
            result[spec.name] = TunnelAllocation(spec.link.name, inside, port)
        if missing:
            self.problems.append(
                Problem(
                    "addressing.tunnel_pool",
                    f"{self.a.tunnel_pool} has no /30 left for {missing} tunnel(s); use a larger "
                    "tunnel_pool",
                )
            )
        return result

    def hold_recorded_ports(
        self, specs: list[TunnelSpec], kept: Mapping[str, TunnelAllocation], ports: _PortBook
    ) -> None:
        """Hold every recorded port on its gateways, also a stale tunnel's (its link may come
        back with it); a pin that takes a port another tunnel has recorded is refused."""
        pins = {s.name: s for s in specs if s.link.port is not None}
        live = {s.name: (s.a_gateway, s.b_gateway) for s in specs}
        owners: dict[tuple[str, int], str] = {}
        for name, alloc in kept.items():
            gateways = live.get(name) or tunnel_gateways(name, alloc.link)
            if name in pins or gateways is None:
                continue  # a pinned tunnel's port is its pin
            ports.hold(gateways, alloc.port)
            for gateway in gateways:
                owners[(gateway, alloc.port)] = name
        for spec in pins.values():
            for gateway in (spec.a_gateway, spec.b_gateway):
                other = owners.get((gateway, spec.link.port or 0))
                if other is not None:
                    self.problems.append(
                        Problem(
                            f"{spec.link.origin}.port",
                            f"port {spec.link.port} on {gateway} is recorded for tunnel {other}"
                            " (lock file); pin another port, or release that tunnel's VPC"
                            " (--release, or --prune if it left the topology)",
                        )
                    )

    def check_recorded_insides(
        self, specs: list[TunnelSpec], kept: Mapping[str, TunnelAllocation]
    ) -> None:
        forbidden = _Forbidden(
            [
                *((r, f"{r}, which AWS reserves") for r in AWS_RESERVED),
                *((r, f"addressing.reserved entry {r}") for r in self.a.reserved),
                *((v.cidr, f"VPC {n}'s {v.cidr}") for n, v in self.vpcs.items()),
            ]
        )
        for spec in specs:
            recorded = kept.get(spec.name)
            what = forbidden.overlap(recorded.inside) if recorded else None
            if recorded is not None and what:
                self.problems.append(
                    Problem(
                        spec.link.origin,
                        f"tunnel {spec.name}'s recorded {recorded.inside} (lock file) overlaps"
                        f" {what}; re-plan with --release {spec.link.a} to give its tunnels new"
                        " ones",
                    )
                )

    def pin_ports(self, specs: list[TunnelSpec], ports: _PortBook) -> None:
        owners: dict[tuple[str, int], str] = {}
        for spec in specs:
            if spec.link.port is None:
                continue
            for gateway in (spec.a_gateway, spec.b_gateway):
                first = owners.setdefault((gateway, spec.link.port), spec.name)
                if first != spec.name:
                    self.problems.append(
                        Problem(
                            f"{spec.link.origin}.port",
                            f"port {spec.link.port} is pinned twice on {gateway} (tunnels {first} and"
                            f" {spec.name}); a gateway needs a distinct port per tunnel, so drop the"
                            " pin or give each link its own",
                        )
                    )
            ports.hold((spec.a_gateway, spec.b_gateway), spec.link.port)

    def check_edits(self) -> None:
        """An edited pool, tunnel pool or prefix size never passes in silence (``_Edits``)."""
        edits = _Edits(self.t, self.lock)
        self.notes.extend(edits.notes())
        self.problems.extend(edits.problems())

    def note_stale(self) -> None:
        stale = sorted(set(self.lock.vpcs) - set(self.t.vpcs))
        if stale:
            self.notes.append(
                f"the lock file still reserves {len(stale)} VPC(s) no longer in the "
                f"topology ({', '.join(stale[:5])}{'...' if len(stale) > 5 else ''}); "
                "`vpnctl plan --prune` releases them"
            )


class _PortBook:
    """Ports in use per gateway, with a low-water mark so the next free one is found fast."""

    def __init__(self) -> None:
        self.used: dict[str, set[int]] = {}
        self.low: dict[str, int] = {}

    def hold(self, gateways: tuple[str, str], port: int) -> None:
        for gateway in gateways:
            self.used.setdefault(gateway, set()).add(port)

    def next_free(self, spec: TunnelSpec) -> int:
        gws = (spec.a_gateway, spec.b_gateway)
        port = max(self._low(g) for g in gws)
        while any(port in self.used.get(g, ()) for g in gws):
            port += 1
        self.hold(gws, port)
        return port

    def _low(self, gateway: str) -> int:
        used = self.used.get(gateway, set())
        port = self.low.get(gateway, DEFAULT_PORT)
        while port in used:
            port += 1
        self.low[gateway] = port
        return port


def _bounds(net: IPv4Network) -> tuple[int, int]:
    start = int(net.network_address)
    return start, start + _size(net.prefixlen)


def _size(prefixlen: int) -> int:
    return 1 << (32 - prefixlen)


def _need(vpcs: list[Vpc]) -> int:
    return sum(_size(v.prefix) for v in vpcs)


def _overlapping_pairs(
    nets: list[tuple[IPv4Network, str]],
) -> list[tuple[tuple[IPv4Network, str], tuple[IPv4Network, str]]]:
    """Pairs that overlap, from a list sorted by start address: one sweep, not n²."""
    pairs = []
    widest: tuple[IPv4Network, str] | None = None
    for item in nets:
        if widest is not None and widest[0].overlaps(item[0]):
            pairs.append((widest, item))
        if widest is None or int(item[0].broadcast_address) > int(widest[0].broadcast_address):
            widest = item
    return pairs


class _Edits:
    """What an edited ``addressing`` does to what the lock file records (before allocation).

    A recorded VPC, subnet or tunnel is running on AWS: re-addressing it means replacing it.
    So an edit applies to new allocations only, and the plan names every recorded entry it
    leaves as it is (a VPC or subnet of the old size); a recorded entry the edit would put
    outside its pool is refused on the edited key instead (exit 2), with the ways out.
    Pinned VPCs and entries no longer in the topology are not judged: pins are honoured
    exactly, and stale entries are only reservations until ``--prune``.
    """

    def __init__(self, topology: Topology, lock: Lock) -> None:
        self.t = topology
        self.a = topology.addressing
        self.lock = lock
        self.live = {
            n: v
            for n, v in lock.vpcs.items()
            if n in topology.vpcs and topology.vpcs[n].cidr is None
        }

    def notes(self) -> list[str]:
        return [*self.vpc_sizes(), *self.subnet_sizes(), *self.blocks()]

    def problems(self) -> list[Problem]:
        return [*self.outside_pool(), *self.outside_tunnel_pool()]

    def vpc_sizes(self) -> list[str]:
        by_key: dict[tuple[str, int], list[str]] = {}
        for name, alloc in self.live.items():
            want = self.t.vpcs[name].prefix
            if alloc.cidr.prefixlen != want:
                key = (
                    "addressing.vpc_prefix" if want == self.a.vpc_prefix else f"vpcs.{name}.prefix"
                )
                by_key.setdefault((key, want), []).append(f"{name} {alloc.cidr}")
        return [
            f"{key} /{want} applies to new VPCs only: the recorded {_listed(found)} (lock file) "
            "keep their size; `vpnctl plan --release VPC` re-allocates one (a new VPC on AWS)"
            for (key, want), found in sorted(by_key.items())
        ]

    def subnet_sizes(self) -> list[str]:
        found: dict[str, list[str]] = {"routing": [], "gateway": []}
        for name, alloc in self.live.items():
            for az, sub in alloc.azs.items():
                if az not in self.t.vpcs[name].azs:
                    continue
                if sub.routing.prefixlen != self.a.routing_prefix:
                    found["routing"].append(f"{name} {az} {sub.routing}")
                if sub.gateway.prefixlen != self.a.gateway_prefix:
                    found["gateway"].append(f"{name} {az} {sub.gateway}")
        want = {"routing": self.a.routing_prefix, "gateway": self.a.gateway_prefix}
        return [
            f"addressing.{kind}_prefix /{want[kind]} applies to new AZs only: the recorded "
            f"{kind} subnet(s) {_listed(subs)} (lock file) keep their size; "
            "`vpnctl plan --release VPC` re-allocates a VPC's subnets"
            for kind, subs in found.items()
            if subs
        ]

    def blocks(self) -> list[str]:
        outside = [
            f"{region} {block}"
            for region, blocks in sorted(self.lock.blocks.items())
            for block in blocks
            if not _holds(self.a.pool, block)
        ]
        if not outside:
            return []
        return [
            f"addressing.pool {self.a.pool} does not hold the recorded region block(s) "
            f"{_listed(outside)} (lock file): they stay recorded, and new VPCs are carved from "
            "the pool only"
        ]

    def outside_pool(self) -> list[Problem]:
        outside = [f"{n} {v.cidr}" for n, v in self.live.items() if not _holds(self.a.pool, v.cidr)]
        if not outside:
            return []
        return [
            Problem(
                "addressing.pool",
                f"the recorded VPC(s) {_listed(outside)} (lock file) lie outside the pool "
                f"{self.a.pool}, and a VPC cannot be re-addressed in place: keep a pool that "
                "holds them, pin one where it is (vpcs.NAME.cidr), or re-plan with "
                "--release NAME to give it a new CIDR (a new VPC on AWS)",
            )
        ]

    def outside_tunnel_pool(self) -> list[Problem]:
        pool = self.a.tunnel_pool
        if all(_holds(pool, t.inside) for t in self.lock.tunnels.values()):
            return []  # the common case, without pairing anything
        live = {s.name for s in all_tunnels(self.t, self.lock.tunnels)}
        outside = [
            f"{n} {t.inside}"
            for n, t in sorted(self.lock.tunnels.items())
            if n in live and not _holds(pool, t.inside)
        ]
        if not outside:
            return []
        return [
            Problem(
                "addressing.tunnel_pool",
                f"the recorded tunnel(s) {_listed(outside)} (lock file) lie outside the tunnel "
                f"pool {pool}; a running tunnel keeps its /30, so keep a tunnel_pool that holds "
                "them, or re-plan with --release VPC for a VPC at one end to give its tunnels "
                "new ones",
            )
        ]


def _holds(outer: IPv4Network, net: IPv4Network) -> bool:
    """``net.subnet_of(outer)``, in integers: it runs once per recorded entry on every plan."""
    low = int(outer.network_address)
    start = int(net.network_address)
    return low <= start and start + _size(net.prefixlen) <= low + _size(outer.prefixlen)


def _listed(items: list[str], most: int = 5) -> str:
    """``a, b, c`` or ``a, b, c, d, e and 7 more``."""
    shown = ", ".join(items[:most])
    return f"{shown} and {len(items) - most} more" if len(items) > most else shown
