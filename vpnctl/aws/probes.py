"""The latest probe results of each gateway's tunnels, from CloudWatch in the gateway's region.

Each gateway's agent publishes, in its own region and vpnctl's namespace, ``TunnelUp``
(dimensions Topology, Gateway, Tunnel; ``vpnctl.health_contract``) and ``LossPercent``
(Topology, Link, Gateway; ``vpnctl.probe.cloudwatch``). ``read`` asks one GetMetricData per
account and region for the last ``window_s`` seconds, newest first, and keeps each series'
newest point: the worst of its minute (``Minimum`` of TunnelUp, ``Maximum`` of LossPercent).
A series with no point in the window is None: nothing published, which is not health.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from vpnctl.aws import names
from vpnctl.aws.door import Door
from vpnctl.aws.door.functions import CloudWatch
from vpnctl.aws.intent import Intent
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions
from vpnctl.design import Tunnel
from vpnctl.health_contract import TUNNEL_UP

WINDOW_S = 900
MAX_QUERIES = 500  # GetMetricData's limit of queries per request (CloudWatch API Reference)


@dataclass(frozen=True)
class Latest:
    value: float
    at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class TunnelProbe:
    tunnel: str
    link: str
    up: Latest | None
    loss_pct: Latest | None


Probes = dict[str, tuple[TunnelProbe, ...]]  # gateway -> its tunnels' latest results


def _queries(intent: Intent, gateway: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(tunnel, figure, query) of one gateway's tunnels."""
    topology = intent.topology
    for tunnel in intent.design.tunnels_by_gateway[gateway]:
        up = {"Topology": topology, "Gateway": gateway, "Tunnel": tunnel.name}
        loss = {"Topology": topology, "Link": tunnel.link, "Gateway": gateway}
        yield tunnel.name, "up", _stat(TUNNEL_UP, up, "Minimum")
        yield tunnel.name, "loss", _stat("LossPercent", loss, "Maximum")


def _stat(metric: str, dims: dict[str, str], stat: str) -> dict[str, Any]:
    dimensions = [{"Name": k, "Value": v} for k, v in dims.items()]
    return {
        "Metric": {"Namespace": names.METRIC_NAMESPACE, "MetricName": metric,
                   "Dimensions": dimensions},
        "Period": 60,
        "Stat": stat,
    }  # fmt: skip


def read(
    sessions: Sessions, intent: Intent, retry: Retry, now: Callable[[], dt.datetime]
) -> Probes:
    found: dict[tuple[str, str], Latest | None] = {}
    places = sorted({(g.account, g.region) for g in intent.design.gateways})
    for account, region in places:
        wanted = [
            (g.name, t, figure, q)
            for g in intent.design.gateways
            if (g.account, g.region) == (account, region)
            for t, figure, q in _queries(intent, g.name)
        ]
        what = f"probe metrics of topology {intent.topology}"
        cloudwatch = Door.of(sessions, retry).at(account, region, what).cloudwatch
        for start in range(0, len(wanted), MAX_QUERIES):
            found |= _batch(cloudwatch, wanted[start : start + MAX_QUERIES], now())
    return {g.name: _probes(intent, g.name, found) for g in intent.design.gateways}


def _batch(
    cloudwatch: CloudWatch, batch: list[tuple[str, str, str, dict[str, Any]]], end: dt.datetime
) -> dict[tuple[str, str], Latest | None]:
    queries = [{"Id": f"q{i}", "ReturnData": True, "MetricStat": q}
               for i, (_g, _t, _f, q) in enumerate(batch)]  # fmt: skip
    start = end - dt.timedelta(seconds=WINDOW_S)
    results: dict[str, Latest] = {}
    answer = cloudwatch.metric_data(
        queries, StartTime=start, EndTime=end, ScanBy="TimestampDescending"
    )
    for item in answer:  # newest first, page after page: the first value of a series is latest
        if item.get("Values") and item["Id"] not in results:
            at = item["Timestamps"][0].astimezone(dt.UTC).isoformat(timespec="seconds")
            results[item["Id"]] = Latest(float(item["Values"][0]), at)
    return {(g, f"{t}\0{f}"): results.get(f"q{i}") for i, (g, t, f, _q) in enumerate(batch)}


def _probes(
    intent: Intent, gateway: str, found: dict[tuple[str, str], Latest | None]
) -> tuple[TunnelProbe, ...]:
    tunnels: tuple[Tunnel, ...] = tuple(intent.design.tunnels_by_gateway[gateway])
    return tuple(
        TunnelProbe(
            t.name,
            t.link,
            found.get((gateway, f"{t.name}\0up")),
            found.get((gateway, f"{t.name}\0loss")),
        )
        for t in tunnels
    )
