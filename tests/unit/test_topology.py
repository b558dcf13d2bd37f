"""Loading and validating topologies: the model, the shorthands, and every refusal."""

from __future__ import annotations

import re
import time
from ipaddress import IPv4Network
from typing import Any

import pytest

from tests.builders import doc, parse, text, vpc
from vpnctl.errors import InputError
from vpnctl.topology import (
    Addressing,
    Dns,
    Failover,
    Gateways,
    Probe,
    Thresholds,
    TunnelOptions,
    formats,
    ordered,
    recovery_after,
    thresholds_disorder,
)


def problems(d: dict[str, Any] | str) -> list[str]:
    with pytest.raises(InputError) as info:
        parse(d)
    return [str(x) for x in info.value.diagnostics]


def only_problem(d: dict[str, Any] | str) -> str:
    found = problems(d)
    assert len(found) == 1, found
    return found[0]


def test_base_topology_loads_with_defaults() -> None:
    topo = parse(doc())
    assert topo.name == "t"
    assert topo.addressing.pool == IPv4Network("10.64.0.0/12")
    assert topo.addressing.vpc_prefix == 16
    assert [link.name for link in topo.links] == ["east--west"]
    assert topo.links[0].tunnel.mode == "psk"
    assert topo.probe.count == 20
    assert topo.failover.consecutive_failures == 3
    assert topo.partition("east") == "aws"


def test_link_names_sort_their_ends() -> None:
    topo = parse(doc(links=[{"between": ["west", "east"], "port": 1300}]))
    assert (topo.links[0].a, topo.links[0].b, topo.links[0].port) == ("east", "west", 1300)


def test_mesh_links_every_pair() -> None:
    d = doc(links="mesh")
    d["vpcs"]["north"] = vpc("eu-west-1")
    topo = parse(d)
    assert sorted(link.name for link in topo.links) == [
        "east--north", "east--west", "north--west",
    ]  # fmt: skip
    assert topo.hub is None


def test_hub_links_every_spoke_and_implies_transit() -> None:
    d = doc(links={"hub": "west"})
    d["vpcs"]["north"] = vpc("eu-west-1")
    d["allow"] = [{"from": "east", "to": "north", "proto": "icmp"}]
    topo = parse(d)
    assert sorted(link.name for link in topo.links) == ["east--west", "north--west"]
    assert topo.hub == "west"


def test_per_link_tunnel_mode_overrides_the_default() -> None:
    d = doc(tunnel={"mode": "fingerprint"})
    d["vpcs"]["north"] = vpc("eu-west-1")
    d["links"] = [{"between": ["east", "west"]},
                  {"between": ["east", "north"], "tunnel": {"mode": "psk"}}]  # fmt: skip
    modes = {link.name: link.tunnel.mode for link in parse(d).links}
    assert modes == {"east--west": "fingerprint", "east--north": "psk"}


def test_ports_accept_numbers_and_ranges() -> None:
    d = doc(allow=[{"from": "east", "to": "west", "proto": "tcp", "ports": ["8300-8302", 8500]}])
    flow = parse(d).allow[0]
    assert flow.ports == ((8300, 8302), (8500, 8500))
    assert flow.describe_ports() == "8300-8302,8500"


# ----------------------------------------------------------------------- refusals


def test_malformed_yaml_names_the_line() -> None:
    message = only_problem("version: 1\nname: [oops\n")
    assert message.startswith("t.yaml:")
    assert "malformed YAML" in message


def test_empty_file_is_refused() -> None:
    assert only_problem("") == "t.yaml:1: (document): the file is empty"


def test_unknown_key_suggests_the_right_one() -> None:
    d = doc()
    d["vpcs"]["east"]["regoin"] = "us-east-1"
    found = problems(d)
    assert any("vpcs.east.regoin: unknown key (did you mean 'region'?)" in p for p in found)


def test_duplicate_keys_are_errors_not_overwrites() -> None:
    src = text(doc()).replace("name: t\n", "name: t\nname: u\n")
    message = only_problem(src)
    assert message == (
        "t.yaml:3: name: duplicate key (first given on line 2); YAML keeps only one of them,"
        " so remove or rename one"
    )


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    d = doc(links=[{"between": ["east", "nowhere"]}, {"between": ["west", "west"]}])
    d["addressing"]["pool"] = "10.64.0.1/12"
    found = problems(d)
    assert len(found) == 3
    lines = [int(p.split(":")[1]) for p in found]
    assert lines == sorted(lines)


def test_link_to_unknown_vpc() -> None:
    message = only_problem(doc(links=[{"between": ["east", "wset"]}]))
    assert "links[0].between[1]: unknown VPC 'wset' (did you mean 'west'?)" in message


def test_vpc_linked_to_itself() -> None:
    message = only_problem(doc(links=[{"between": ["east", "east"]}]))
    assert "links[0].between: a VPC cannot be linked to itself (east)" in message


def test_vpc_prefix_outside_what_aws_allows() -> None:
    d = doc()
    d["addressing"]["vpc_prefix"] = 12
    assert "addressing.vpc_prefix: /12 is not a VPC size AWS allows (/16 to /28)" in only_problem(d)


def test_pinned_cidr_outside_what_aws_allows() -> None:
    d = doc()
    d["vpcs"]["east"]["cidr"] = "10.0.0.0/8"
    assert "vpcs.east.cidr: /8 is not a VPC size AWS allows" in only_problem(d)


def test_tunnel_pool_with_no_room_for_a_slash_30() -> None:
    d = doc()
    d["addressing"]["tunnel_pool"] = "169.254.64.0/31"
    assert "addressing.tunnel_pool: 169.254.64.0/31 has no room for a /30" in only_problem(d)


def test_az_outside_its_region() -> None:
    d = doc()
    d["vpcs"]["east"]["azs"] = ["us-east-1a", "us-west-2b"]
    message = only_problem(d)
    assert "vpcs.east.azs[1]: us-west-2b is not an availability zone of us-east-1" in message


def test_region_outside_its_accounts_partition() -> None:
    d = doc()
    d["vpcs"]["east"] = vpc("cn-north-1")
    message = only_problem(d)
    assert (
        "vpcs.east.region: cn-north-1 is in partition aws-cn, but its account is in aws" in message
    )


def test_china_region_under_a_china_account_is_fine() -> None:
    d = doc()
    d["vpcs"]["east"] = vpc("cn-north-1", account="china")
    assert parse(d).partition("east") == "aws-cn"


def test_cidr_with_host_bits_is_refused_not_fixed() -> None:
    d = doc()
    d["vpcs"]["east"]["cidr"] = "10.70.1.0/16"
    message = only_problem(d)
    assert "vpcs.east.cidr: 10.70.1.0/16 has host bits set (the network is 10.70.0.0/16" in message


def test_flow_between_unjoined_vpcs() -> None:
    d = doc(links=[])
    d["allow"] = [{"from": "east", "to": "west", "proto": "tcp", "ports": [443]}]
    assert "allow[0].to: no link or transit joins east and west" in only_problem(d)


def test_transit_needs_links_to_its_via() -> None:
    d = doc(transit=[{"between": ["east", "north"], "via": "west"}])
    d["vpcs"]["north"] = vpc("eu-west-1")
    message = only_problem(d)
    assert "transit[0].via: north and west are not linked" in message


def test_adopted_vpc_needs_its_cidr_pinned() -> None:
    d = doc()
    d["vpcs"]["east"]["vpc_id"] = "vpc-0123456789abcdef0"
    assert "vpcs.east.vpc_id: an adopted VPC needs its CIDR pinned too" in only_problem(d)


def test_wrong_types_are_named() -> None:
    d = doc()
    d["vpcs"]["east"]["azs"] = "us-east-1a"
    assert "vpcs.east.azs: must be a list, not the text 'us-east-1a'" in only_problem(d)


def test_unknown_partition_is_refused_with_a_hint() -> None:
    d = doc()
    d["accounts"]["china"]["partition"] = "aws-china"
    assert "accounts.china.partition: 'aws-china' is not one of aws, aws-cn" in only_problem(d)


@pytest.mark.parametrize(
    ("key", "value"),
    [("vpnctl", "vpnctl==0.2.0"), ("pip_indexes", {"aws-cn": "https://pypi.example.cn/simple/"})],
)
def test_removed_gateway_install_keys_are_refused_saying_what_replaced_them(
    key: str, value: object
) -> None:
    problem = only_problem(doc(gateways={key: value}))
    assert f"gateways.{key}: no longer supported" in problem
    assert "remove this key" in problem


# ----------------------------------------------------------------- defaults, written once


def test_the_reader_leaves_every_default_to_the_model() -> None:
    topo = parse(doc())
    assert topo.tunnel == TunnelOptions()
    assert topo.gateways == Gateways()
    assert topo.probe == Probe()
    assert topo.failover == Failover()
    assert topo.dns.ttl == Dns("z", "a").ttl
    assert topo.addressing == Addressing(topo.addressing.pool)


@pytest.mark.parametrize(("failures", "successes"), [(1, 5), (3, 5), (4, 6), (10, 12)])
def test_recovery_is_stricter_than_failure_by_default(failures: int, successes: int) -> None:
    d = doc(failover={"consecutive_failures": failures})
    assert parse(d).failover.recovery_successes == successes
    assert Failover(consecutive_failures=failures).recovery_successes == successes
    assert recovery_after(failures) == successes


def test_recovery_successes_given_is_kept() -> None:
    d = doc(failover={"consecutive_failures": 10, "recovery_successes": 2})
    assert parse(d).failover.recovery_successes == 2


def test_warning_above_critical_is_one_shared_refusal() -> None:
    warn, crit = Thresholds(50.0, 100.0), Thresholds(1.0, 10.0)
    why = thresholds_disorder(warn, crit)
    assert why is not None
    assert "loss_pct 50 > 1" in why
    assert "rtt_ms 100 > 10" in why
    d = doc(probe={"warn": {"loss_pct": 50, "rtt_ms": 100}, "crit": {"loss_pct": 1, "rtt_ms": 10}})
    assert why in only_problem(d)
    with pytest.raises(ValueError, match="must not exceed"):
        ordered(warn, crit)
    assert ordered(crit, warn) is warn


# ----------------------------------------------------------------- accepted nonsense, refused


@pytest.mark.parametrize("version", ["true", "1.0", '"1"', "2"])
def test_version_must_be_the_number_one(version: str) -> None:
    src = text(doc()).replace("version: 1", f"version: {version}")
    assert "version: " in only_problem(src)
    assert "is not a supported version" in only_problem(src)


# text the YAML parser must refuse, each at its line: (the YAML, the line, what the message says)
HOSTILE_YAML = {
    "tag on a collection": ("version: 1\nvpcs: !!str {a: 1}\n", 2, "tag tag:yaml.org,2002:str"),
    "unknown tag": ("version: 1\nname: !vault x\n", 2, "tag !vault"),
    "bad !!int": ("version: 1\nname: !!int abc\n", 2, "tag tag:yaml.org,2002:int"),
    "bad !!bool": ("version: 1\nname: !!bool maybe\n", 2, "tag tag:yaml.org,2002:bool"),
    "bad !!timestamp": ("version: 1\nname: !!timestamp x\n", 2, "tag tag:yaml.org,2002:timestamp"),
    "python tag": ("version: 1\nname: !!python/object:os.system x\n", 2, "tag"),
    "merge key": ("a: &a {b: 1}\nc:\n  <<: *a\n", 3, "merge keys (<<)"),
    "invalid date": ("version: 1\nname: 2024-02-30\n", 2, "reads as a date"),
    "valid date": ("version: 1\nname: 2024-01-01\n", 2, "reads as a date"),
    "huge integer": ("version: 1\nname: t\nx: " + "1" * 5000 + "\n", 3, "too large"),
    "recursive alias": ("version: 1\nx: &a [1, *a]\n", 2, "refers to itself"),
    "undefined alias": ("version: 1\nx: *nope\n", 2, "has no anchor"),
    "second document": ("version: 1\n---\nversion: 1\n", 2, "a second document"),
    "deep nesting": ("x: " + "[" * 40 + "]" * 40 + "\n", 1, "nested more than"),
    "deeper nesting than the C parser likes": ("x: " + "[" * 100_000 + "\n", 1, "nest"),
    "line separator": ("version: 1\nname: a\u2028b\n", 2, "U+2028"),
    "next line": ("version: 1\n\nname: a\x85b\n", 3, "U+0085"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_YAML))
def test_yaml_that_attacks_the_parser_is_refused_at_its_line(case: str) -> None:
    body, line, fragment = HOSTILE_YAML[case]
    found = problems(body)
    assert any(x.startswith(f"t.yaml:{line}: ") and fragment in x for x in found), found


def test_an_alias_bomb_is_refused_at_once() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    start = time.perf_counter()
    message = only_problem("\n".join(levels) + "\n")
    assert time.perf_counter() - start < 1.0
    assert "counting each alias at its full size" in message


def test_a_few_aliases_are_still_fine() -> None:
    d = text(doc())
    d = d.replace("azs:\n    - us-east-1a\n    - us-east-1b", "azs: &two [us-east-1a, us-east-1b]")
    assert parse(d).vpcs["east"].azs == ("us-east-1a", "us-east-1b")


@pytest.mark.parametrize(
    ("value", "read_as"),
    [("yes", "the text 'yes'"), ("on", "the text 'on'"), ("010", "the text '010'"),
     ("0x1f", "the text '0x1f'"), ("1_000", "the text '1_000'"), ("1:30", "the text '1:30'")],
)  # fmt: skip
def test_yaml_1_1_forms_are_text_and_refused_where_a_number_is_wanted(
    value: str, read_as: str
) -> None:
    src = text(doc(dns={"zone": "vpn.example.com", "account": "main", "ttl": 30}))
    src = src.replace("ttl: 30", f"ttl: {value}")
    assert f"dns.ttl: must be a whole number, not {read_as}" in only_problem(src)


# ----------------------------------------------------------------- control characters


def with_gateways(**gateways: object) -> dict[str, object]:
    return doc(gateways=gateways)


CONTROL = {
    "name": (doc(name="sproutling\n"), "name"),
    "zone": (doc(dns={"zone": "vpn.example.com\n", "account": "main"}), "dns.zone"),
    "region": (
        doc(vpcs={"east": {**vpc("us-east-1"), "region": "us-east-1\n"}}, links=[]),
        "vpcs.east.region",
    ),
    "az": (
        doc(vpcs={"east": {**vpc("us-east-1"), "azs": ["us-east-1a\n"]}}, links=[]),
        "vpcs.east.azs[0]",
    ),
    "vpc_id": (
        doc(vpcs={"east": vpc("us-east-1", cidr="10.70.0.0/16", vpc_id="vpc-0123abcd\n")}),
        "vpcs.east.vpc_id",
    ),
    "vpc image": (doc(vpcs={"east": vpc("us-east-1", image="ami-0123abcd\n")}), "vpcs.east.image"),
    "instance_type": (with_gateways(instance_type="t3.small\n"), "gateways.instance_type"),
    "gateways.image": (with_gateways(image='ubuntu\n22.04"; reboot'), "gateways.image"),
    "mirror newline": (
        with_gateways(mirrors={"aws-cn": "http://m.cn/u\n"}),
        "gateways.mirrors.aws-cn",
    ),
    "mirror NUL": (
        with_gateways(mirrors={"aws-cn": "http://m.cn/\x00u"}),
        "gateways.mirrors.aws-cn",
    ),
    "mirror quote": (
        with_gateways(mirrors={"aws-cn": 'http://m.cn/"$(reboot)'}),
        "gateways.mirrors.aws-cn",
    ),
    "profile": (
        doc(accounts={"main": {"partition": "aws", "profile": "default\n"}}),
        "accounts.main.profile",
    ),
    "profile shell": (
        doc(accounts={"main": {"partition": "aws", "profile": "a; reboot"}}),
        "accounts.main.profile",
    ),
    "account name": (doc(accounts={"main\n": {"partition": "aws"}}), "accounts.main\\n"),
    "vpc name": (doc(vpcs={"east\n": vpc("us-east-1")}, links=[]), "vpcs.east\\n"),
}


@pytest.mark.parametrize("case", sorted(CONTROL))
def test_strings_are_matched_whole_against_what_their_consumer_accepts(case: str) -> None:
    d, key = CONTROL[case]
    found = problems(d)
    assert any(x.split(": ", 2)[1] == key for x in found), found
    assert all("\n" not in x for x in found), found  # one problem, one line


def test_the_example_mirror_still_passes() -> None:
    gateways = parse(
        with_gateways(
            image="ami-0123456789abcdef0",
            mirrors={"aws-cn": "https://user:tok@mirrors.example.cn:8443/ubuntu/"},
        )
    ).gateways
    assert gateways.image == "ami-0123456789abcdef0"
    assert gateways.mirrors["aws-cn"] == "https://user:tok@mirrors.example.cn:8443/ubuntu"


def test_every_pattern_is_used_whole() -> None:
    # re.match("...$") accepts a final newline; fullmatch is the only way these are used
    for name in dir(formats):
        pattern = getattr(formats, name)
        if isinstance(pattern, re.Pattern):
            assert "$" not in pattern.pattern, name
            assert not pattern.pattern.startswith("^"), name


def test_a_local_zone_is_an_az_and_a_doubled_hyphen_is_refused() -> None:
    d = doc()
    d["vpcs"]["west"]["azs"] = ["us-west-2a", "us-west-2-lax-1a"]
    assert parse(d).vpcs["west"].azs == ("us-west-2a", "us-west-2-lax-1a")
    d["vpcs"]["west"]["azs"] = ["us-west-2-lax--1a"]
    assert "vpcs.west.azs[0]: us-west-2-lax--1a is not an availability zone" in only_problem(d)


@pytest.mark.parametrize("where", ["name", "account", "vpc"])
def test_names_with_a_doubled_hyphen_are_refused_since_it_joins_tunnel_ends(where: str) -> None:
    d = doc()
    if where == "name":
        d["name"] = "my--net"
    elif where == "account":
        d["accounts"]["ma--in"] = d["accounts"].pop("china")
    else:
        d["vpcs"]["ea--st"] = d["vpcs"].pop("east")
        d["links"] = [{"between": ["ea--st", "west"]}]
    assert "no '--'" in "\n".join(problems(d))
