"""The topology's model: what a topology file means, as frozen data, with every default.

The defaults are written here once; the reader (``vpnctl.topology.reader``) leaves out what a
file does not say and lets these classes fill it in. Nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

TUNNEL_MODES = ("psk", "fingerprint")
PROTOCOLS = ("tcp", "udp", "icmp", "all")
DEFAULT_PORT = 1194
DEFAULT_TUNNEL_POOL = IPv4Network("169.254.64.0/18")


@dataclass(frozen=True)
class Account:
    name: str
    partition: str
    profile: str | None = None


@dataclass(frozen=True)
class Dns:
    zone: str
    account: str
    ttl: int = 30


@dataclass(frozen=True)
class Addressing:
    pool: IPv4Network
    vpc_prefix: int = 16
    routing_prefix: int = 24
    gateway_prefix: int = 28
    tunnel_pool: IPv4Network = DEFAULT_TUNNEL_POOL
    reserved: tuple[IPv4Network, ...] = ()
    summarise: bool = True
    route_quota: int = 50


@dataclass(frozen=True)
class Vpc:
    name: str
    account: str
    region: str
    azs: tuple[str, ...]
    prefix: int = Addressing.vpc_prefix  # the topology's vpc_prefix, as the reader gives it
    cidr: IPv4Network | None = None  # a pin, honoured exactly
    vpc_id: str | None = None  # adopt this VPC: never create or delete it
    image: str | None = None


@dataclass(frozen=True)
class TunnelOptions:
    mode: str = "psk"
    keepalive: int = 10  # seconds between pings
    ping_restart: int = 60  # seconds of silence before the tunnel restarts


@dataclass(frozen=True)
class Link:
    a: str  # the two VPCs, in name order: the link's name is "a--b"
    b: str
    port: int | None = None
    tunnel: TunnelOptions = TunnelOptions()
    origin: str = field(default="links", compare=False)  # the key that defined it

    @property
    def name(self) -> str:
        return f"{self.a}--{self.b}"


@dataclass(frozen=True)
class Transit:
    a: str  # in name order
    b: str
    via: str


@dataclass(frozen=True)
class Gateways:
    instance_type: str = "t3.small"
    image: str = "ubuntu-24.04"  # vpnctl.images.DEFAULT_IMAGE
    mirrors: Mapping[str, str] = field(default_factory=dict)  # apt mirror per partition


@dataclass(frozen=True)
class Flow:
    src: str
    dst: str
    proto: str
    ports: tuple[tuple[int, int], ...] = ()  # inclusive ranges; () = every port

    def describe_ports(self) -> str:
        if not self.ports:
            return "any"
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.ports)


@dataclass(frozen=True)
class Thresholds:
    loss_pct: float
    rtt_ms: float


def thresholds_disorder(warn: Thresholds, crit: Thresholds) -> str | None:
    """Why ``warn`` and ``crit`` cannot be used together, or None when they can.

    A warning must come before the critical state it warns of: no warning figure may exceed its
    critical one. The topology reader and ``vpnctl probe --warn/--crit`` both ask this.
    """
    over = [
        f"{what} {w:g} > {c:g}"
        for what, w, c in (
            ("loss_pct", warn.loss_pct, crit.loss_pct),
            ("rtt_ms", warn.rtt_ms, crit.rtt_ms),
        )
        if w > c
    ]
    if not over:
        return None
    return f"warning thresholds must not exceed critical ones ({', '.join(over)})"


def ordered(
    warn: Thresholds, crit: Thresholds, error: Callable[[str], Exception] = ValueError
) -> Thresholds:
    """``crit``, once ``warn`` is known not to exceed it; else ``error(why)`` is raised (a
    command line passes its usage error, so the refusal reads like any bad flag)."""
    why = thresholds_disorder(warn, crit)
    if why is not None:
        raise error(why)
    return crit


@dataclass(frozen=True)
class Probe:
    count: int = 20
    interval_ms: int = 200
    warn: Thresholds = Thresholds(2.0, 250.0)
    crit: Thresholds = Thresholds(10.0, 600.0)
    targets: Mapping[str, tuple[IPv4Address, ...]] = field(default_factory=dict)


def recovery_after(failures: int) -> int:
    """The default number of good runs before UP: stricter than ``failures`` (at least two
    more, and never fewer than 5), so that a flapping link stays DOWN."""
    return max(5, failures + 2)


@dataclass(frozen=True)
class Failover:
    consecutive_failures: int = 3
    # 0 means "not given": then it is recovery_after(consecutive_failures), set on creation
    recovery_successes: int = 0
    failback: bool = False
    hold_down_s: int = 300

    def __post_init__(self) -> None:
        if self.recovery_successes == 0:
            object.__setattr__(
                self, "recovery_successes", recovery_after(self.consecutive_failures)
            )


@dataclass(frozen=True)
class Topology:
    name: str
    accounts: Mapping[str, Account]
    dns: Dns
    addressing: Addressing
    vpcs: Mapping[str, Vpc]
    links: tuple[Link, ...]
    hub: str | None = None  # links: {hub: NAME}: every other VPC reaches every other through it
    transit: tuple[Transit, ...] = ()
    tunnel: TunnelOptions = TunnelOptions()
    gateways: Gateways = Gateways()
    allow: tuple[Flow, ...] = ()
    probe: Probe = Probe()
    failover: Failover = Failover()

    def partition(self, vpc: str) -> str:
        return self.accounts[self.vpcs[vpc].account].partition
