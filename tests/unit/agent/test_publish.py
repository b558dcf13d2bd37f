"""The publisher: contract names and shapes, on schedule, and never a failure raised."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from ipaddress import IPv4Address

from tests.unit.agent.healthfakes import TUNNEL, Clock, Door, Net, config, details, loop
from vpnctl import health_contract as contract
from vpnctl.agent import publish
from vpnctl.topology import Failover, Probe

UP_AFTER = Failover().recovery_successes


def publisher(door: Door) -> publish.Publisher:
    return publish.Publisher(door, "t", "gw-a-a", "i-0abc")


def test_a_transition_is_one_event_in_the_contract_shape() -> None:
    door = Door()
    clock = Clock()
    loop(Net(clock), publisher(door), converged=False).run(runs=UP_AFTER + 3)
    assert [(e["Source"], e["DetailType"]) for e in door.events] == [
        (contract.EVENT_SOURCE, contract.EVENT_DETAIL_TYPE)
    ]
    (detail,) = details(door)
    assert detail == {
        "topology": "t", "gateway": "gw-a-a", "instance_id": "i-0abc", "kind": "tunnel",
        "name": TUNNEL, "state": "UP", "at": detail["at"],
    }  # fmt: skip
    assert isinstance(detail["at"], float)


def test_ready_tags_the_instance_then_says_so_once() -> None:
    door = Door()
    loop(Net(Clock()), publisher(door)).run(runs=30)
    digest = config().digest
    assert door.tags == [("i-0abc", contract.READY_TAG, digest)]
    readies = [d for d in details(door) if d["kind"] == "ready"]
    assert [(d["name"], d["state"]) for d in readies] == [(digest, "UP")]


def test_up_figures_are_high_resolution_with_the_contract_dimensions() -> None:
    door = Door()
    loop(Net(Clock()), publisher(door)).run(runs=UP_AFTER)
    ups = [d for d in door.datums if d["MetricName"] == contract.TUNNEL_UP]
    assert ups, "published on the transition"
    assert ups[-1]["Value"] == 1.0
    assert ups[-1]["StorageResolution"] == 1
    assert {x["Name"]: x["Value"] for x in ups[-1]["Dimensions"]} == {
        "Topology": "t", "Gateway": "gw-a-a", "Tunnel": TUNNEL,
    }  # fmt: skip
    assert all(d["StorageResolution"] == 1 for d in door.datums)
    loss = [d for d in door.datums if d["MetricName"] == "LossPercent"]
    assert {x["Name"]: x["Value"] for x in loss[-1]["Dimensions"]}["Link"] == "a--b"


def test_sibling_figures_name_the_sibling() -> None:
    door = Door()
    found = {"gw-a-b": IPv4Address("10.64.0.20")}
    loop(Net(Clock()), publisher(door), siblings=found).run(runs=UP_AFTER)
    ups = [d for d in door.datums if d["MetricName"] == contract.SIBLING_UP]
    assert {x["Name"]: x["Value"] for x in ups[-1]["Dimensions"]}["Sibling"] == "gw-a-b"
    assert not [d for d in door.datums if d["MetricName"] == "LossPercent"
                and {"Name": "Link", "Value": "gw-a-b"} in d["Dimensions"]]  # fmt: skip


def test_figures_at_least_every_publish_period_not_every_run() -> None:
    door = Door()
    clock = Clock()
    loop(Net(clock, run_s=0.5), publisher(door)).run(runs=UP_AFTER + 120)  # a minute
    stamps = sorted({d["Timestamp"] for d in door.datums if d["MetricName"] == contract.TUNNEL_UP})
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    assert gaps
    assert max(gaps) <= contract.PUBLISH_S
    assert len(stamps) < 120 / 2


def test_loss_is_pooled_over_the_window_not_one_run() -> None:
    """One lost echo of five must not read 20%: the backstop alarm takes the Maximum."""
    door = Door()
    clock = Clock()
    loop(Net(clock, lambda _a, n: n % 50 != 49), publisher(door)).run(runs=120)
    loss = [d["Value"] for d in door.datums if d["MetricName"] == "LossPercent"]
    assert loss
    assert max(loss) < Probe().crit.loss_pct


def test_publishing_failures_never_raise_and_events_wait_for_aws() -> None:
    door = Door(broken=True)
    clock = Clock()
    sink = publisher(door)
    agent = loop(Net(clock), sink)
    agent.run(runs=40)  # UP, then ready: all while AWS cannot be reached
    assert door.events == []
    assert door.tags == []
    assert door.calls > 0
    assert len(sink.pending) == 1  # the UP event; ready waits for its tag
    door.broken = False
    agent.run(runs=20)
    assert [(d["kind"], d["state"]) for d in details(door)] == [("tunnel", "UP"), ("ready", "UP")]
    assert len(door.tags) == 1
    assert not sink.pending


def test_refused_entries_are_sent_again_in_order() -> None:
    door = Door()
    sink = publisher(door)
    for i in range(3):
        sink._queue(publish.event("t", "gw-a-a", "i-0abc", "tunnel", f"x{i}", "UP", float(i)))
    door.refuse = 1
    sink.flush(0.0)
    sink.flush(100.0)
    assert [d["name"] for d in details(door)] == ["x1", "x2", "x0"]
    assert not sink.pending


def test_the_pending_queue_is_bounded() -> None:
    door = Door(broken=True)
    sink = publisher(door)
    for i in range(publish.MAX_PENDING + 5):
        sink._queue(publish.event("t", "g", "i", "tunnel", f"x{i}", "UP", float(i)))
    assert len(sink.pending) == publish.MAX_PENDING


def test_the_newest_running_instance_gives_the_sibling_address() -> None:
    def instance(name: str | None, ip: str, launched: int) -> dict[str, object]:
        tags = [{"Key": "vpnctl:name", "Value": name}] if name else []
        when = datetime.fromtimestamp(1_700_000_000 + launched, UTC)
        return {"Tags": tags, "PrivateIpAddress": ip, "LaunchTime": when}

    found = publish.newest_addresses([
        instance("gw-a-b", "10.64.0.20", 0), instance("gw-a-b", "10.64.0.21", 60),
        instance("gw-a-c", "10.64.0.36", 5), instance(None, "10.64.0.40", 9),
    ])  # fmt: skip
    assert found == {"gw-a-b": IPv4Address("10.64.0.21"), "gw-a-c": IPv4Address("10.64.0.36")}


def test_an_aws_refusal_names_account_region_resource_and_the_permission() -> None:
    import pytest
    from botocore.exceptions import ClientError

    from vpnctl.errors import AwsError

    class Refusing:
        def put_events(self, **_kwargs: object) -> object:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
            raise ClientError(error, "PutEvents")

    door = publish.AwsDoor(None, Refusing(), None, "123456789012", "cn-north-1")
    with pytest.raises(AwsError) as caught:
        door.put_events([publish.event("t", "g", "i", "tunnel", "x", "UP", 0.0)])
    message = str(caught.value)
    assert "account 123456789012, region cn-north-1, EventBridge PutEvents" in message
    assert "events:PutEvents" in message


def test_a_hung_endpoint_never_delays_the_probes() -> None:
    """Every AWS call hangs until released: runs go on at their pace meanwhile, and once AWS
    answers again the transition and ready are delivered, once each."""
    import threading
    import time

    released = threading.Event()

    class Hanging(Door):
        def _call(self) -> None:
            released.wait(10)
            super()._call()

    door = Hanging()
    clock = Clock()
    sink = publish.Background(publisher(door), clock, wait_s=0.01)
    agent = loop(Net(clock), sink)
    started = time.monotonic()
    agent.run(runs=40)
    assert time.monotonic() - started < 2.0  # forty runs, none waiting on AWS
    released.set()
    deadline = time.monotonic() + 5
    while len(door.events) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    sink.close()
    assert [(d["kind"], d["state"]) for d in details(door)] == [("tunnel", "UP"), ("ready", "UP")]
    assert len(door.tags) == 1
