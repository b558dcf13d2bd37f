from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address

import pytest

from vpnctl.probe.report import Target
from vpnctl.probe.targets import (
    TargetError,
    adhoc,
    from_design,
    local_addresses,
    local_gateway,
    siblings,
)


@dataclass(frozen=True)
class End:
    gateway: str
    inside_ip: IPv4Address
    port: int = 1194


@dataclass(frozen=True)
class Tunnel:
    name: str
    link: str
    a: End
    b: End


@dataclass(frozen=True)
class Gateway:
    name: str
    vpc: str


@dataclass(frozen=True)
class Vpc:
    gateways: tuple[str, ...]


@dataclass(frozen=True)
class Design:
    gateways: tuple[Gateway, ...]
    tunnels: tuple[Tunnel, ...]

    @property
    def gateway_by_name(self) -> dict[str, Gateway]:
        return {g.name: g for g in self.gateways}

    @property
    def tunnels_by_gateway(self) -> dict[str, tuple[Tunnel, ...]]:
        return {
            g.name: tuple(t for t in self.tunnels if g.name in (t.a.gateway, t.b.gateway))
            for g in self.gateways
        }

    @property
    def vpcs(self) -> dict[str, Vpc]:
        found: dict[str, list[str]] = {}
        for g in self.gateways:
            found.setdefault(g.vpc, []).append(g.name)
        return {vpc: Vpc(tuple(names)) for vpc, names in found.items()}


def ip(text: str) -> IPv4Address:
    return IPv4Address(text)


HUB = Design(
    gateways=(Gateway("gw-hub-a", "hub"), Gateway("gw-x-a", "x"), Gateway("gw-y-a", "y")),
    tunnels=(
        Tunnel(
            "t1", "hub--x", End("gw-hub-a", ip("169.254.64.1")), End("gw-x-a", ip("169.254.64.2"))
        ),
        Tunnel(
            "t2", "hub--y", End("gw-y-a", ip("169.254.64.6")), End("gw-hub-a", ip("169.254.64.5"))
        ),
    ),
)


def test_far_end_of_every_tunnel_the_gateway_serves() -> None:
    assert from_design(HUB, "gw-hub-a") == (
        Target(ip("169.254.64.2"), "hub--x", "gw-x-a"),
        Target(ip("169.254.64.6"), "hub--y", "gw-y-a"),
    )
    assert from_design(HUB, "gw-x-a") == (Target(ip("169.254.64.1"), "hub--x", "gw-hub-a"),)


class IndexedOnly:
    """HUB's indexes, but reading every tunnel of the topology fails the test."""

    gateway_by_name = HUB.gateway_by_name
    tunnels_by_gateway = HUB.tunnels_by_gateway

    @property
    def tunnels(self) -> tuple[Tunnel, ...]:
        raise AssertionError("from_design scanned every tunnel of the topology")


def test_targets_come_from_the_gateways_own_tunnels_not_a_scan_of_all() -> None:
    assert from_design(IndexedOnly(), "gw-hub-a") == from_design(HUB, "gw-hub-a")


class LookupOnly(Mapping[str, Gateway]):
    """Gateways found by name; going through all of them fails the test."""

    def __init__(self, gateways: tuple[Gateway, ...]) -> None:
        self.found = {g.name: g for g in gateways}

    def __getitem__(self, name: str) -> Gateway:
        return self.found[name]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("siblings scanned every gateway of the topology")

    def __len__(self) -> int:
        return len(self.found)


@dataclass(frozen=True)
class VpcsOnly:
    gateway_by_name: LookupOnly
    vpcs: dict[str, Vpc]


def test_siblings_are_the_other_gateways_of_the_vpc_found_from_its_own_list() -> None:
    gateways = (Gateway("gw-hub-c", "hub"), Gateway("gw-hub-a", "hub"), Gateway("gw-x-a", "x"))
    design = VpcsOnly(
        LookupOnly(gateways), {"hub": Vpc(("gw-hub-c", "gw-hub-a")), "x": Vpc(("gw-x-a",))}
    )
    assert siblings(design, "gw-hub-a") == ("gw-hub-c",)
    assert siblings(design, "gw-hub-c") == ("gw-hub-a",)
    assert siblings(design, "gw-x-a") == ()


@dataclass(frozen=True)
class Vpcs:
    gateway_by_name: dict[str, Gateway]
    vpcs: dict[str, Vpc]


def test_siblings_of_an_unknown_gateway_name_the_known_ones() -> None:
    design = Vpcs(HUB.gateway_by_name, {})
    with pytest.raises(TargetError, match=r"--gateway gw-nope: .*\(gateways: gw-hub-a, gw-x-a"):
        siblings(design, "gw-nope")


def test_one_link_only() -> None:
    assert [t.link for t in from_design(HUB, "gw-hub-a", "hub--y")] == ["hub--y"]


def test_remote_hosts_are_probed_through_their_link() -> None:
    hosts = {"y": (ip("10.66.0.10"),), "hub": (ip("10.64.0.10"),)}
    found = from_design(HUB, "gw-hub-a", hosts=hosts)
    assert Target(ip("10.66.0.10"), "hub--y", "gw-y-a") in found
    assert all(t.address != ip("10.64.0.10") for t in found)  # never our own VPC


def test_gateway_found_from_local_addresses() -> None:
    local = {ip("127.0.0.1"), ip("169.254.64.2")}
    assert from_design(HUB, local=local)[0].gateway == "gw-hub-a"
    assert local_gateway(HUB, local) == "gw-x-a"


@pytest.mark.parametrize(
    ("local", "message"),
    [({ip("10.0.0.1")}, "none"), ({ip("169.254.64.1"), ip("169.254.64.2")}, "several")],
)
def test_gateway_must_be_found_exactly(local: set[IPv4Address], message: str) -> None:
    with pytest.raises(TargetError, match=message):
        local_gateway(HUB, local)


def test_unknown_gateway_and_link_are_named() -> None:
    with pytest.raises(TargetError, match=r"gw-nope.*gateways: gw-hub-a"):
        from_design(HUB, "gw-nope")
    with pytest.raises(TargetError, match="--link x--y"):
        from_design(HUB, "gw-hub-a", "x--y")


def test_works_on_the_real_design_types() -> None:
    from vpnctl import design

    end = design.TunnelEnd.__dataclass_fields__
    assert {"gateway", "inside_ip"} <= set(end)
    assert {"link", "a", "b"} <= set(design.Tunnel.__dataclass_fields__)
    assert {"name", "vpc"} <= set(design.Gateway.__dataclass_fields__)


def fake_resolver(names: dict[str, str]) -> Callable[[str], IPv4Address]:
    def resolve(host: str) -> IPv4Address:
        if host not in names:
            raise TargetError(f"--target {host}: cannot resolve it")
        return ip(names[host])

    return resolve


def test_adhoc_resolves_and_deduplicates() -> None:
    found = adhoc(
        ["10.0.0.1", "db.internal", "10.0.0.1"], fake_resolver({"db.internal": "10.0.0.2"})
    )
    assert found == (Target(ip("10.0.0.1")), Target(ip("10.0.0.2"), host="db.internal"))


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("::1", "only IPv4"),
        ("999.1.1.1", "not an IPv4"),
        ("bad host!", "not an IPv4"),
        ("", "not an IPv4"),
        ("unknown.example", "cannot resolve"),
    ],
)
def test_adhoc_refuses(host: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        adhoc([host], fake_resolver({}))


def test_local_addresses_reads_ip_json() -> None:
    text = """[{"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1"},
               {"family": "inet6", "local": "::1"}]},
              {"ifname": "tun0", "addr_info": [{"family": "inet", "local": "169.254.64.1"}]}]"""
    assert local_addresses(lambda: text) == {ip("127.0.0.1"), ip("169.254.64.1")}
