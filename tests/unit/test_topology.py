"""Loading and validating topologies: the model, the shorthands, and every refusal."""

from __future__ import annotations

from ipaddress import IPv4Network

import pytest

from tests.builders import doc, parse, text, vpc
from vpnctl.errors import InputError


def problems(d: dict | str) -> list[str]:
    with pytest.raises(InputError) as info:
        parse(d)
    return [str(x) for x in info.value.diagnostics]


def only_problem(d: dict | str) -> str:
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
