"""``vpnctl keys rotate`` against a moto server: new keys in both regions (each its own end's
piece), routes drained and restored, each gateway told to fetch and restart, other links
untouched."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.conftest import Aws
from vpnctl import pipeline
from vpnctl.cli.apply import apply
from vpnctl.cli.keys import keys

LINK = "ap-southeast-1--us-west-2"


@pytest.fixture
def applied(aws: Aws) -> Any:
    path = aws.topology("china-hub")
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)
    return path


def parameters(aws: Aws, region: str, prefix: str) -> dict[str, str]:
    ssm = aws.client("ssm", region)
    found: dict[str, str] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path=prefix, Recursive=True, WithDecryption=True
    ):
        found.update({p["Name"]: p["Value"] for p in page["Parameters"]})
    return found


def routes(aws: Aws, region: str) -> dict[str, dict[str, str]]:
    ec2 = aws.client("ec2", region)
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "tag:vpnctl:topology", "Values": ["sproutling"]}]
    )["RouteTables"]
    named: dict[str, dict[str, str]] = {}
    for t in tables:
        name = {x["Key"]: x["Value"] for x in t.get("Tags", [])}.get("vpnctl:name", "")
        named[name] = {
            r["DestinationCidrBlock"]: r.get("NetworkInterfaceId", "")
            for r in t["Routes"]
            if r.get("DestinationCidrBlock")
        }
    return named


def test_rotate_gives_each_tunnel_new_keys_and_leaves_routes_as_they_were(
    aws: Aws, applied: Any
) -> None:
    design = pipeline.plan(applied).design
    rotated = [t.name for t in design.tunnels if t.link == LINK]
    kept = [t.name for t in design.tunnels if t.link != LINK]
    before = {r: parameters(aws, r, "/vpnctl/sproutling") for r in ("us-west-2", "ap-southeast-1")}
    routes_before = {r: routes(aws, r) for r in ("us-west-2", "ap-southeast-1")}

    result = aws.run(keys, "rotate", str(applied), "--link", LINK, "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)

    after = {r: parameters(aws, r, "/vpnctl/sproutling") for r in ("us-west-2", "ap-southeast-1")}
    for region in after:
        for name, value in after[region].items():
            tunnel = name.split("/")[3]
            if tunnel in rotated:
                assert value != before[region][name], f"{name} was not rotated in {region}"
            else:
                assert value == before[region][name], f"{name} changed in {region}"
    # both ends read the same new key, each from its own region, where only its piece is
    for tunnel in rotated:
        ends = {r: f"/vpnctl/sproutling/{tunnel}/gw-{e}/psk"
                for r in after for e in tunnel.split("--") if e.startswith(f"{r}-")}  # fmt: skip
        assert (
            after["us-west-2"][ends["us-west-2"]] == after["ap-southeast-1"][ends["ap-southeast-1"]]
        )
        for region, own in ends.items():
            assert [n for n in after[region] if f"/{tunnel}/" in n] == [own]
    assert kept  # the other link exists and kept its keys
    assert {r: routes(aws, r) for r in routes_before} == routes_before
    for tunnel in rotated:
        assert f"{tunnel}: draining" in result.output
        assert (
            f"{tunnel}: rotated; routes back where they were before the rotation" in result.output
        )
    assert "route rt-us-west-2-a:" in result.output  # drained off gw-us-west-2-a, then back

    commands = aws.client("ssm", "us-west-2").list_commands()["Commands"]
    restarted = {c["Comment"] for c in commands}
    assert restarted == {f"vpnctl keys rotate: {t}" for t in rotated}


def test_an_unknown_link_is_bad_input(aws: Aws, applied: Any) -> None:
    result = aws.run(keys, "rotate", str(applied), "--link", "nope", "--yes")
    assert result.exit_code == 2
    assert "--link: no link 'nope' (links: ap-southeast-1--cn-north-1" in result.stderr
