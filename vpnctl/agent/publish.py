"""What the agent tells its region: figures, UP/DOWN events, and that it is ready.

Names and shapes are the ones the failover hook reads (``vpnctl.health_contract``):

- figures, high-resolution (``StorageResolution=1``), at least every ``PUBLISH_S`` and at once
  on a transition: ``TunnelUp`` {Topology, Gateway, Tunnel} and ``SiblingUp`` {Topology,
  Gateway, Sibling}, 1 or 0, for every watch the health loop has decided; and the probe's own
  figures (``LossPercent``, RTT, ``Up``...) of each tunnel through ``vpnctl.probe.cloudwatch``
  {Topology, Link, Gateway}, which the backstop alarms watch. ``LossPercent`` is pooled over the
  echoes of the last ``LOSS_WINDOW_S``, not one run's five: the alarm takes the ``Maximum``
  over a minute, and the loss of five echoes reads 20% at the first one lost;
- an EventBridge event (``EVENT_SOURCE``, ``EVENT_DETAIL_TYPE``) in the gateway's own region on
  every UP/DOWN transition, and one of kind ``ready`` (its name the config digest) once the
  gateway converged and every tunnel is UP, right after the ``READY_TAG`` tag on its own
  instance says the same.

Every AWS call goes through one ``Door``: ``AwsDoor`` over boto3 clients the CLI makes, or a
fake in tests. A failure is logged and retried (events wait in a bounded queue, with a
backoff); it is never raised to the loop, so publishing can never stop the probes or tunnels.
``Background`` runs the publisher on its own thread, so a slow endpoint cannot delay them
either.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from ipaddress import IPv4Address
from typing import Any, Protocol

from vpnctl import health_contract as contract
from vpnctl.agent.health import Board, Seen, Transition
from vpnctl.aws import door as aws_door
from vpnctl.aws.door.wire import ONCE, BotoWire, Given
from vpnctl.aws.names import NAME_TAG, TOPOLOGY_TAG
from vpnctl.probe import cloudwatch
from vpnctl.probe.report import Report, Result

log = logging.getLogger("vpnctl.agent")

FIGURES_S = contract.PUBLISH_S / 2  # twice per PUBLISH_S: one lost request is not silence
LOSS_WINDOW_S = 60.0
MAX_ENTRIES = 10  # PutEvents takes at most 10 entries a request
MAX_PENDING = 200  # events kept while EventBridge cannot be reached; the oldest go first
BACKOFF_S = (1.0, 2.0, 5.0, 10.0)  # between tries after a failure, the last one repeated

Datum = dict[str, Any]
Entry = dict[str, str]


class Door(Protocol):
    """The AWS calls the agent makes, all in its own account and region."""

    def put_metric_data(self, datums: Sequence[Datum]) -> None: ...

    def put_events(self, entries: Sequence[Entry]) -> Sequence[int]:
        """Send the entries; the indexes of those EventBridge did not take."""
        ...

    def tag_instance(self, instance_id: str, key: str, value: str) -> None: ...

    def find_gateways(self, topology: str, names: Sequence[str]) -> dict[str, IPv4Address]:
        """The private address of the running instance of each gateway named, where found."""
        ...


@dataclass
class AwsDoor:
    """``Door`` over boto3 clients (cloudwatch, events, ec2) of one account and region: each
    call goes through ``vpnctl.aws.door`` once (the agent's own botocore retries, no more)."""

    cloudwatch: Any
    events: Any
    ec2: Any
    account: str
    region: str

    def put_metric_data(self, datums: Sequence[Datum]) -> None:
        door = self._at("CloudWatch PutMetricData", "cloudwatch:PutMetricData").cloudwatch
        for batch in cloudwatch.batches(datums):
            door.put_metric_data(contract.NAMESPACE, batch)

    def put_events(self, entries: Sequence[Entry]) -> Sequence[int]:
        door = self._at("EventBridge PutEvents (default bus)", "events:PutEvents").events
        return door.put_events(entries)

    def tag_instance(self, instance_id: str, key: str, value: str) -> None:
        door = self._at(f"EC2 CreateTags on {instance_id}", "ec2:CreateTags on itself").ec2
        door.create_tags([instance_id], {key: value})

    def find_gateways(self, topology: str, names: Sequence[str]) -> dict[str, IPv4Address]:
        filters = [
            {"Name": f"tag:{TOPOLOGY_TAG}", "Values": [topology]},
            {"Name": f"tag:{NAME_TAG}", "Values": list(names)},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
        door = self._at("EC2 DescribeInstances (sibling gateways)", "ec2:DescribeInstances").ec2
        return newest_addresses(door.instances(filters))

    def _at(self, what: str, allow: str) -> aws_door.At:
        clients = {"cloudwatch": self.cloudwatch, "events": self.events, "ec2": self.ec2}
        wire = BotoWire(Given(clients, self.region), ONCE)
        resource = f"{what} (check the instance role allows {allow})"
        return aws_door.Door(wire).at(self.account, self.region, resource)


def newest_addresses(instances: Sequence[Mapping[str, Any]]) -> dict[str, IPv4Address]:
    """Gateway name -> private address of its most recently launched instance."""
    best: dict[str, tuple[str, IPv4Address]] = {}
    for instance in instances:
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", ())}
        name, address = tags.get(NAME_TAG), instance.get("PrivateIpAddress")
        if not name or not address:
            continue
        launched = str(instance.get("LaunchTime", ""))
        if name not in best or launched > best[name][0]:
            best[name] = (launched, IPv4Address(address))
    return {name: address for name, (_launched, address) in best.items()}


# ---------------------------------------------------------------- what is said


def event(topology: str, gateway: str, instance_id: str, kind: str, name: str, state: str,
          at: float) -> Entry:  # fmt: skip
    detail = {"topology": topology, "gateway": gateway, "instance_id": instance_id,
              "kind": kind, "name": name, "state": state, "at": at}  # fmt: skip
    return {
        "Source": contract.EVENT_SOURCE,
        "DetailType": contract.EVENT_DETAIL_TYPE,
        "Detail": json.dumps(detail, sort_keys=True),
    }


def up_datums(board: Board, topology: str, gateway: str, now: float) -> list[Datum]:
    """TunnelUp / SiblingUp for every decided watch."""
    at = datetime.fromtimestamp(now, UTC)
    found: list[Datum] = []
    for seen in board.values():
        if not seen.decided:
            continue
        tunnel = seen.watch.kind == "tunnel"
        dims = [
            {"Name": "Topology", "Value": topology},
            {"Name": "Gateway", "Value": gateway},
            {"Name": "Tunnel" if tunnel else "Sibling", "Value": seen.watch.name},
        ]
        found.append({
            "MetricName": contract.TUNNEL_UP if tunnel else contract.SIBLING_UP,
            "Dimensions": dims, "Timestamp": at, "Value": 1.0 if seen.up else 0.0,
            "Unit": "None", "StorageResolution": 1,
        })  # fmt: skip
    return found


def probe_datums(report: Report, board: Board, topology: str, gateway: str,
                 now: float) -> list[Datum]:  # fmt: skip
    """The probe's figures of each tunnel, its loss pooled over ``LOSS_WINDOW_S``."""
    by_target = {s.watch.target: s for s in board.values() if s.watch.kind == "tunnel"}
    results = tuple(_pooled(r, by_target[r.target], now) for r in report.results
                    if r.target in by_target and r.target.link is not None)  # fmt: skip
    datums = cloudwatch.datums(replace(report, results=results), topology, gateway)
    return [{**d, "StorageResolution": 1} for d in datums]


def _pooled(result: Result, seen: Seen, now: float) -> Result:
    runs = [r for r in seen.health.runs if r.counted and r.at > now - LOSS_WINDOW_S]
    sent = sum(r.sent for r in runs)
    health = seen.health if seen.decided else None
    if result.stats is None or sent == 0:
        return replace(result, health=health)
    lost = sum(r.sent - r.received for r in runs)
    stats = replace(result.stats, loss_pct=100.0 * lost / sent)
    return replace(result, stats=stats, health=health)


# ---------------------------------------------------------------- the publisher


@dataclass
class Publisher:
    """The health loop's ``Sink`` on AWS: figures on schedule, events at once, ready once."""

    door: Door
    topology: str
    gateway: str
    instance_id: str
    pending: deque[Entry] = field(default_factory=deque)
    _figures_at: float | None = None
    _retry_at: float = 0.0
    _failures: int = 0

    def tick(self, report: Report, board: Board, moved: Sequence[Transition], now: float) -> None:
        for t in moved:
            self._queue(event(self.topology, self.gateway, self.instance_id, t.kind, t.name,
                              t.state, t.at))  # fmt: skip
        self.flush(now)
        if moved or self._figures_at is None or now - self._figures_at >= FIGURES_S:
            self._figures(report, board, now)

    def ready(self, digest: str, now: float) -> bool:
        """Tag the instance ready for ``digest``, then say so with an event."""
        try:
            self.door.tag_instance(self.instance_id, contract.READY_TAG, digest)
        except Exception as exc:
            log.warning("cannot tag %s ready (%s); trying again", self.instance_id, exc)
            return False
        log.info("ready: %s runs %s with every tunnel UP", self.instance_id, digest)
        self._queue(event(self.topology, self.gateway, self.instance_id, "ready", digest, "UP",
                          now))  # fmt: skip
        self.flush(now)
        return True

    def flush(self, now: float) -> None:
        """Send what is pending, unless the last failure said to wait."""
        while self.pending and now >= self._retry_at:
            batch = [self.pending[i] for i in range(min(MAX_ENTRIES, len(self.pending)))]
            try:
                refused = set(self.door.put_events(batch))
            except Exception as exc:
                self._failed(now, f"cannot send {len(self.pending)} event(s): {exc}")
                return
            for _ in batch:
                self.pending.popleft()
            if refused:
                self.pending.extendleft(reversed([e for i, e in enumerate(batch) if i in refused]))
                self._failed(now, f"EventBridge refused {len(refused)} event(s)")
                return
            self._failures = 0

    def _figures(self, report: Report, board: Board, now: float) -> None:
        datums = [*up_datums(board, self.topology, self.gateway, now),
                  *probe_datums(report, board, self.topology, self.gateway, now)]  # fmt: skip
        if not datums:
            return
        self._figures_at = now
        try:
            self.door.put_metric_data(datums)
        except Exception as exc:
            log.warning("cannot publish figures (%s); fresh ones in %.0f s", exc, FIGURES_S)

    def _queue(self, entry: Entry) -> None:
        if len(self.pending) >= MAX_PENDING:
            self.pending.popleft()
            log.warning("more than %d events unsent: the oldest is dropped", MAX_PENDING)
        self.pending.append(entry)

    def _failed(self, now: float, why: str) -> None:
        wait = BACKOFF_S[min(self._failures, len(BACKOFF_S) - 1)]
        self._failures += 1
        self._retry_at = now + wait
        log.warning("%s; trying again in %.0f s", why, wait)


@dataclass
class Silent:
    """The ``Sink`` without AWS (``--no-publish``, a lab without an emulator): logs only."""

    said_ready: list[str] = field(default_factory=list)

    def tick(self, report: Report, board: Board, moved: Sequence[Transition], now: float) -> None:
        return None

    def ready(self, digest: str, now: float) -> bool:
        log.info("ready: %s with every tunnel UP (not published)", digest)
        self.said_ready.append(digest)
        return True


class Background:
    """A ``Sink`` that hands everything to ``publisher`` on a thread of its own, so a slow or
    black-holed endpoint (each call may wait for its timeouts) never delays a probe run.

    Transitions are kept in order and all delivered; of figures only the latest run matters;
    ready is retried here until the tag is set."""

    def __init__(self, publisher: Publisher, clock: Callable[[], float], wait_s: float = 1.0):
        self.publisher = publisher
        self._clock = clock
        self._wait_s = wait_s
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._moved: list[Transition] = []
        self._latest: tuple[Report, Board] | None = None
        self._ready: str | None = None
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="publish", daemon=True)
        self._thread.start()

    def tick(self, report: Report, board: Board, moved: Sequence[Transition], now: float) -> None:
        with self._lock:
            self._moved += moved
            self._latest = (report, board)
        self._wake.set()

    def ready(self, digest: str, now: float) -> bool:
        with self._lock:
            self._ready = digest
        self._wake.set()
        return True

    def drain(self, timeout_s: float) -> bool:
        """Wait (up to ``timeout_s``, real time) until everything handed over was delivered."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                idle = not self._moved and self._latest is None and self._ready is None
            if idle and not self.publisher.pending and not self._busy:
                return True
            self._wake.set()
            time.sleep(0.02)
        return False

    def close(self) -> None:
        """Stop the thread after what it is doing now."""
        self._closed = True
        self._wake.set()

    def _work(self) -> None:
        while not self._closed:
            self._wake.wait(self._wait_s)
            self._wake.clear()
            with self._lock:
                moved, latest, ready = self._moved, self._latest, self._ready
                self._moved, self._latest, self._busy = [], None, True
            try:
                self._deliver(moved, latest, ready, self._clock())
            except Exception:  # a bug here must not end publishing for good
                log.exception("publishing failed; trying again")
            finally:
                self._busy = False

    def _deliver(self, moved: list[Transition], latest: tuple[Report, Board] | None,
                 ready: str | None, now: float) -> None:  # fmt: skip
        if latest is not None:  # set with every tick, so it carries any transitions
            self.publisher.tick(latest[0], latest[1], moved, now)
        else:
            self.publisher.flush(now)
        if ready is not None and self.publisher.ready(ready, now):
            with self._lock:
                if self._ready == ready:
                    self._ready = None
