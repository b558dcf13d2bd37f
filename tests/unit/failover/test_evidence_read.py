"""The evidence read against a fake CloudWatch: batches of at most QUERIES_PER_CALL series,
every page followed, the latest datapoint of each series kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from tests.builders import designed, doc
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions
from vpnctl.failover import evidence as ev
from vpnctl.failover import observe
from vpnctl.failover.bundle import Bundle
from vpnctl.health_contract import GRACE_S, NAMESPACE
from vpnctl.topology import Account, Failover

DESIGN = designed(doc())  # east (us-east-1) and west (us-west-2), AZs a and b
BUNDLE = Bundle(DESIGN, Failover(), {"main": Account("main", "aws")}, "main")
NOW = 1_800_000_000.0


def stamp(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


class FakeCloudWatch:
    """Each request answers in two pages: every series' older point, then its newer one."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def get_metric_data(self, **kw: Any) -> dict[str, Any]:
        self.requests.append(kw)
        ids = [q["Id"] for q in kw["MetricDataQueries"]]
        if "NextToken" not in kw:
            page = [{"Id": i, "Timestamps": [stamp(NOW - 20)], "Values": [1.0]} for i in ids]
            return {"MetricDataResults": page, "NextToken": "more"}
        page = [{"Id": i, "Timestamps": [stamp(NOW - 2)], "Values": [0.0]} for i in ids]
        return {"MetricDataResults": page}


class FakeSessions:
    def __init__(self, cw: FakeCloudWatch) -> None:
        self.cw = cw

    def client(self, account: str, region: str, service: str) -> FakeCloudWatch:
        assert (account, region, service) == ("main", "us-east-1", "cloudwatch")
        return self.cw


def test_the_read_batches_pages_and_keeps_the_latest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observe, "QUERIES_PER_CALL", 3)
    cw = FakeCloudWatch()
    reader = observe._Reader(cast(Sessions, FakeSessions(cw)), BUNDLE, Retry(attempts=1), NOW)
    part = reader.evidence(("main", "us-east-1"))
    wanted = ev.queries(DESIGN, ["gw-east-a", "gw-east-b"])
    assert len(wanted) == 4  # a tunnel and a sibling each
    sizes = [len(r["MetricDataQueries"]) for r in cw.requests]
    assert sizes == [3, 3, 1, 1]  # two batches, each followed to its second page
    first = cw.requests[0]
    assert first["StartTime"] <= NOW - GRACE_S
    assert first["EndTime"] >= NOW
    assert first["ScanBy"] == "TimestampDescending"
    stat = first["MetricDataQueries"][0]["MetricStat"]
    assert (stat["Metric"]["Namespace"], stat["Period"]) == (NAMESPACE, 1)
    found = ev.gather(part.points)
    assert {p.query for p in part.points} == set(wanted)
    assert all(p.reading == ev.Reading(NOW - 2, False) for p in part.points)
    assert found.heard == {"gw-east-a", "gw-east-b"}


def test_a_region_without_gateways_reads_nothing() -> None:
    cw = FakeCloudWatch()
    reader = observe._Reader(cast(Sessions, FakeSessions(cw)), BUNDLE, Retry(attempts=1), NOW)
    assert reader.evidence(("main", "eu-west-1")).points == ()
    assert cw.requests == []
