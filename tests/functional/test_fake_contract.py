"""The fake is honest: the same door calls on ``vpnctl.aws.fakedoor`` and on a moto server give
the same answers, the same "done already" and the same refusals.

Each scenario returns what the door returned (ids left out, as they differ), and states what
that must be, so a fake that agrees with a wrong moto, or the reverse, fails too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.builders import doc, parse
from tests.functional.conftest import Aws
from vpnctl.aws.door import BotoWire, Door
from vpnctl.aws.fakedoor import FakeWire
from vpnctl.aws.retry import NO_WAIT
from vpnctl.aws.session import Sessions
from vpnctl.errors import AwsError

REGION = "us-west-2"
TAGS = {"vpnctl:topology": "t", "Name": "x"}
Scenario = Callable[[Door], Any]


def on_moto(aws: Aws) -> Door:
    return Door(BotoWire(Sessions(parse(doc()).accounts, aws.url), NO_WAIT))


def on_fake() -> Door:
    return Door(FakeWire())


def routes(door: Door) -> Any:
    ec2 = door.at("main", REGION, "routes").ec2
    vpc = ec2.create_vpc("10.70.0.0/16", TAGS)
    table = ec2.create_route_table(vpc, "token-1", TAGS)
    igw = ec2.create_internet_gateway(TAGS)
    ec2.attach_internet_gateway(igw, vpc)
    ec2.put_route(table, "0.0.0.0/0", exists=False, GatewayId=igw)
    ec2.put_route(table, "0.0.0.0/0", exists=False, GatewayId=igw)  # there: replaced
    ec2.put_route(table, "10.99.0.0/16", exists=True, GatewayId=igw)  # missing: created
    found = ec2.route_tables_by_id([table])[0]["Routes"]
    held = sorted((r["DestinationCidrBlock"], r.get("GatewayId") == igw) for r in found)
    ec2.delete_route(table, "10.99.0.0/16")
    ec2.delete_route(table, "10.99.0.0/16")  # gone already: done
    ec2.delete_internet_gateway(igw, vpc)
    ec2.delete_internet_gateway(igw, vpc)  # detached and gone already: done
    return held


def rules(door: Door) -> Any:
    ec2 = door.at("main", REGION, "security group g").ec2
    vpc = ec2.create_vpc("10.71.0.0/16", TAGS)
    group = ec2.create_security_group("g", "a group", vpc, TAGS)
    udp = [
        {"IpProtocol": "udp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}
        for p in (1194, 1195)
    ]
    ec2.authorize_ingress(group, udp[:1])
    ec2.authorize_ingress(group, udp)  # one of them there already: each on its own
    found = ec2.security_groups([{"Name": "vpc-id", "Values": [vpc]}])
    ports = sorted(p["FromPort"] for g in found for p in g["IpPermissions"])
    ec2.revoke_ingress(group, udp[0])
    ec2.revoke_ingress(group, udp[0])  # gone already: done
    ec2.delete_security_group(group)
    ec2.delete_security_group(group)
    return ports


def records(door: Door) -> Any:
    from vpnctl.aws.door.route53 import RecordChange

    route53 = door.at("main", "us-east-1", "zone").route53
    zone = route53.create_hosted_zone("contract.example.com", "ref-1", TAGS)
    up = RecordChange("UPSERT", "a.contract.example.com", 60, ("198.51.100.1",))
    down = RecordChange("DELETE", "a.contract.example.com", 60, ("198.51.100.1",))
    other = RecordChange("UPSERT", "b.contract.example.com", 60, ("198.51.100.2",))
    route53.change_records(zone, [up])
    route53.change_records(zone, [down, other])
    route53.change_records(zone, [down, other])  # the delete is done: the batch goes by one
    found = [
        (r["Name"], [v["Value"] for v in r["ResourceRecords"]])
        for r in route53.records(zone)
        if r["Type"] == "A"
    ]
    return found, route53.zone_tags(zone)


def roles(door: Door) -> Any:
    iam = door.at("main", "us-east-1", "role r").iam
    trust = '{"Version": "2012-10-17", "Statement": []}'
    iam.create_role("r", "/vpnctl/t/", trust, "a role", TAGS)
    iam.create_role("r", "/vpnctl/t/", trust, "a role", TAGS)  # there: done
    iam.create_instance_profile("p", "/vpnctl/t/", "r", TAGS)
    iam.create_instance_profile("p", "/vpnctl/t/", "r", TAGS)
    arn = iam.role_arn("r")
    details = [(d["RoleName"], d["Path"]) for d in iam.role_details()]
    iam.delete_role("r", ["p"], "policy")
    iam.delete_role("r", ["p"], "policy")  # gone: done
    return arn.endswith(":role/vpnctl/t/r"), details


def secrets(door: Door) -> Any:
    ssm = door.at("main", REGION, "ssm parameter /t/k").ssm
    ssm.put_new_secret("/t/k", "first", "v1", TAGS)
    ssm.put_new_secret("/t/k", "second", "v1", TAGS)  # there: left as it is
    kept = ssm.secrets(["/t/k", "/t/missing"])
    ssm.overwrite_secret("/t/k", "third", "v2")
    listed = [
        (p["Name"], p.get("Description"))
        for p in ssm.parameters([{"Key": "tag:vpnctl:topology", "Values": ["t"]}])
    ]
    ssm.delete_parameters(["/t/k", "/t/missing"])  # one missing: the other goes all the same
    return kept, ssm.secrets(["/t/k"]), listed


def table(door: Door) -> Any:
    dynamodb = door.at("main", "us-east-1", "apply lock of t").dynamodb
    before = dynamodb.table_status("locks")
    dynamodb.create_table("locks", "topology", TAGS)
    dynamodb.create_table("locks", "topology", TAGS)  # there: done
    item = {"topology": {"S": "t"}, "run": {"S": "1"}}
    absent = "attribute_not_exists(topology)"
    first = dynamodb.put_item("locks", item, absent)
    second = dynamodb.put_item("locks", item, absent)
    held = dynamodb.get_item("locks", {"topology": {"S": "t"}})
    theirs = dynamodb.delete_item("locks", {"topology": {"S": "t"}}, "run = :run", {":run": {"S": "2"}})  # fmt: skip
    ours = dynamodb.delete_item("locks", {"topology": {"S": "t"}}, "run = :run", {":run": {"S": "1"}})  # fmt: skip
    return before, first, second, held, theirs, ours, dynamodb.table_status("locks")


def bucket(door: Door) -> Any:
    s3 = door.at("main", REGION, "s3 bucket b").s3
    owner = "123456789012"
    name = "vpnctl-contract-bucket"
    s3.create_bucket(name, owner, {"vpnctl:store": "artifacts"})
    s3.create_bucket(name, owner, {"vpnctl:store": "artifacts"})  # ours already: done
    policy = s3.policy(name, owner)
    s3.put_object(name, owner, "t/a", b"data", "Om6weQ85rIfJTzhWst0sXREOaBFgImGpqSPTuyOtyLc=", TAGS)
    s3.delete_bucket(name, owner)  # not empty: kept
    kept = s3.keys(name, owner, "t/")
    body = s3.get_object(name, owner, "t/a")
    s3.delete_objects(name, owner, ["t/a"])
    s3.delete_bucket(name, owner)
    s3.delete_bucket(name, owner)  # gone: done
    return policy, kept, body


def refused(door: Door) -> Any:
    ec2 = door.at("main", REGION, "instance i").ec2
    with pytest.raises(AwsError) as caught:
        ec2.disable_source_dest_check("i-00000000000000000")
    return str(caught.value).split(": ")[0:2]


SCENARIOS: dict[str, tuple[Scenario, Any]] = {
    "routes": (routes, [("0.0.0.0/0", True), ("10.70.0.0/16", False), ("10.99.0.0/16", True)]),
    "rules": (rules, [1194, 1195]),
    "records": (
        records,
        ([("b.contract.example.com.", ["198.51.100.2"])], TAGS),
    ),
    "roles": (roles, (True, [("r", "/vpnctl/t/")])),
    "secrets": (
        secrets,
        ({"/t/k": "first"}, {}, [("/t/k", "v2")]),
    ),
    "table": (
        table,
        (
            None,
            None,
            "ConditionalCheckFailedException",
            {"topology": {"S": "t"}, "run": {"S": "1"}},
            False,
            True,
            "ACTIVE",
        ),
    ),
    "bucket": (bucket, ((True, None), {"t/a": "8d777f385d3dfec8815d20f7496026dc"}, b"data")),
    "refused": (
        refused,
        ["account main, region us-west-2, instance i", "InvalidInstanceID.NotFound"],
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_fake_answers_as_moto_does(aws: Aws, name: str) -> None:
    scenario, expected = SCENARIOS[name]
    on_the_fake = scenario(on_fake())
    assert on_the_fake == expected
    assert scenario(on_moto(aws)) == on_the_fake
