"""A report as people and monitoring systems read it: text, json, nagios, prometheus.

Each renderer returns a string and writes nothing; the shell decides where it goes.

- ``text``: a table for people.
- ``json``: the keys ``spec/interfaces.md`` promises, and more, for scripts and the failover hook.
- ``nagios``: monitoring-plugins output: ``PROBE STATUS - summary | perfdata`` then one line per
  target; perfdata exactly ``'label'=value[UOM];warn;crit;min;max``, ``U`` for a value that
  could not be measured. The exit status is the report's status (0/1/2/3).
- ``prometheus``: the node_exporter textfile format; ratios and seconds, as Prometheus prefers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from vpnctl.probe.health import Health
from vpnctl.probe.measure import Stats
from vpnctl.probe.report import Report, Result
from vpnctl.probe.verdict import Status

LAG_WARN_MS = 10.0  # scheduling lag above this means the prober, not the link, is slow


def _num(value: float, places: int = 3) -> str:
    """A number with at most ``places`` decimals and no trailing zeros: 1.5, 2, 0.125."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --------------------------------------------------------------------------- json


def to_json(report: Report) -> str:
    document = {
        "status": report.status.name,
        "started_at": _iso(report.started_at),
        "topology": report.topology,
        "source": report.source,
        "thresholds": {"warn": asdict(report.warn), "crit": asdict(report.crit)},
        "prober": {"transport": report.transport, "lag_ms": _lag(report)},
        "results": [_result_json(r) for r in report.results],
    }
    return json.dumps(document, indent=2) + "\n"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _lag(report: Report) -> dict[str, float | None] | None:
    lag = report.lag
    return None if lag is None else {k: _round(v) for k, v in asdict(lag).items()}


def _result_json(result: Result) -> dict[str, Any]:
    target, stats = result.target, result.stats
    return {
        "target": str(target.address),
        "host": target.host,
        "link": target.link,
        "gateway": target.gateway,
        **_counts(stats),
        "rtt_ms": None if not stats or not stats.rtt else _rounded(asdict(stats.rtt)),
        "jitter_ms": None if not stats or not stats.jitter else _rounded(asdict(stats.jitter)),
        "status": result.status.name,
        "reason": result.reason,
        "health": _health_json(result.health),
    }


def _counts(stats: Stats | None) -> dict[str, Any]:
    names = ("sent", "received", "late", "duplicates", "errors")
    counts: dict[str, Any] = {n: getattr(stats, n) if stats else 0 for n in names}
    counts["loss_pct"] = _round(stats.loss_pct) if stats and stats.sent else None
    return counts


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _round(v) for k, v in values.items()}


def _health_json(health: Health | None) -> dict[str, Any] | None:
    if health is None:
        return None
    return {
        "state": health.state,
        "consecutive_failures": health.failures,
        "consecutive_successes": health.successes,
        "since": None if health.since is None else _iso(health.since),
    }


# --------------------------------------------------------------------------- text

_COLUMNS = (
    "TARGET",
    "SENT",
    "RECV",
    "LATE",
    "DUP",
    "LOSS%",
    "MIN",
    "MEDIAN",
    "P95",
    "MAX",
    "MDEV",
    "STATUS",
    "HEALTH",
)


def to_text(report: Report) -> str:
    rows = [_COLUMNS, *(_row(r) for r in report.results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.extend(_notes(report))
    return "\n".join(lines) + "\n"


def _row(result: Result) -> tuple[str, ...]:
    s, rtt = result.stats, result.stats.rtt if result.stats else None
    counts = (s.sent, s.received, s.late, s.duplicates) if s else ("-",) * 4
    figures = (rtt.min, rtt.median, rtt.p95, rtt.max) if rtt else ()
    jitter = s.jitter.mdev if s and s.jitter else None
    return (
        result.target.label,
        *(str(c) for c in counts),
        _num(s.loss_pct, 1) if s and s.sent else "-",
        *(_num(f, 2) for f in figures),
        *(("-",) * (4 - len(figures))),
        "-" if jitter is None else _num(jitter, 2),
        result.status.name,
        result.health.state if result.health else "-",
    )


def _notes(report: Report) -> Iterator[str]:
    for result in report.results:
        if result.reason:
            yield f"{result.target.label}: {result.reason}"
    if report.lag is not None and report.lag.p95 > LAG_WARN_MS:
        yield (
            f"note: the prober ran {_num(report.lag.p95, 1)} ms behind its schedule (p95);"
            " this machine is overloaded, the figures may not be the link's"
        )
    yield "RTT in ms; " + (f"socket: {report.transport}" if report.transport else "no socket")


# --------------------------------------------------------------------------- nagios


def to_nagios(report: Report) -> str:
    """The plugin output; exit with ``report.status.value``."""
    counts = {s: sum(1 for r in report.results if r.status is s) for s in Status}
    summary = ", ".join(f"{counts[s]} {s.name.lower()}" for s in Status if counts[s])
    problems = [_problem(r) for r in report.results if r.status is not Status.OK]
    head = f"PROBE {report.status.name} - {_targets(len(report.results))}: {summary or 'none'}"
    if problems:
        head += "; " + "; ".join(problems)
    lines = [f"{head} | {' '.join(_perfdata(report))}"]
    lines.extend(_long(r) for r in report.results)
    return "\n".join(lines) + "\n"


def _targets(n: int) -> str:
    return "1 target" if n == 1 else f"{n} targets"


def _problem(result: Result) -> str:
    return f"{result.target.label} {result.status.name}: {_figures(result)}"


def _long(result: Result) -> str:
    return f"{result.status.name}: {result.target.label}: {_figures(result)}"


def _figures(result: Result) -> str:
    s = result.stats
    if s is None or s.sent == 0:
        return result.reason or "not measured"
    median = f"median {_num(s.rtt.median, 2)} ms" if s.rtt else "no replies"
    extra = f", {s.late} late" if s.late else ""
    return f"loss {_num(s.loss_pct, 1)}%, {median}{extra}"


def _perfdata(report: Report) -> Iterator[str]:
    w, c = report.warn, report.crit
    for r in report.results:
        s = r.stats
        rtt = s.rtt.median if s and s.rtt else None
        loss = s.loss_pct if s and s.sent else None
        yield _perf(f"{r.target.label} rtt", rtt, "ms", w.rtt_ms, c.rtt_ms, 0, None)
        yield _perf(f"{r.target.label} loss", loss, "%", w.loss_pct, c.loss_pct, 0, 100)
    if report.lag is not None:
        yield _perf("probe lag", report.lag.max, "ms", None, None, 0, None)


def _perf(
    label: str,
    value: float | None,
    uom: str,
    warn: float | None,
    crit: float | None,
    lo: float | None,
    hi: float | None,
) -> str:
    """``'label'=value[UOM];warn;crit;min;max``: quotes doubled, '=' is not allowed in labels."""
    safe = label.replace("=", "_").replace("'", "''")
    shown = "U" if value is None else _num(value) + uom
    limits = ";".join("" if x is None else _num(x) for x in (warn, crit, lo, hi))
    return f"'{safe}'={shown};{limits}"


# --------------------------------------------------------------------------- prometheus

_Metric = tuple[str, str, Callable[[Result], list[tuple[dict[str, str], float]]]]


def _one(
    get: Callable[[Stats], float | None],
) -> Callable[[Result], list[tuple[dict[str, str], float]]]:
    def sample(result: Result) -> list[tuple[dict[str, str], float]]:
        value = get(result.stats) if result.stats and result.stats.sent else None
        return [] if value is None else [({}, value)]

    return sample


def _by(
    field: str, label: str, scale: float
) -> Callable[[Result], list[tuple[dict[str, str], float]]]:
    def sample(result: Result) -> list[tuple[dict[str, str], float]]:
        group = getattr(result.stats, field, None) if result.stats else None
        if group is None:
            return []
        return [({label: k}, v * scale) for k, v in asdict(group).items() if v is not None]

    return sample


_METRICS: tuple[_Metric, ...] = (
    ("sent", "Echo requests sent in the last run.", _one(lambda s: s.sent)),
    ("received", "Replies within the timeout in the last run.", _one(lambda s: s.received)),
    ("late", "Replies after the timeout, not counted as lost.", _one(lambda s: s.late)),
    ("duplicates", "Duplicate replies in the last run.", _one(lambda s: s.duplicates)),
    ("loss_ratio", "Echoes with no reply at all, 0 to 1.", _one(lambda s: s.loss_pct / 100)),
    ("rtt_seconds", "Round-trip time by statistic.", _by("rtt", "stat", 1e-3)),
    (
        "jitter_seconds",
        "Jitter: ping's mdev and mean abs diff of consecutive RTTs.",
        _by("jitter", "formula", 1e-3),
    ),
    ("status", "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.", lambda r: [({}, r.status.value)]),
    (
        "up",
        "Health across runs: 1 UP, 0 DOWN.",
        lambda r: [] if r.health is None else [({}, 1.0 if r.health.state == "UP" else 0.0)],
    ),
)


def to_prometheus(report: Report) -> str:
    lines: list[str] = []
    for name, help_text, sample in _METRICS:
        samples = [(r, labels, v) for r in report.results for labels, v in sample(r)]
        if samples:
            lines += _family(f"vpnctl_probe_{name}", help_text)
            lines += [
                _sample(f"vpnctl_probe_{name}", {**_target_labels(r), **extra}, v)
                for r, extra, v in samples
            ]
    lines += _prober_metrics(report)
    return "\n".join(lines) + "\n"


def _prober_metrics(report: Report) -> list[str]:
    lines = _family("vpnctl_probe_last_run_timestamp_seconds", "When the last run started.")
    # a Unix time needs 13 digits for milliseconds: _prom_num's 9 would round it to 10 s
    at = f"{report.started_at:.3f}".rstrip("0").rstrip(".")
    lines.append(f"vpnctl_probe_last_run_timestamp_seconds {at}")
    if report.lag is not None:
        lines += _family("vpnctl_probe_lag_seconds", "How far behind schedule the prober sent.")
        lines += [
            _sample("vpnctl_probe_lag_seconds", {"stat": k}, v / 1000)
            for k, v in asdict(report.lag).items()
        ]
    return lines


def _family(name: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]


def _target_labels(result: Result) -> dict[str, str]:
    t = result.target
    return {"target": str(t.address), "link": t.link or "", "gateway": t.gateway or ""}


def _sample(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {_prom_num(value)}" if inner else f"{name} {_prom_num(value)}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _prom_num(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if float(value).is_integer() else format(value, ".9g")


RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": to_text,
    "json": to_json,
    "nagios": to_nagios,
    "prometheus": to_prometheus,
}
