"""A ``keys rotate`` killed between its two regional writes, on a moto server: apply and status
see it, and the next rotation finishes it without undoing a failover that happened since.

The kill is a fake in the rotation's dependencies: the call log's hook (the one every AWS call
passes through) raises on the first key write in the tunnel's second region and on every call
after it, as a dead process makes none, so the lock and the drained tables stay as they were.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.functional.conftest import Aws, fast
from vpnctl import pipeline
from vpnctl.aws import artifacts, journal, keyversions
from vpnctl.aws.diff import diff
from vpnctl.aws.factory import Factory
from vpnctl.aws.observe import observe
from vpnctl.aws.retry import NO_WAIT
from vpnctl.aws.scope import Scope
from vpnctl.aws.session import Call, Sessions
from vpnctl.aws.status import report
from vpnctl.cli.apply import apply
from vpnctl.cli.keys import keys
from vpnctl.cli.unlock import unlock

LINK = "ap-southeast-1--us-west-2"
FIRST = "ap-southeast-1-a--us-west-2-a"  # its keys go to ap-southeast-1 first, then us-west-2
REGIONS = ("us-west-2", "ap-southeast-1", "cn-north-1")
TAG = [{"Name": "tag:vpnctl:topology", "Values": ["sproutling"]}]


class Killed(Exception):
    """A SIGKILL, as near as a test gets: every call after it raises too, so nothing more
    reaches AWS; the root command reports it as an internal error."""


def killed_between_regions() -> Factory:
    """A factory whose calls stop dead at the first key write outside the first region."""
    factory = fast()
    state: dict[str, Any] = {"first": None, "dead": False}

    def hook(call: Call) -> None:
        if state["dead"]:
            raise Killed("the process is gone")
        if call.service == "ssm" and call.operation == "PutParameter":
            state["first"] = state["first"] or call.region
            if call.region != state["first"]:
                state["dead"] = True
                raise Killed(f"killed before the first key write in {call.region}")

    factory.log.hooks.append(hook)
    return factory


def versions(aws: Aws, region: str, tunnel: str) -> set[str]:
    ssm = aws.client("ssm", region)
    found = ssm.describe_parameters(
        ParameterFilters=[
            {"Key": "Path", "Option": "Recursive", "Values": [f"/vpnctl/sproutling/{tunnel}"]}
        ]
    )["Parameters"]
    return {keyversions.parse(p.get("Description")) for p in found}


def psk(aws: Aws, region: str, tunnel: str) -> str:
    # the end's own copy of the tunnel's one key: each region holds its own gateway's
    gateway = "gw-" + next(end for end in tunnel.split("--") if end.startswith(f"{region}-"))
    name = f"/vpnctl/sproutling/{tunnel}/{gateway}/psk"
    found = aws.client("ssm", region).get_parameter(Name=name, WithDecryption=True)
    return str(found["Parameter"]["Value"])


def gateway_enis(aws: Aws) -> dict[str, str]:
    enis: dict[str, str] = {}
    running = [*TAG, {"Name": "instance-state-name", "Values": ["running"]}]
    for region in REGIONS:
        reservations = aws.client("ec2", region).describe_instances(Filters=running)
        for i in (i for r in reservations["Reservations"] for i in r["Instances"]):
            name = {t["Key"]: t["Value"] for t in i.get("Tags", [])}["vpnctl:name"]
            enis[name] = i["NetworkInterfaces"][0]["NetworkInterfaceId"]
    return enis


def tables(aws: Aws) -> dict[str, dict[str, str]]:
    """Table name -> destination -> the gateway its route goes to."""
    by_eni = {eni: name for name, eni in gateway_enis(aws).items()}
    named: dict[str, dict[str, str]] = {}
    for region in REGIONS:
        for t in aws.client("ec2", region).describe_route_tables(Filters=TAG)["RouteTables"]:
            name = {x["Key"]: x["Value"] for x in t.get("Tags", [])}["vpnctl:name"]
            named[name] = {
                r["DestinationCidrBlock"]: by_eni[r["NetworkInterfaceId"]]
                for r in t["Routes"]
                if r.get("NetworkInterfaceId") in by_eni
            }
    return named


def fail_over(aws: Aws, table: str, region: str, to: str) -> None:
    """What the failover hook does: every route of ``table`` to gateway ``to``."""
    ec2 = aws.client("ec2", region)
    eni = gateway_enis(aws)[to]
    found = next(
        t
        for t in ec2.describe_route_tables(Filters=TAG)["RouteTables"]
        if {x["Key"]: x["Value"] for x in t["Tags"]}["vpnctl:name"] == table
    )
    for route in found["Routes"]:
        if route.get("NetworkInterfaceId"):
            ec2.replace_route(
                RouteTableId=found["RouteTableId"],
                DestinationCidrBlock=route["DestinationCidrBlock"],
                NetworkInterfaceId=eni,
            )


def journal_item(aws: Aws) -> dict[str, Any] | None:
    item = aws.client("dynamodb", "us-east-1").get_item(
        TableName="vpnctl-locks", Key={"topology": {"S": journal.key("sproutling")}}
    )
    found: dict[str, Any] | None = item.get("Item")
    return found


def status_text(aws: Aws, path: Path) -> str:
    planned = pipeline.plan(path)
    intent = artifacts.intent(planned)
    live = observe(Sessions(planned.topology.accounts, aws.url), Scope.of(intent), NO_WAIT)
    return report(intent, live, {}, diff(intent, live)).text()


@pytest.fixture
def applied(aws: Aws) -> Path:
    path = aws.topology("china-hub")
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)
    return path


def test_a_rotation_killed_between_regions_is_seen_and_finished(aws: Aws, applied: Path) -> None:
    path = applied
    before = tables(aws)
    assert "version" in status_text(aws, path)
    assert "KEYS DIFFER" not in status_text(aws, path)

    result = aws.run(
        keys, "rotate", str(path), "--link", LINK, "--yes", factory=killed_between_regions()
    )
    assert result.exit_code == 1, result.output
    assert "Killed: " in result.output
    assert len(versions(aws, "ap-southeast-1", FIRST)) == 1
    assert versions(aws, "ap-southeast-1", FIRST) != versions(aws, "us-west-2", FIRST)
    assert tables(aws)["rt-us-west-2-a"] != before["rt-us-west-2-a"]  # drained, left so
    recorded = json.loads((journal_item(aws) or {})["tunnels"]["S"])
    assert recorded[FIRST]["rt-us-west-2-a"] == "gw-us-west-2-a"
    assert recorded[FIRST]["rt-ap-southeast-1-a"] == "gw-ap-southeast-1-a"

    assert aws.run(unlock, str(path)).exit_code == 0
    # since the kill, the hook failed a table over; nothing may undo that
    fail_over(aws, "rt-cn-north-1-a", "cn-north-1", "gw-cn-north-1-b")

    shown = aws.run(apply, str(path), "--dry-run")
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())  # long change lines wrap between list items
    assert "AWS matches the design" not in said
    assert f"tunnel {FIRST} holds different keys at its ends" in said
    assert f"run `vpnctl keys rotate --link {LINK}`" in said
    refused = aws.run(apply, str(path), "--yes")
    assert refused.exit_code == 1
    assert "a rotation was interrupted" in refused.stderr + refused.output
    assert tables(aws)["rt-us-west-2-a"] != before["rt-us-west-2-a"]  # apply moved nothing
    text = status_text(aws, path)
    assert f"tunnel {FIRST}: " in text
    assert "<-- KEYS DIFFER" in text
    assert "<-- ROTATION UNFINISHED" in text

    result = aws.run(keys, "rotate", str(path), "--link", LINK, "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)
    assert f"resuming the rotation of {LINK}" in result.output
    for tunnel in (FIRST, "ap-southeast-1-b--us-west-2-b"):
        ends = versions(aws, "ap-southeast-1", tunnel) | versions(aws, "us-west-2", tunnel)
        assert len(ends) == 1, (tunnel, ends)
        assert keyversions.UNRECORDED not in ends, (tunnel, ends)
        assert psk(aws, "ap-southeast-1", tunnel) == psk(aws, "us-west-2", tunnel)
    after = tables(aws)
    assert after["rt-cn-north-1-a"] == dict.fromkeys(before["rt-cn-north-1-a"], "gw-cn-north-1-b")
    assert {n: t for n, t in after.items() if n != "rt-cn-north-1-a"} == {
        n: t for n, t in before.items() if n != "rt-cn-north-1-a"
    }
    assert journal_item(aws) is None
    final = aws.run(apply, str(path), "--dry-run")
    assert "AWS matches the design" in final.output, final.output
    assert "KEYS DIFFER" not in status_text(aws, path)


def test_a_rotation_of_another_link_waits_for_the_unfinished_one(aws: Aws, applied: Path) -> None:
    path = applied
    killed = aws.run(
        keys, "rotate", str(path), "--link", LINK, "--yes", factory=killed_between_regions()
    )
    assert killed.exit_code == 1
    assert "Killed: " in killed.output
    aws.run(unlock, str(path))
    other = "ap-southeast-1--cn-north-1"
    result = aws.run(keys, "rotate", str(path), "--link", other, "--yes")
    assert result.exit_code == 1
    assert f"finish it first: `vpnctl keys rotate --link {LINK}`" in result.stderr
