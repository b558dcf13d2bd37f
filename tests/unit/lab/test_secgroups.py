"""The lab's security groups as nftables, from the design: pure (the system tests load them)."""

from __future__ import annotations

from tests.builders import designed, doc
from vpnctl.aws import rules
from vpnctl.aws.changes import Permit
from vpnctl.lab import layout, secgroups
from vpnctl.lab.secgroups import WORLD, Group

ALLOW = [
    {"from": "east", "to": "west", "proto": "tcp", "ports": [443]},
    {"from": "west", "to": "east", "proto": "udp", "ports": [8301]},
]


def permit(protocol: str, lo: int, hi: int, source: str = WORLD) -> Permit:
    return Permit(protocol, lo, hi, source, "test")


def test_a_rule_becomes_the_match_of_the_packets_it_lets_in() -> None:
    assert secgroups.match(permit("tcp", 443, 443, "10.0.0.0/24")) == (
        "ip saddr 10.0.0.0/24 meta l4proto tcp tcp dport 443"
    )
    assert secgroups.match(permit("udp", 0, 65535)) == "meta l4proto udp"
    assert secgroups.match(permit("tcp", 8300, 8302)) == "meta l4proto tcp tcp dport 8300-8302"
    assert secgroups.match(permit("icmp", 3, -1)) == "meta l4proto icmp icmp type 3"
    assert secgroups.match(permit("icmp", -1, -1, "10.0.0.0/24")) == (
        "ip saddr 10.0.0.0/24 meta l4proto icmp"
    )
    assert secgroups.match(permit("-1", -1, -1)) == ""


def test_only_world_rules_with_open_responses_make_flows_untracked() -> None:
    """AWS: a TCP/UDP flow is untracked when 0.0.0.0/0 rules permit it and all its responses;
    narrower rules are tracked, and ICMP always is."""
    web = Group("sg", (permit("tcp", 80, 80), permit("tcp", 22, 22, "10.0.0.0/24")))
    assert secgroups.untracked(web, inbound=True) == ["meta l4proto tcp tcp dport 80"]
    assert secgroups.untracked(web, inbound=False) == ["meta l4proto tcp tcp sport 80"]
    assert secgroups.untracked(Group("sg", (permit("icmp", -1, -1),)), inbound=True) == []
    narrow = Group("sg", (permit("-1", -1, -1, "10.0.0.0/16"),))
    assert secgroups.untracked(narrow, inbound=True) == []
    # all TCP from anywhere, egress open: every TCP flow, started either way, is untracked
    wide = Group("sg", (permit("tcp", 0, 65535),))
    assert secgroups.untracked(wide, inbound=True) == ["meta l4proto tcp"]
    # without AWS's default egress rule, responses are not all permitted: tracked again
    assert secgroups.untracked(Group("sg", web.ingress, egress=()), inbound=True) == []


def lab_layout() -> tuple[layout.Layout, secgroups.Scripts]:
    design = designed(doc(allow=ALLOW))
    planned = layout.plan(design, "vl-t")
    return planned, secgroups.scripts(design, planned, {})


def test_every_router_internet_and_routing_host_gets_a_ruleset() -> None:
    planned, found = lab_layout()
    namespaces = [ns for ns, _ in found.rulesets]
    expected = [*planned.routers.values(), planned.internet]
    expected += [h.ns for h in planned.hosts if h.routed]
    assert sorted(namespaces) == sorted(expected)
    assert not any(h.ns in namespaces for h in planned.hosts if not h.routed)


def test_each_gateway_port_has_its_own_zone_set_after_the_untracked_flows() -> None:
    planned, found = lab_layout()
    router = dict(found.rulesets)[planned.routers["west"]]
    ports = [g.port for g in planned.gateways.values() if g.vpc == "west"]
    zones = [line for line in router.splitlines() if "ct zone set" in line]
    pairs = len(ports) * (len(ports) - 1) // 2  # and one zone per pair of gateway ports
    assert len({line.split("ct zone set")[1] for line in zones}) == len(ports) + pairs
    for port in ports:
        assert f'fib daddr oifname "{port}" ct zone set' in router  # towards it: by route
        assert f'iifname "{port}" ct zone set' in router  # from it
        assert f"chain ingress_{port} {{" in router
        assert f"counter dropped_{port} {{}}" in router


def test_between_two_gateways_both_directions_share_one_zone() -> None:
    """A sibling probe's echo reply must find the request its receiver's interface saw: the
    request (from g0 towards g1) and the reply (from g1 towards g0) are tracked in one zone,
    set before the single-port zones (the first matching rule wins)."""
    group = Group("sg", (permit("icmp", -1, -1),))
    script = secgroups.fabric_script({"g0": group, "g1": group})
    lines = script.split("chain track {")[1].split("}")[0].splitlines()
    there = next(i for i, x in enumerate(lines) if 'iifname "g0" fib daddr oifname "g1"' in x)
    back = next(i for i, x in enumerate(lines) if 'iifname "g1" fib daddr oifname "g0"' in x)
    assert lines[there].split("ct zone set")[1] == lines[back].split("ct zone set")[1]
    single = min(i for i, x in enumerate(lines) if x.strip().startswith("fib daddr"))
    assert max(there, back) < single


def test_untracked_flows_are_kept_out_before_any_zone_is_set() -> None:
    """The kernel ignores notrack on a packet that already has a zone's template: order
    matters."""
    script = secgroups.fabric_script({"g0": Group("sg", (permit("tcp", 80, 80),))})
    for chain in ("track {", "track_local {"):
        lines = script.split(f"chain {chain}")[1].split("}")[0].splitlines()
        notrack = [i for i, line in enumerate(lines) if "notrack" in line]
        zones = [i for i, line in enumerate(lines) if "ct zone set" in line]
        assert notrack
        assert max(notrack) < min(zones)
    assert '    fib daddr oifname "g0" meta l4proto tcp tcp dport 80 notrack accept' in script
    assert '    iifname "g0" meta l4proto tcp tcp sport 80 notrack accept' in script


def test_the_gateway_group_is_the_one_apply_writes_with_peers_where_the_gateway_sees_them() -> None:
    design = designed(doc(allow=ALLOW))
    planned = layout.plan(design, "vl-t")
    a, b = planned.gateways["gw-east-a"], planned.gateways["gw-west-a"]
    views = {(str(a.public), str(b.public)): "198.19.0.1"}  # a delay relay between them
    groups = secgroups.gateway_groups(design, planned, views)
    tunnel = [p for p in groups["gw-east-a"].ingress if p.why.startswith("tunnel")]
    assert [p.source for p in tunnel] == ["198.19.0.1/32"]
    data = [p for p in groups["gw-east-a"].ingress if not p.why.startswith("tunnel")]
    expected = [
        *rules.data_path_permits(design, "gw-east-a"),
        *rules.sibling_permits(design, "gw-east-a"),
    ]
    assert data == expected
    back = [p for p in groups["gw-west-a"].ingress if p.why.startswith("tunnel")]
    assert [p.source for p in back] == [f"{a.public}/32"]


def test_a_host_carries_its_vpcs_routing_group_statefully() -> None:
    planned, found = lab_layout()
    west = planned.host("west", "us-west-2a")
    script = dict(found.rulesets)[west.ns]
    assert "ct state established,related accept" in script
    assert "meta l4proto tcp tcp dport 443 accept" in script
    assert "udp" not in script.split("chain ingress_eth0")[1]  # west receives only tcp 443
