"""Day two on a moto server: the demo grows a third VPC linked to us-west-2; apply moves the
us-west-2 gateways' pointers to configurations with the new tunnels, and status shows them not
converged until their instances report the new digest (no agent runs under moto)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.functional.conftest import Aws
from vpnctl.aws import store
from vpnctl.cli.apply import apply
from vpnctl.cli.status import status
from vpnctl.health_contract import READY_TAG

THIRD = """
  frankfurt:
    account: main
    region: eu-central-1
    azs: [eu-central-1a]
"""
WEST = ("gw-us-west-2-a", "gw-us-west-2-b")


def grown(aws: Aws) -> Path:
    """demo.yaml with a third VPC, linked to us-west-2, and a flow to it."""
    path = aws.topology("demo")
    text = path.read_text()
    text = text.replace("\nlinks:\n", THIRD + "\nlinks:\n")
    text = text.replace(
        "  - between: [us-west-2, eu-west-1]\n",
        "  - between: [us-west-2, eu-west-1]\n  - between: [us-west-2, frankfurt]\n",
    )
    text += "  - {from: frankfurt, to: us-west-2, proto: icmp}\n"
    path.write_text(text)
    return path


def gateways(aws: Aws, path: Path) -> dict[str, dict[str, Any]]:
    result = aws.run(status, str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    return {g["name"]: g for g in document["gateways"]}


def pointer(aws: Aws, region: str, gateway: str) -> dict[str, str]:
    s3 = aws.client("s3", region)
    bucket = s3.list_buckets()["Buckets"]
    name = next(b["Name"] for b in bucket if b["Name"].endswith(f"-{region}"))
    body = s3.get_object(Bucket=name, Key=store.pointer_key("demo", gateway))["Body"].read()
    found: dict[str, str] = json.loads(body)
    config = json.loads(s3.get_object(Bucket=name, Key=found["key"])["Body"].read())
    found["tunnels"] = " ".join(t["name"] for t in config["tunnels"])
    return found


def tag_ready(
    aws: Aws, region: str, states: dict[str, dict[str, Any]], names: tuple[str, ...]
) -> None:
    ec2 = aws.client("ec2", region)
    for name in names:
        state = states[name]
        ec2.create_tags(
            Resources=[state["instance"]],
            Tags=[{"Key": READY_TAG, "Value": state["config"]["designed"]}],
        )


def test_a_grown_topology_leaves_the_us_west_2_gateways_pending_until_they_report(
    aws: Aws,
) -> None:
    path = aws.topology("demo")
    first = aws.run(apply, str(path), "--yes", "--no-wait")
    assert first.exit_code == 0, first.output
    assert "--no-wait" in first.stderr
    before = gateways(aws, path)
    assert set(before) == {*WEST, "gw-eu-west-1-a", "gw-eu-west-1-b"}
    for g in before.values():  # nothing reports under moto
        assert g["ready"] is False
        assert g["config"]["running"] is None
        assert g["config"]["converged"] is False
        assert len(g["config"]["designed"]) == 64
        assert g["tunnels"]
        assert all(t["up"] is None for t in g["tunnels"])
    old = {n: pointer(aws, "us-west-2", n) for n in WEST}
    tag_ready(aws, "us-west-2", before, WEST)  # as if their agents had converged
    assert all(g["config"]["converged"] for n, g in gateways(aws, path).items() if n in WEST)

    grown(aws)
    plan = aws.run(apply, str(path), "--dry-run")
    assert plan.exit_code == 0, plan.output
    said = " ".join(plan.stdout.split())  # long lines wrap
    for name in WEST:
        assert f"gateway {name} runs configuration" in said
        assert "in place: its running instance follows the pointer" in said
        assert f"gateway {name} changes in place" in said  # the template: config pin only
    assert "REPLACED" not in said

    second = aws.run(apply, str(path), "--yes")  # the bounded wait: no agent will answer
    assert second.exit_code == 0, second.output
    assert "Not converged after 20 s" in second.stderr
    for name in WEST:
        assert f"{name} (main, us-west-2): instance i-" in second.stderr
        now = pointer(aws, "us-west-2", name)
        assert now["key"] != old[name]["key"]
        assert "frankfurt" in now["tunnels"]
        assert "frankfurt" not in old[name]["tunnels"]

    after = gateways(aws, path)
    for name in WEST:
        config = after[name]["config"]
        assert config["running"] == before[name]["config"]["designed"]  # the old one
        assert config["designed"] != config["running"]
        assert config["converged"] is False
        assert after[name]["ready"] is True
        assert any("frankfurt" in t["name"] for t in after[name]["tunnels"])

    tag_ready(aws, "us-west-2", after, WEST)
    final = gateways(aws, path)
    assert all(final[n]["config"]["converged"] for n in WEST)
    text = aws.run(status, str(path))
    assert text.exit_code == 0, text.output
    assert "gw-us-west-2-a" in text.stdout
    assert "config designed" in text.stdout
    assert "NOT CONVERGED" in text.stdout  # the eu-west-1 and frankfurt gateways still are
