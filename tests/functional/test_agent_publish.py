"""The agent's health loop publishing to a real moto server: figures, events, the ready tag.

Events are read the way the failover hook's rules see them: an EventBridge rule on the agent's
source, targeting an SQS queue, and the queue read back.
"""

from __future__ import annotations

import json
import socket
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from tests.functional.conftest import Aws
from tests.unit.agent.healthfakes import TUNNEL, Clock, Net, config, plan
from vpnctl import health_contract as contract
from vpnctl.agent import health, publish
from vpnctl.cli import cli
from vpnctl.probe import spec
from vpnctl.probe.session import Schedule

REGION = "us-west-2"


def launch(aws: Aws, name: str) -> dict[str, Any]:
    ec2 = aws.client("ec2", REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = [{"Key": "vpnctl:topology", "Value": "t"}, {"Key": "vpnctl:name", "Value": name}]
    made = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )  # fmt: skip
    instance: dict[str, Any] = made["Instances"][0]
    return instance


def listen(aws: Aws) -> str:
    """A rule matching the agent's events, delivering them to a queue; the queue's URL."""
    sqs, events = aws.client("sqs", REGION), aws.client("events", REGION)
    url: str = sqs.create_queue(QueueName="vpnctl-health")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    pattern = {"source": [contract.EVENT_SOURCE], "detail-type": [contract.EVENT_DETAIL_TYPE]}
    events.put_rule(Name="vpnctl-health", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="vpnctl-health", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    return url


def received(aws: Aws, url: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs", REGION)
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        found += [json.loads(m["Body"]) for m in batch]
    return found


def door(aws: Aws) -> publish.AwsDoor:
    cloudwatch, events, ec2 = (aws.client(s, REGION) for s in ("cloudwatch", "events", "ec2"))
    return publish.AwsDoor(cloudwatch, events, ec2, account="123456789012", region=REGION)


def dimensions(aws: Aws, metric: str) -> list[dict[str, str]]:
    listed = aws.client("cloudwatch", REGION).list_metrics(
        Namespace=contract.NAMESPACE, MetricName=metric
    )["Metrics"]
    return [{d["Name"]: d["Value"] for d in m["Dimensions"]} for m in listed]


def latest(aws: Aws, metric: str, dims: dict[str, str], clock: Clock) -> list[float]:
    from datetime import UTC, datetime, timedelta

    end = datetime.fromtimestamp(clock.now + 60, UTC)
    answer = aws.client("cloudwatch", REGION).get_metric_data(
        MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
            "Namespace": contract.NAMESPACE, "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
        }, "Period": 1, "Stat": "Maximum"}}],
        StartTime=end - timedelta(hours=1), EndTime=end,
    )  # fmt: skip
    values: list[float] = answer["MetricDataResults"][0]["Values"]
    return values


def test_figures_events_and_ready_tag_land(aws: Aws) -> None:
    me, sibling = launch(aws, "gw-a-a"), launch(aws, "gw-a-b")
    url = listen(aws)
    aws_door = door(aws)
    clock = Clock()
    sink = publish.Publisher(aws_door, "t", "gw-a-a", me["InstanceId"])

    def find(names: Any) -> dict[str, IPv4Address]:
        return aws_door.find_gateways("t", names)

    loop = health.Loop(Net(clock), sink, find, Schedule(5, 200), clock, clock.sleep)
    cfg = config(siblings=("gw-a-b",))
    loop.update(health.Converged(cfg.digest, True, cfg), plan(("gw-a-b",)))
    loop.run(runs=12)

    assert loop.board["sibling:gw-a-b"].watch.address == IPv4Address(sibling["PrivateIpAddress"])
    me_dims = {"Topology": "t", "Gateway": "gw-a-a"}
    assert {**me_dims, "Tunnel": TUNNEL} in dimensions(aws, contract.TUNNEL_UP)
    assert {**me_dims, "Sibling": "gw-a-b"} in dimensions(aws, contract.SIBLING_UP)
    assert 1.0 in latest(aws, contract.TUNNEL_UP, {**me_dims, "Tunnel": TUNNEL}, clock)
    assert {**me_dims, "Link": "a--b"} in dimensions(aws, "LossPercent")

    said = received(aws, url)
    assert {e["source"] for e in said} == {contract.EVENT_SOURCE}
    seen = sorted((e["detail"]["kind"], e["detail"]["name"], e["detail"]["state"]) for e in said)
    assert seen == [("ready", cfg.digest, "UP"), ("sibling", "gw-a-b", "UP"),
                    ("tunnel", TUNNEL, "UP")]  # fmt: skip
    assert {e["detail"]["instance_id"] for e in said} == {me["InstanceId"]}

    tags = aws.client("ec2", REGION).describe_tags(
        Filters=[
            {"Name": "resource-id", "Values": [me["InstanceId"]]},
            {"Name": "key", "Values": [contract.READY_TAG]},
        ]
    )["Tags"]
    assert [t["Value"] for t in tags] == [cfg.digest]


def test_an_unreachable_region_never_stops_the_loop(aws: Aws) -> None:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x")
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens
    once = Config(retries={"max_attempts": 1, "mode": "standard"})
    cloudwatch, events, ec2 = (
        session.client(s, region_name=REGION, endpoint_url=dead, config=once)
        for s in ("cloudwatch", "events", "ec2")
    )
    unreachable = publish.AwsDoor(cloudwatch, events, ec2, "123456789012", REGION)
    sink = publish.Publisher(unreachable, "t", "g", "i-1")
    clock = Clock()
    loop = health.Loop(Net(clock), sink, lambda _n: {}, Schedule(5, 200), clock, clock.sleep)
    cfg = config()
    loop.update(health.Converged(cfg.digest, True, cfg), plan())
    loop.run(runs=8)
    assert loop.board[f"tunnel:{TUNNEL}"].up
    assert [json.loads(e["Detail"])["state"] for e in sink.pending] == ["UP"]


def icmp() -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
        try:
            socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
            return True
        except OSError:
            continue
    return False


@pytest.mark.skipif(not icmp(), reason="no ICMP socket (ping_group_range, or not root)")
def test_agent_run_converges_measures_and_publishes(aws: Aws, tmp_path: Path) -> None:
    """The command end to end: a gateway with no tunnel yet and one sibling, on loopback."""
    me = launch(aws, "gw-a-a")
    url = listen(aws)
    desired = tmp_path / "desired"
    desired.mkdir()
    (desired / "probe.json").write_text(spec.dumps(plan(("gw-a-b",))))
    (desired / "gateway.env").write_text(f"VPNCTL_REGION={REGION}\n")
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [
        "agent", "run", "--desired", str(desired), "--root", str(tmp_path / "root"),
        "--state", str(tmp_path / "state.json"), "--netns", "unused",
        "--probe-count", "3", "--probe-interval-ms", "20", "--runs", "12",
        "--sibling", "gw-a-b=127.0.0.1", "--instance-id", me["InstanceId"],
        "--endpoint-url", aws.url,
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    said = received(aws, url)
    kinds = sorted((e["detail"]["kind"], e["detail"]["state"]) for e in said)
    assert kinds == [("ready", "UP"), ("sibling", "UP")]
    assert {"Topology": "t", "Gateway": "gw-a-a", "Sibling": "gw-a-b"} in dimensions(
        aws, contract.SIBLING_UP
    )
