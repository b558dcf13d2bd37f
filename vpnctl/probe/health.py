"""Whether a link is UP or DOWN, decided across runs rather than from one.

A probe run is a snapshot; cron runs it every minute. One lost run must not move traffic, and a
link that answers once after an outage must not get it back. So the state changes only after a
streak: DOWN after ``consecutive_failures`` failed runs in a row, UP again only after
``recovery_successes`` good runs in a row (the stricter number, so a flapping link stays DOWN).

A run is failed when its status is CRITICAL and good when OK or WARNING (slow but working).
An UNKNOWN run, where the prober could not measure, is recorded but counts neither way.

``step`` is the pure state machine; ``Store`` keeps one ``Health`` per target in a small JSON
file, written atomically under a lock so overlapping cron runs cannot tear it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from vpnctl.probe.atomic import write_atomically
from vpnctl.probe.verdict import Status
from vpnctl.topology import Failover

FORMAT_VERSION = 1
HISTORY = 60  # runs kept per target: an hour at one run a minute


@dataclass(frozen=True)
class Run:
    at: float  # unix time
    status: str
    loss_pct: float | None
    median_ms: float | None


@dataclass(frozen=True)
class Health:
    state: str = "UP"
    failures: int = 0  # consecutive failed runs, up to now
    successes: int = 0  # consecutive good runs, up to now
    since: float | None = None  # when the state last changed
    runs: tuple[Run, ...] = ()


def step(health: Health, run: Run, policy: Failover) -> Health:
    """The health after one more run."""
    runs = (*health.runs, run)[-HISTORY:]
    status = Status[run.status]
    if status is Status.UNKNOWN:
        return replace(health, runs=runs)
    if status is Status.CRITICAL:
        failures = health.failures + 1
        down = health.state == "DOWN" or failures >= policy.consecutive_failures
        return _moved(health, "DOWN" if down else "UP", failures, 0, run.at, runs)
    successes = health.successes + 1
    up = health.state == "UP" or successes >= policy.recovery_successes
    return _moved(health, "UP" if up else "DOWN", 0, successes, run.at, runs)


def _moved(
    old: Health, state: str, failures: int, successes: int, at: float, runs: tuple[Run, ...]
) -> Health:
    since = at if state != old.state else old.since
    return Health(state, failures, successes, since, runs)


class StateError(Exception):
    """The state file exists but is not ours to read; the message says what to do."""


class Store:
    """One Health per target key, in a JSON file that is replaced whole, never edited."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state's lock: a second cron run waits instead of losing an update."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def load(self) -> dict[str, Health]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StateError(
                f"{self.path}: unreadable probe state ({exc}); move it aside"
            ) from None
        return _decode(document, self.path)

    def save(self, healths: Mapping[str, Health]) -> None:
        document = {
            "format_version": FORMAT_VERSION,
            "targets": {key: asdict(h) for key, h in sorted(healths.items())},
        }
        write_atomically(self.path, json.dumps(document, indent=1) + "\n")


def _decode(document: Any, path: Path) -> dict[str, Health]:
    try:
        if document["format_version"] != FORMAT_VERSION:
            raise ValueError(f"format_version {document['format_version']!r}")
        return {key: _health(value) for key, value in document["targets"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateError(f"{path}: not vpnctl probe state ({exc}); move it aside") from None


def _health(value: Mapping[str, Any]) -> Health:
    runs = tuple(Run(**run) for run in value["runs"])
    if value["state"] not in ("UP", "DOWN") or any(
        r.status not in Status.__members__ for r in runs
    ):
        raise ValueError(f"unknown state in {value!r}")
    return Health(
        value["state"], int(value["failures"]), int(value["successes"]), value["since"], runs
    )
