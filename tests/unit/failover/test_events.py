"""Every event kind the hook handles, read from its real shape; everything else refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vpnctl.errors import EventError
from vpnctl.failover import events

EVENTS = Path(__file__).parents[2] / "events"


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def test_instance_state_change() -> None:
    event = events.parse(load("ec2-state-terminated.json"))
    assert event == events.InstanceStateChanged(
        "us-west-2", "123456789012", "2026-11-26T10:00:00Z", "i-0abcdef1234567890", "terminated"
    )


def test_auto_scaling_launch() -> None:
    event = events.parse(load("asg-launch-successful.json"))
    assert isinstance(event, events.InstanceLaunched)
    assert (event.instance_id, event.group) == ("i-0fedcba9876543210", "sproutling-gw-us-west-2-a")


def test_terminate_lifecycle_action_keeps_its_token() -> None:
    event = events.parse(load("asg-terminate-lifecycle.json"))
    assert isinstance(event, events.InstanceTerminating)
    assert event.token == "87654321-4321-4321-4321-210987654321"
    assert event.hook == "vpnctl-drain"


def test_alarm_from_eventbridge() -> None:
    event = events.parse(load("cloudwatch-alarm.json"))
    assert event == events.AlarmChanged(
        "us-west-2", "123456789012", "2026-11-26T10:03:00Z",
        "vpnctl-sproutling-gw-us-west-2-a", "ALARM", "OK",
    )  # fmt: skip


def test_alarm_wrapped_in_sns() -> None:
    event = events.parse(load("sns-alarm.json"))
    assert isinstance(event, events.AlarmChanged)
    assert (event.alarm, event.state, event.previous) == (
        "vpnctl-sproutling-gw-us-west-2-a", "OK", "ALARM",
    )  # fmt: skip
    assert (event.region, event.account) == ("us-west-2", "123456789012")


def test_scheduled_event_is_a_reconcile() -> None:
    assert isinstance(events.parse(load("scheduled.json")), events.Reconcile)


def test_other_events_are_refused_by_name() -> None:
    with pytest.raises(EventError, match=r"source 'aws\.s3', detail-type 'Object Created'"):
        events.parse(load("s3-object-created.json"))
    assert EventError.exit_code == 2


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "must be a JSON object"),
        ({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"},
         "has no detail"),
        ({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification",
          "detail": {"state": "running"}}, "lacks detail.instance-id"),
        ({"Records": [{"Sns": {"Message": "hello"}}]}, "not JSON"),
        ({"Records": []}, "exactly one record"),
    ],
)  # fmt: skip
def test_malformed_events_say_what_is_missing(raw: object, message: str) -> None:
    with pytest.raises(EventError, match=message):
        events.parse(raw)


def test_the_agents_health_event() -> None:
    event = events.parse(load("agent-health.json"))
    assert event == events.GatewayHealth(
        "ap-southeast-1",
        "123456789012",
        "2026-11-26T10:03:12Z",
        "sproutling",
        "gw-ap-southeast-1-a",
        "i-0a1b2c3d4e5f60718",
        "tunnel",
        "ap-southeast-1-a--us-west-2-a",
        False,
        1795687392.25,
    )
    assert events.subject(event) == (
        "gw-ap-southeast-1-a sees tunnel ap-southeast-1-a--us-west-2-a DOWN"
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("kind", "disk", "detail.kind 'disk'"),
        ("state", "MAYBE", "detail.state 'MAYBE'"),
        ("at", "soon", "lacks detail.at"),
        ("at", True, "lacks detail.at"),
        ("gateway", "", "lacks detail.gateway"),
    ],
)
def test_a_malformed_health_event_is_refused(key: str, value: object, message: str) -> None:
    raw = load("agent-health.json")
    raw["detail"][key] = value
    with pytest.raises(EventError, match=message):
        events.parse(raw)


def test_ready_is_only_ever_up() -> None:
    raw = load("agent-health.json")
    raw["detail"].update(kind="ready", name="digest-1", state="DOWN")
    with pytest.raises(EventError, match=r"detail\.state 'DOWN'"):
        events.parse(raw)
    raw["detail"]["state"] = "UP"
    assert events.subject(events.parse(raw)) == "gw-ap-southeast-1-a sees ready digest-1 UP"


def test_every_sample_has_a_subject() -> None:
    for path in sorted(EVENTS.glob("*.json")):
        if path.name != "s3-object-created.json":
            assert events.subject(events.parse(load(path.name)))
