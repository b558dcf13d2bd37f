from dataclasses import replace
from typing import Any

import pytest

from tests.unit.probe.fakes import report, result
from vpnctl.errors import AwsError
from vpnctl.probe.cloudwatch import batches, datums, publish
from vpnctl.probe.health import Health


def test_dimensions_name_the_link_and_the_gateway_that_measured() -> None:
    rep = report(result("169.254.64.2", [10.0, 12.0], link="a--b", gateway="gw-b-a"))
    found = datums(rep, "demo", "gw-a-a")
    assert {d["MetricName"] for d in found} >= {"LossPercent", "RttMedian", "RttP95", "Status"}
    dims = {(x["Name"], x["Value"]) for x in found[0]["Dimensions"]}
    assert dims == {("Topology", "demo"), ("Link", "a--b"), ("Gateway", "gw-a-a")}


def test_adhoc_target_is_the_link_and_the_prober_the_gateway() -> None:
    found = datums(report(result("10.0.0.1", [1.0])), "adhoc", "host1")
    dims = {(x["Name"], x["Value"]) for x in found[0]["Dimensions"]}
    assert dims == {("Topology", "adhoc"), ("Link", "10.0.0.1"), ("Gateway", "host1")}


def test_nothing_back_sends_loss_but_no_rtt() -> None:
    names = [d["MetricName"] for d in datums(report(result("10.0.0.1", [None])), "t", "p")]
    assert "LossPercent" in names
    assert "RttMedian" not in names


def test_health_is_published_as_up() -> None:
    res = replace(result("10.0.0.1", [1.0]), health=Health("DOWN"))
    up = [d for d in datums(report(res), "t", "p") if d["MetricName"] == "Up"]
    assert [d["Value"] for d in up] == [0.0]


def test_batches_stay_within_the_limit() -> None:
    sizes = [len(b) for b in batches([{"n": n} for n in range(2500)], size=1000)]
    assert sizes == [1000, 1000, 500]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def put_metric_data(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def test_publish_batches_every_datum() -> None:
    many = report(*(result(f"10.0.{i // 250}.{i % 250}", [1.0]) for i in range(200)))
    client = Recorder()
    calls = publish(client, many, "t", "p")
    assert calls == len(client.calls) == 2
    assert all(c["Namespace"] == "vpnctl" and len(c["MetricData"]) <= 1000 for c in client.calls)
    assert sum(len(c["MetricData"]) for c in client.calls) == len(datums(many, "t", "p"))


def test_aws_refusal_is_an_aws_error() -> None:
    from botocore.exceptions import ClientError

    class Refusing:
        def put_metric_data(self, **_kwargs: Any) -> None:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutMetricData")

    with pytest.raises(AwsError, match="PutMetricData"):
        publish(Refusing(), report(result("10.0.0.1", [1.0])), "t", "p")
