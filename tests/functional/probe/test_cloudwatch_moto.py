"""PutMetricData against moto: the figures arrive in namespace vpnctl with their dimensions."""

from collections.abc import Iterator
from dataclasses import replace
from ipaddress import IPv4Address
from typing import Any

import boto3
import pytest
from moto import mock_aws

from vpnctl.probe.cloudwatch import NAMESPACE, publish
from vpnctl.probe.measure import Echo, summarise
from vpnctl.probe.report import Report, Result, Target
from vpnctl.probe.verdict import Status
from vpnctl.topology import Probe


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-west-2",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-west-2")


def report(n: int) -> Report:
    echoes = [Echo(seq=i, scheduled=0.0, sent=0.0, rtt_ms=10.0 + i) for i in range(5)]
    result = Result(
        Target(IPv4Address("169.254.64.2"), "a--b", "gw-b-a"), summarise(echoes), Status.OK
    )
    results = tuple(replace(result, target=replace(result.target, link=f"l{i}")) for i in range(n))
    return Report(results, Probe().warn, Probe().crit, 1_700_000_000.0, "raw", None)


def test_metrics_arrive_with_their_dimensions(client: Any) -> None:
    assert publish(client, report(1), "demo", "gw-a-a") == 1
    metrics = client.list_metrics(Namespace=NAMESPACE)["Metrics"]
    names = {m["MetricName"] for m in metrics}
    assert {"LossPercent", "RttMedian", "RttP95", "Status"} <= names
    dims = {(d["Name"], d["Value"]) for d in metrics[0]["Dimensions"]}
    assert dims == {("Topology", "demo"), ("Link", "l0"), ("Gateway", "gw-a-a")}


def test_many_links_are_batched(client: Any) -> None:
    calls = publish(client, report(150), "demo", "gw-a-a")  # 150 x 8 datums
    assert calls == 2
    links = {
        d["Value"]
        for m in client.list_metrics(Namespace=NAMESPACE, MetricName="RttMedian")["Metrics"]
        for d in m["Dimensions"]
        if d["Name"] == "Link"
    }
    assert len(links) == 150
