"""``vpnctl apply`` and ``destroy`` against a moto server, through the CLI."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest

from tests.functional.conftest import Aws, fast
from tests.functional.reconcile import reconcile
from vpnctl import pipeline
from vpnctl.aws import artifacts
from vpnctl.aws.applylock import ApplyLock
from vpnctl.aws.diff import diff
from vpnctl.aws.factory import Factory
from vpnctl.aws.observe import observe
from vpnctl.aws.retry import NO_WAIT
from vpnctl.aws.scope import Scope
from vpnctl.aws.session import Call, Sessions
from vpnctl.cli import cli
from vpnctl.cli.apply import apply
from vpnctl.cli.destroy import destroy
from vpnctl.cli.unlock import unlock

TAG = [{"Name": "tag:vpnctl:topology", "Values": ["sproutling"]}]
REGIONS = {"us-west-2": "aws", "ap-southeast-1": "aws", "cn-north-1": "aws-cn"}


def pending(aws: Aws, path: Path) -> int:
    planned = pipeline.plan(path)
    intent = artifacts.intent(planned)
    sessions = Sessions(planned.topology.accounts, aws.url)
    return len(diff(intent, observe(sessions, Scope.of(intent), NO_WAIT)).changes)


def zone_records(aws: Aws, zone: str = "vpn.example.com.") -> dict[str, list[str]]:
    r53 = aws.client("route53", "us-east-1")
    zones = r53.list_hosted_zones_by_name(DNSName=zone)["HostedZones"]
    zone_id = next(z["Id"] for z in zones if z["Name"] == zone)
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {
        s["Name"]: [r["Value"] for r in s.get("ResourceRecords", [])]
        for s in sets
        if s["Type"] == "A"
    }


def applied(aws: Aws) -> Path:
    path = aws.topology("china-hub")
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output
    return path


def test_first_apply_creates_everything_in_both_partitions(aws: Aws) -> None:
    path = applied(aws)
    reconcile(aws, path)  # what each gateway's boot does on AWS: its Elastic IP on itself
    addresses: dict[str, str] = {}
    for region in REGIONS:
        ec2 = aws.client("ec2", region)
        assert len(ec2.describe_vpcs(Filters=TAG)["Vpcs"]) == 1
        assert len(ec2.describe_subnets(Filters=TAG)["Subnets"]) == 4
        assert len(ec2.describe_internet_gateways(Filters=TAG)["InternetGateways"]) == 1
        for a in ec2.describe_addresses(Filters=TAG)["Addresses"]:
            name = next(t["Value"] for t in a["Tags"] if t["Key"] == "vpnctl:name")
            addresses[name] = a["PublicIp"]
            assert a.get("InstanceId")
        groups = aws.client("autoscaling", region).describe_auto_scaling_groups()
        assert len(groups["AutoScalingGroups"]) == 2
        params = aws.client("ssm", region).describe_parameters()["Parameters"]
        assert params
        assert all(p["Type"] == "SecureString" for p in params)
        tables = ec2.describe_route_tables(Filters=TAG)["RouteTables"]
        routed = [r for t in tables for r in t["Routes"] if r.get("NetworkInterfaceId")]
        # a summarised route per next hop in each of the two routing tables: the hub's go to
        # us-west-2 and to cn-north-1, a spoke's all go to the hub
        assert len(routed) == (4 if region == "ap-southeast-1" else 2)
    assert len(addresses) == 6
    records = zone_records(aws)
    assert {n.rstrip("."): v for n, v in records.items()} == {
        f"{gw}.vpn.example.com": [ip] for gw, ip in addresses.items()
    }
    roles = aws.client("iam", "cn-north-1").list_roles(PathPrefix="/vpnctl/sproutling/")
    assert {r["Arn"].split(":")[1] for r in roles["Roles"]} == {"aws-cn"}
    assert pending(aws, path) == 0


def test_tunnel_ports_open_only_to_the_peer_gateway_address(aws: Aws) -> None:
    applied(aws)
    ec2 = aws.client("ec2", "cn-north-1")
    peer = {
        a["PublicIp"]
        for a in aws.client("ec2", "ap-southeast-1").describe_addresses(Filters=TAG)["Addresses"]
    }
    groups = ec2.describe_security_groups(Filters=TAG)["SecurityGroups"]
    udp = [
        r["CidrIp"]
        for g in groups
        for p in g["IpPermissions"]
        if p["IpProtocol"] == "udp" and p["FromPort"] == 1194
        for r in p["IpRanges"]
    ]
    assert udp
    assert {c.removesuffix("/32") for c in udp} <= peer


def test_second_apply_makes_no_mutating_call(aws: Aws) -> None:
    path = applied(aws)
    factory = fast()
    result = aws.run(apply, str(path), "--yes", factory=factory)
    assert result.exit_code == 0, result.output
    assert "no changes" in result.output
    assert factory.log.mutating(except_services=("dynamodb",)) == []
    reads = Counter((c.account, c.region) for c in factory.log.calls if not c.mutating)
    # 14 for the network, 3 for the failover hook, 3 for the artifact store and one more per
    # gateway there (its pointer: which configuration it names)
    assert max(reads.values()) <= 22


def test_drift_is_repaired(aws: Aws) -> None:
    path = applied(aws)
    ec2 = aws.client("ec2", "us-west-2")
    table = next(
        t
        for t in ec2.describe_route_tables(Filters=TAG)["RouteTables"]
        if any(r.get("NetworkInterfaceId") for r in t["Routes"])
    )
    route = next(r for r in table["Routes"] if r.get("NetworkInterfaceId"))
    ec2.delete_route(
        RouteTableId=table["RouteTableId"], DestinationCidrBlock=route["DestinationCidrBlock"]
    )
    r53 = aws.client("route53", "us-east-1")
    zone_id = r53.list_hosted_zones_by_name(DNSName="vpn.example.com.")["HostedZones"][0]["Id"]
    name = "gw-us-west-2-a.vpn.example.com"
    r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "A",
                        "TTL": 30,
                        "ResourceRecords": [{"Value": "192.0.2.9"}],
                    },
                }
            ]
        },
    )
    assert pending(aws, path) == 2
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert pending(aws, path) == 0
    assert zone_records(aws)[name + "."] != ["192.0.2.9"]


def test_foreign_records_and_routes_survive_apply_and_destroy(aws: Aws) -> None:
    path = applied(aws)
    r53 = aws.client("route53", "us-east-1")
    zone_id = r53.list_hosted_zones_by_name(DNSName="vpn.example.com.")["HostedZones"][0]["Id"]
    r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": "www.vpn.example.com",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.80"}],
                    },
                }
            ]
        },
    )
    ec2 = aws.client("ec2", "us-west-2")
    table = next(
        t
        for t in ec2.describe_route_tables(Filters=TAG)["RouteTables"]
        if any(r.get("NetworkInterfaceId") for r in t["Routes"])
    )
    igw = ec2.describe_internet_gateways(Filters=TAG)["InternetGateways"][0]["InternetGatewayId"]
    ec2.create_route(
        RouteTableId=table["RouteTableId"], DestinationCidrBlock="192.168.0.0/16", GatewayId=igw
    )
    assert aws.run(apply, str(path), "--yes").exit_code == 0
    routes = ec2.describe_route_tables(RouteTableIds=[table["RouteTableId"]])["RouteTables"][0][
        "Routes"
    ]
    assert any(r["DestinationCidrBlock"] == "192.168.0.0/16" for r in routes)
    result = aws.run(destroy, str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert zone_records(aws) == {"www.vpn.example.com.": ["192.0.2.80"]}
    for region in REGIONS:
        assert aws.client("ec2", region).describe_vpcs(Filters=TAG)["Vpcs"] == []


ADOPTING = """
version: 1
name: adopt
accounts:
  main: {partition: aws}
dns: {zone: vpn.adopt.example.com, account: main}
addressing: {pool: 10.64.0.0/12}
vpcs:
  left: {account: main, region: us-west-2, azs: [us-west-2a], cidr: 10.70.0.0/16, vpc_id: VPC_ID}
  right: {account: main, region: eu-west-1, azs: [eu-west-1a]}
links:
  - between: [left, right]
"""


def adopting(aws: Aws, cidr: str = "10.70.0.0/16") -> tuple[Path, str]:
    ec2 = aws.client("ec2", "us-west-2")
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    return aws.topology("adopt", ADOPTING.replace("VPC_ID", vpc)), vpc


def test_a_vpc_whose_region_leaves_the_topology_is_swept(aws: Aws) -> None:
    """Its region is no VPC's any more; the lock file still says what lived there."""
    import yaml

    path = aws.topology("demo")
    assert aws.run(apply, str(path), "--yes").exit_code == 0
    doc = yaml.safe_load(path.read_text())
    del doc["vpcs"]["eu-west-1"]
    doc["links"] = []
    doc["allow"] = []
    path.write_text(yaml.safe_dump(doc))
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output
    demo = [{"Name": "tag:vpnctl:topology", "Values": ["demo"]}]
    ec2 = aws.client("ec2", "eu-west-1")
    assert ec2.describe_vpcs(Filters=demo)["Vpcs"] == []
    assert ec2.describe_subnets(Filters=demo)["Subnets"] == []
    running = ec2.describe_instances(
        Filters=[*demo, {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )["Reservations"]
    assert running == []
    assert (
        aws.client("autoscaling", "eu-west-1").describe_auto_scaling_groups()["AutoScalingGroups"]
        == []
    )
    assert len(aws.client("ec2", "us-west-2").describe_vpcs(Filters=demo)["Vpcs"]) == 1
    assert pending(aws, path) == 0


def test_adopted_vpc_is_used_and_kept_and_foreign_routes_survive_destroy(aws: Aws) -> None:
    path, vpc = adopting(aws)
    ec2 = aws.client("ec2", "us-west-2")
    foreign = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    assert aws.run(apply, str(path), "--yes").exit_code == 0
    eni = next(
        i["NetworkInterfaces"][0]["NetworkInterfaceId"]
        for r in ec2.describe_instances(
            Filters=[{"Name": "tag:vpnctl:topology", "Values": ["adopt"]}]
        )["Reservations"]
        for i in r["Instances"]
    )
    ec2.create_route(
        RouteTableId=foreign, DestinationCidrBlock="10.99.0.0/16", NetworkInterfaceId=eni
    )
    igw = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])
    ec2.create_route(
        RouteTableId=foreign,
        DestinationCidrBlock="0.0.0.0/0",
        GatewayId=igw["InternetGateways"][0]["InternetGatewayId"],
    )
    result = aws.run(destroy, str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"]
    routes = ec2.describe_route_tables(RouteTableIds=[foreign])["RouteTables"][0]["Routes"]
    assert {r["DestinationCidrBlock"] for r in routes} == {"10.70.0.0/16", "0.0.0.0/0"}


def test_adopted_vpc_with_another_cidr_is_refused(aws: Aws) -> None:
    path, _vpc = adopting(aws, cidr="10.71.0.0/16")
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 1
    assert "account main, region us-west-2, vpc left" in result.output
    assert "10.71.0.0/16" in result.output


def test_missing_adopted_vpc_is_refused(aws: Aws) -> None:
    path = aws.topology("adopt", ADOPTING.replace("VPC_ID", "vpc-0123456789abcdef0"))
    result = aws.run(apply, str(path), "--dry-run")
    assert result.exit_code == 1
    assert "vpc-0123456789abcdef0" in result.output
    assert "does not exist" in result.output


class Interrupted(Exception):
    pass


def test_interrupted_apply_converges_without_duplicates(aws: Aws) -> None:
    path = aws.topology("china-hub")
    for limit in (7, 40, 90):
        factory = fast()
        count = {"n": 0}

        def crash(call: Call, count: dict[str, int] = count, limit: int = limit) -> None:
            if call.mutating and call.service != "dynamodb":
                count["n"] += 1
                if count["n"] > limit:
                    raise Interrupted(f"killed after {limit} calls")

        factory.log.hooks.append(crash)
        result = aws.run(apply, str(path), "--yes", factory=factory)
        assert result.exit_code == 1, result.output
        assert f"internal error: Interrupted: killed after {limit} calls" in result.output
        aws.run(unlock, str(path))  # the killed apply never released its lock
    assert aws.run(apply, str(path), "--yes").exit_code == 0
    assert pending(aws, path) == 0
    for region in REGIONS:
        ec2 = aws.client("ec2", region)
        assert len(ec2.describe_vpcs(Filters=TAG)["Vpcs"]) == 1
        assert len(ec2.describe_addresses(Filters=TAG)["Addresses"]) == 2
        assert len(ec2.describe_subnets(Filters=TAG)["Subnets"]) == 4
        assert len(ec2.describe_security_groups(Filters=TAG)["SecurityGroups"]) == 3


def test_a_held_lock_stops_apply_until_unlocked(aws: Aws) -> None:
    path = aws.topology("demo")
    planned = pipeline.plan(path)
    sessions = Sessions(planned.topology.accounts, aws.url)
    ApplyLock(sessions, "main", "demo", NO_WAIT).acquire("ci@runner pid 1")
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 1
    assert "ci@runner pid 1" in result.output
    assert "vpnctl unlock" in result.output
    assert "removed the lock of ci@runner" in aws.run(unlock, str(path)).output
    assert aws.run(apply, str(path), "--yes").exit_code == 0


def test_lock_wait_waits_for_the_holder_to_finish(aws: Aws) -> None:
    path = aws.topology("demo")
    planned = pipeline.plan(path)
    lock = ApplyLock(Sessions(planned.topology.accounts, aws.url), "main", "demo", NO_WAIT)
    holder = lock.acquire("another apply")
    waited: list[float] = []

    def sleep(seconds: float) -> None:  # the other apply finishes while this one waits
        waited.append(seconds)
        lock.release(holder)

    result = aws.run(apply, str(path), "--yes", "--lock-wait", "30", factory=Factory(sleep=sleep))
    assert result.exit_code == 0, result.output
    assert waited


def test_two_applies_at_once_one_fails_on_the_lock_and_nothing_doubles(aws: Aws) -> None:
    path = aws.topology("demo")
    pipeline.record(pipeline.plan(path), frozen=False)
    results: list[int] = []
    gate = threading.Barrier(2)

    def one() -> None:
        import io

        from vpnctl.aws.deployer import Deployer, Options
        from vpnctl.aws.progress import Quiet

        planned = pipeline.plan(path)
        factory = fast()
        sessions = Sessions(planned.topology.accounts, aws.url, factory.log)
        deployer = Deployer(factory, sessions, io.StringIO(), Quiet(), lambda: True)
        gate.wait()
        try:
            deployer.apply(planned, Options(yes=True))
            results.append(0)
        except Exception:
            results.append(1)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) in ([0, 1], [0, 0])
    assert aws.run(apply, str(path), "--yes").exit_code == 0
    assert pending(aws, path) == 0
    ec2 = aws.client("ec2", "us-west-2")
    assert (
        len(
            ec2.describe_vpcs(Filters=[{"Name": "tag:vpnctl:topology", "Values": ["demo"]}])["Vpcs"]
        )
        == 1
    )


def test_a_saved_change_set_applies_only_while_it_is_current(aws: Aws) -> None:
    path = aws.topology("demo")
    saved = aws.home / "changes.json"
    dry = aws.run(apply, str(path), "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.output
    saved.write_text(dry.stdout)
    result = aws.run(apply, str(path), "--yes", "--change-set", str(saved))
    assert result.exit_code == 0, result.output
    assert pending(aws, path) == 0
    # the same change set again: AWS is no longer what it was made against
    factory = fast()
    again = aws.run(apply, str(path), "--yes", "--change-set", str(saved), factory=factory)
    assert again.exit_code == 1
    assert "the saved change set is stale: AWS changed since it was made" in again.output
    assert factory.log.mutating(except_services=("dynamodb",)) == []


def test_dry_run_json_changes_nothing(aws: Aws) -> None:
    path = aws.topology("demo")
    factory = fast()
    result = aws.run(apply, str(path), "--dry-run", "--format", "json", factory=factory)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["format_version"] == 1
    assert document["summary"]["add"] > 0
    assert {"kind", "action", "account", "region", "description"} <= set(document["changes"][0])
    assert factory.log.mutating() == []


def test_sandbox_applies_the_demo_end_to_end(tmp_path: Path) -> None:
    from click.testing import CliRunner

    path = tmp_path / "demo.yaml"
    path.write_text((Path(__file__).parents[2] / "topologies" / "demo.yaml").read_text())
    result = CliRunner().invoke(cli, ["apply", str(path), "--sandbox", "--yes"], obj=fast())
    assert result.exit_code == 0, result.output
    assert "Plan:" in result.output


@pytest.mark.parametrize("args", [["--sandbox", "--endpoint-url", "http://x"]])
def test_sandbox_and_endpoint_exclude_each_other(aws: Aws, args: list[str]) -> None:
    from click.testing import CliRunner

    path = aws.topology("demo")
    result = CliRunner().invoke(cli, ["apply", str(path), "--yes", *args])
    assert result.exit_code == 2
