"""The events the failover hook accepts, read from their real AWS shapes into typed values.

    EventBridge "EC2 Instance State-change Notification"      -> InstanceStateChanged
    EventBridge "EC2 Instance Launch Successful" (Auto Scaling) -> InstanceLaunched
    EventBridge "EC2 Instance-terminate Lifecycle Action"      -> InstanceTerminating
    EventBridge "CloudWatch Alarm State Change"                -> AlarmChanged
    SNS notification wrapping a CloudWatch alarm message       -> AlarmChanged
    EventBridge "Scheduled Event"                              -> Reconcile
    EventBridge "vpnctl gateway health" (source vpnctl.agent)  -> GatewayHealth

The last is the gateway agent's own custom event (``vpnctl.health_contract``): it sends one
on every UP/DOWN transition of a tunnel or sibling it watches, and once when it is ready.

Anything else raises EventError (exit status 2 from the CLI), before anything is read or
changed. ``parse`` is pure: it looks only at the event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, assert_never

from vpnctl.errors import EventError
from vpnctl.health_contract import EVENT_DETAIL_TYPE, EVENT_SOURCE


@dataclass(frozen=True)
class Event:
    region: str | None
    account: str | None
    time: str | None


@dataclass(frozen=True)
class InstanceStateChanged(Event):
    instance_id: str
    state: str  # pending, running, stopping, stopped, shutting-down, terminated


@dataclass(frozen=True)
class InstanceLaunched(Event):
    instance_id: str
    group: str  # the Auto Scaling group


@dataclass(frozen=True)
class InstanceTerminating(Event):
    instance_id: str
    group: str
    hook: str
    token: str  # completes the lifecycle action once routes moved away


@dataclass(frozen=True)
class AlarmChanged(Event):
    alarm: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    previous: str | None


@dataclass(frozen=True)
class Reconcile(Event):
    """A periodic run: look at everything and put every route right."""


HealthKind = Literal["tunnel", "sibling", "ready"]
KINDS: tuple[HealthKind, ...] = ("tunnel", "sibling", "ready")
_KIND: dict[str, HealthKind] = {k: k for k in KINDS}


@dataclass(frozen=True)
class GatewayHealth(Event):
    """What a gateway's agent saw: a tunnel or a sibling go UP or DOWN, or itself become ready."""

    topology: str
    gateway: str  # the gateway that saw it
    instance_id: str  # its instance
    kind: HealthKind
    name: str  # the tunnel, the sibling gateway, or (ready) the config digest it runs
    up: bool
    at: float  # unix time of the measurement


AnyEvent = (
    InstanceStateChanged
    | InstanceLaunched
    | InstanceTerminating
    | AlarmChanged
    | Reconcile
    | GatewayHealth
)


def subject(event: AnyEvent) -> str:
    """What the event is about, in a few words (the hook's log lines carry it)."""
    match event:
        case InstanceStateChanged():
            return f"instance {event.instance_id} {event.state}"
        case InstanceLaunched():
            return f"instance {event.instance_id} launched in {event.group}"
        case InstanceTerminating():
            return f"instance {event.instance_id} terminating in {event.group}"
        case AlarmChanged():
            return f"alarm {event.alarm} {event.state}"
        case Reconcile():
            return "every route"
        case GatewayHealth():
            state = "UP" if event.up else "DOWN"
            return f"{event.gateway} sees {event.kind} {event.name} {state}"
        case _:
            assert_never(event)


def parse(raw: Any) -> AnyEvent:
    """The typed event for ``raw``, or EventError saying why it is refused."""
    if not isinstance(raw, Mapping):
        raise EventError(f"an event must be a JSON object, not {type(raw).__name__}")
    if "Records" in raw:
        return _sns(raw)
    kind, source = str(raw.get("detail-type")), str(raw.get("source"))
    reader = _READERS.get((source, kind))
    if reader is None:
        raise EventError(
            f"unhandled event (source {source!r}, detail-type {kind!r}); the hook handles EC2 "
            "state changes, Auto Scaling launches and terminate lifecycle actions, CloudWatch "
            "alarm state changes (direct or through SNS), scheduled events and the gateway "
            "agent's health events"
        )
    detail = raw.get("detail")
    if not isinstance(detail, Mapping):
        raise EventError(f"{kind} event has no detail object")
    base = (raw.get("region"), raw.get("account"), raw.get("time"))
    return reader(base, detail, kind)


def _need(detail: Mapping[str, Any], key: str, kind: str) -> str:
    value = detail.get(key)
    if not isinstance(value, str) or not value:
        raise EventError(f"{kind} event lacks detail.{key}")
    return value


Base = tuple[str | None, str | None, str | None]


def _state_change(base: Base, d: Mapping[str, Any], kind: str) -> AnyEvent:
    return InstanceStateChanged(*base, _need(d, "instance-id", kind), _need(d, "state", kind))


def _launched(base: Base, d: Mapping[str, Any], kind: str) -> AnyEvent:
    return InstanceLaunched(
        *base, _need(d, "EC2InstanceId", kind), _need(d, "AutoScalingGroupName", kind)
    )


def _terminating(base: Base, d: Mapping[str, Any], kind: str) -> AnyEvent:
    return InstanceTerminating(
        *base,
        _need(d, "EC2InstanceId", kind),
        _need(d, "AutoScalingGroupName", kind),
        _need(d, "LifecycleHookName", kind),
        _need(d, "LifecycleActionToken", kind),
    )


def _alarm(base: Base, d: Mapping[str, Any], kind: str) -> AnyEvent:
    state = d.get("state")
    previous = d.get("previousState")
    if not isinstance(state, Mapping):
        raise EventError(f"{kind} event lacks detail.state")
    return AlarmChanged(
        *base,
        _need(d, "alarmName", kind),
        _need(state, "value", kind),
        previous.get("value") if isinstance(previous, Mapping) else None,
    )


def _scheduled(base: Base, d: Mapping[str, Any], kind: str) -> AnyEvent:
    return Reconcile(*base)


def _health(base: Base, d: Mapping[str, Any], kind: str) -> AnyEvent:
    what = _KIND.get(_need(d, "kind", kind))
    if what is None:
        raise EventError(
            f"{kind} event has detail.kind {d['kind']!r}; expected one of {', '.join(KINDS)}"
        )
    state = _need(d, "state", kind)
    if state not in ("UP", "DOWN") or (what == "ready" and state != "UP"):
        raise EventError(f"{kind} event has detail.state {state!r}; expected UP or DOWN")
    at = d.get("at")
    if isinstance(at, bool) or not isinstance(at, int | float):
        raise EventError(f"{kind} event lacks detail.at (unix time)")
    return GatewayHealth(
        *base,
        _need(d, "topology", kind),
        _need(d, "gateway", kind),
        _need(d, "instance_id", kind),
        what,
        _need(d, "name", kind),
        state == "UP",
        float(at),
    )


_READERS: dict[tuple[str, str], Callable[[Base, Mapping[str, Any], str], AnyEvent]] = {
    ("aws.ec2", "EC2 Instance State-change Notification"): _state_change,
    ("aws.autoscaling", "EC2 Instance Launch Successful"): _launched,
    ("aws.autoscaling", "EC2 Instance-terminate Lifecycle Action"): _terminating,
    ("aws.cloudwatch", "CloudWatch Alarm State Change"): _alarm,
    ("aws.events", "Scheduled Event"): _scheduled,
    (EVENT_SOURCE, EVENT_DETAIL_TYPE): _health,
}


def _sns(raw: Mapping[str, Any]) -> AnyEvent:
    """A CloudWatch alarm notification delivered through SNS (the Message is a JSON string)."""
    records = raw.get("Records")
    if not isinstance(records, list) or len(records) != 1:
        raise EventError("an SNS event must carry exactly one record")
    sns = records[0].get("Sns") if isinstance(records[0], Mapping) else None
    if not isinstance(sns, Mapping) or not isinstance(sns.get("Message"), str):
        raise EventError("the SNS record has no Sns.Message")
    try:
        message = json.loads(sns["Message"])
    except ValueError:
        raise EventError("the SNS message is not a CloudWatch alarm (not JSON)") from None
    if not isinstance(message, Mapping) or "AlarmName" not in message:
        raise EventError("the SNS message is not a CloudWatch alarm (no AlarmName)")
    kind = "SNS alarm"
    arn = str(message.get("AlarmArn") or sns.get("TopicArn") or "")
    parts = arn.split(":")
    region = parts[3] if len(parts) > 4 else None
    account = str(message.get("AWSAccountId") or (parts[4] if len(parts) > 4 else "")) or None
    return AlarmChanged(
        region,
        account,
        message.get("StateChangeTime"),
        _need(message, "AlarmName", kind),
        _need(message, "NewStateValue", kind),
        message.get("OldStateValue"),
    )
