"""Route53 ownership on a moto server: a record is vpnctl's by its name, never by its value.

Someone's own record that points at a gateway's Elastic IP (an alias name for it, say) is not
vpnctl's and survives apply and destroy; vpnctl's own records are still created, repaired and
removed, the record of a gateway dropped from the topology included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.functional.conftest import Aws
from vpnctl import pipeline
from vpnctl.cli.apply import apply
from vpnctl.cli.destroy import destroy

ZONE = "vpn.demo.example.com."
FOREIGN = "my-alias.vpn.demo.example.com."
BOTH = "both-west.vpn.demo.example.com."


def r53(aws: Aws) -> Any:
    return aws.client("route53", "us-east-1")


def zone_id(aws: Aws) -> str:
    zones = r53(aws).list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"]
    return str(next(z["Id"] for z in zones if z["Name"] == ZONE))


def a_records(aws: Aws) -> dict[str, list[str]]:
    sets = r53(aws).list_resource_record_sets(HostedZoneId=zone_id(aws))["ResourceRecordSets"]
    return {
        s["Name"]: sorted(r["Value"] for r in s.get("ResourceRecords", []))
        for s in sets
        if s["Type"] == "A"
    }


def upsert(aws: Aws, name: str, *values: str) -> None:
    record = {
        "Name": name,
        "Type": "A",
        "TTL": 300,
        "ResourceRecords": [{"Value": v} for v in values],
    }
    r53(aws).change_resource_record_sets(
        HostedZoneId=zone_id(aws),
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},
    )


def gateway_ips(aws: Aws) -> dict[str, str]:
    """Gateway name -> its Elastic IP, read from EC2 (not from DNS)."""
    found: dict[str, str] = {}
    for region in ("us-west-2", "eu-west-1"):
        for a in aws.client("ec2", region).describe_addresses()["Addresses"]:
            tags = {t["Key"]: t["Value"] for t in a.get("Tags", [])}
            found[tags["vpnctl:name"]] = a["PublicIp"]
    return found


def applied(aws: Aws) -> Path:
    path = aws.topology("demo")
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)
    return path


def own_records(path: Path) -> set[str]:
    return {g.fqdn + "." for g in pipeline.plan(path).design.gateways}


def test_a_foreign_record_at_a_gateway_address_survives_apply_and_destroy(aws: Aws) -> None:
    path = applied(aws)
    ips = gateway_ips(aws)
    ours = own_records(path)
    assert set(a_records(aws)) == ours  # apply created one record per gateway
    upsert(aws, FOREIGN, ips["gw-us-west-2-a"])
    upsert(aws, BOTH, ips["gw-us-west-2-a"], ips["gw-us-west-2-b"])

    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)
    assert FOREIGN.rstrip(".") not in result.output
    assert a_records(aws)[FOREIGN] == [ips["gw-us-west-2-a"]]
    assert a_records(aws)[BOTH] == sorted([ips["gw-us-west-2-a"], ips["gw-us-west-2-b"]])

    result = aws.run(destroy, str(path), "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)
    left = a_records(aws)
    assert left == {
        FOREIGN: [ips["gw-us-west-2-a"]],
        BOTH: sorted([ips["gw-us-west-2-a"], ips["gw-us-west-2-b"]]),
    }
    assert not ours & set(left)


def test_own_records_are_repaired_and_a_removed_gateways_record_is_swept(aws: Aws) -> None:
    path = applied(aws)
    ips = gateway_ips(aws)
    name = "gw-us-west-2-b.vpn.demo.example.com."
    upsert(aws, name, "192.0.2.9")  # drifted: vpnctl's name, someone else's value
    upsert(aws, FOREIGN, ips["gw-us-west-2-b"])

    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)
    assert a_records(aws)[name] == [ips["gw-us-west-2-b"]]

    doc = yaml.safe_load(path.read_text())
    doc["vpcs"]["us-west-2"]["azs"] = ["us-west-2a"]
    path.write_text(yaml.safe_dump(doc))
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)
    records = a_records(aws)
    assert name not in records  # the dropped gateway's record went with it
    assert "gw-us-west-2-a.vpn.demo.example.com." in records
    assert records[FOREIGN] == [ips["gw-us-west-2-b"]]  # still someone's, though stale
