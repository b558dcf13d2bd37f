"""Probe figures to CloudWatch, so alarms (and the failover hook behind them) can see them.

Dimensions are deliberately few and bounded by the topology, never by time or by address:
Topology, Link, Gateway. ``Gateway`` is the gateway that measured: each gateway publishes in its
own region what it sees of its own tunnels, which is what its failover alarm (in that region,
on ``Gateway`` = itself) watches; a gateway cannot publish into another partition. Several
targets behind one link share those dimensions; CloudWatch then keeps their values as one
statistic set, so the ``Maximum`` of ``LossPercent`` is the worst of them. Ad-hoc probes use
the topology name ``adhoc``, the target as the link and the host name as the gateway.

``publish`` takes the boto3 client and calls it through the door (``vpnctl.aws.door``), and is
tested against moto; ``connect`` makes one for the command line. botocore is imported only when
a report is sent, so a probe that only prints never loads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from vpnctl.aws import names
from vpnctl.errors import UsageError
from vpnctl.probe.report import Report, Result

NAMESPACE = names.METRIC_NAMESPACE
MAX_DATUMS = 1000  # PutMetricData's limit per request (and far below its 1 MB payload limit)

Datum = dict[str, Any]


def datums(report: Report, topology: str, prober: str) -> list[Datum]:
    """Every metric datum of a report, stamped with the run's start time."""
    at = datetime.fromtimestamp(report.started_at, UTC)
    found: list[Datum] = []
    for result in report.results:
        dims = _dimensions(result, topology, prober)
        found += [
            {"MetricName": n, "Dimensions": dims, "Timestamp": at, "Value": v, "Unit": u}
            for n, v, u in _figures(result)
        ]
    return found


def _dimensions(result: Result, topology: str, prober: str) -> list[dict[str, str]]:
    target = result.target
    return [
        {"Name": "Topology", "Value": topology},
        {"Name": "Link", "Value": target.link or target.label},
        {"Name": "Gateway", "Value": prober},
    ]


def _figures(result: Result) -> Iterator[tuple[str, float, str]]:
    yield "Status", float(result.status.value), "None"
    if result.health is not None:
        yield "Up", 1.0 if result.health.state == "UP" else 0.0, "None"
    s = result.stats
    if s is None or s.sent == 0:
        return
    yield "LossPercent", s.loss_pct, "Percent"
    yield "LateReplies", float(s.late), "Count"
    yield "DuplicateReplies", float(s.duplicates), "Count"
    if s.rtt is not None:
        yield "RttMedian", s.rtt.median, "Milliseconds"
        yield "RttP95", s.rtt.p95, "Milliseconds"
        yield "RttMax", s.rtt.max, "Milliseconds"
    if s.jitter is not None:
        yield "JitterMdev", s.jitter.mdev, "Milliseconds"


def batches(items: Sequence[Datum], size: int = MAX_DATUMS) -> Iterator[Sequence[Datum]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def connect(endpoint_url: str | None, region: str | None) -> Any:
    """A CloudWatch client for the AWS chain's credentials, or a usage error saying what is
    missing (no region is the usual one on a machine outside EC2)."""
    from vpnctl.aws.door.wire import Refusal, chain_client

    try:
        return chain_client("cloudwatch", region, endpoint_url)
    except Refusal as refusal:
        if refusal.code != "NoRegionError":
            raise UsageError(f"--cloudwatch: {refusal}") from None
        raise UsageError(
            "--cloudwatch needs a region: give --region REGION or set AWS_DEFAULT_REGION"
        ) from None
    except ValueError as exc:  # botocore's "Invalid endpoint"
        raise UsageError(f"--endpoint-url {endpoint_url}: {exc}") from None


def publish(client: Any, report: Report, topology: str, prober: str) -> int:
    """PutMetricData for the whole report, through the door; returns how many requests it
    took. The door is imported here, so a probe that only prints never loads botocore."""
    from vpnctl.aws.door import Door
    from vpnctl.aws.door.wire import ONCE, BotoWire, Given

    region = getattr(getattr(client, "meta", None), "region_name", None) or "?"
    wire = BotoWire(Given({"cloudwatch": client}, region), ONCE)
    what = f"CloudWatch PutMetricData ({NAMESPACE}; the credentials must allow cloudwatch:PutMetricData)"
    cloudwatch = Door(wire).at("default", region, what).cloudwatch
    calls = 0
    for batch in batches(datums(report, topology, prober)):
        cloudwatch.put_metric_data(NAMESPACE, batch)
        calls += 1
    return calls
