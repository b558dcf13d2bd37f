"""Apply's executor and the hook's actor on AWS in memory (``vpnctl.aws.fakedoor``): the real
door, handlers and diff, no emulator; each test runs in milliseconds."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from tests.builders import doc, parse
from tests.unit.aws.intents import intent as intent_of
from vpnctl.aws import changes as c
from vpnctl.aws.applylock import ApplyLock
from vpnctl.aws.artifacts import KeyMaker
from vpnctl.aws.diff import diff
from vpnctl.aws.execute import Executor
from vpnctl.aws.fakedoor import FakeWire, tags_of
from vpnctl.aws.intent import HookPackage, Intent
from vpnctl.aws.live import Live
from vpnctl.aws.observe import observe
from vpnctl.aws.registry import Registry
from vpnctl.aws.retry import NO_WAIT
from vpnctl.aws.scope import Scope
from vpnctl.aws.session import Sessions
from vpnctl.aws.sweep import sweep
from vpnctl.errors import AwsError, LockConflict
from vpnctl.failover import lease
from vpnctl.failover.act import Actor
from vpnctl.failover.assess import Assessment, Complete, FixRecord, Move

TOPOLOGY = doc()
ACCOUNTS = parse(TOPOLOGY).accounts


def intent(hook: bool = False) -> Intent:
    code = b"PK not a zip: Lambda in memory never runs it"
    digest = base64.b64encode(hashlib.sha256(code).digest()).decode()
    package = HookPackage(code, digest, "vpnctl.failover.handler", "python3.12")
    return intent_of(TOPOLOGY, hook=package if hook else None)


def world() -> FakeWire:
    wire = FakeWire({"main": "111111111111", "china": "222222222222"}, {"china": "aws-cn"})
    zone = wire.send(request("main", "us-east-1", "route53", "create_hosted_zone",
                             Name="vpn.example.com", CallerReference="r"))  # fmt: skip
    assert zone["HostedZone"]["Id"]
    wire.log.calls.clear()
    return wire


def request(account: str, region: str, service: str, operation: str, **params: Any) -> Any:
    from vpnctl.aws.door.wire import Request

    return Request(account, region, service, operation, params)


def look(wire: FakeWire, it: Intent) -> Live:
    return observe(Sessions(ACCOUNTS), Scope.of(it), NO_WAIT, wire)


def execute(wire: FakeWire, it: Intent, live: Live, changes: c.ChangeSet) -> None:
    executor = Executor(
        Sessions(ACCOUNTS), it, Registry.seeded(live), KeyMaker(it.design), NO_WAIT,
        sleep=lambda _s: None, zone_id=live.zone.id, wire=wire,
    )  # fmt: skip
    executor.run(changes)


def apply(wire: FakeWire, it: Intent) -> c.ChangeSet:
    live = look(wire, it)
    changes = diff(it, live)
    execute(wire, it, live, changes)
    return changes


def tagged(wire: FakeWire, kind: str) -> list[dict[str, Any]]:
    return [v for v in wire.kind(kind).values() if tags_of(v).get("vpnctl:topology") == "t"]


def test_an_apply_makes_everything_and_the_next_finds_nothing_to_do() -> None:
    wire, it = world(), intent()
    made = apply(wire, it)
    assert made.changes
    assert len(tagged(wire, "vpc")) == len(it.design.vpcs)
    assert len(wire.kind("instance")) == len(it.design.gateways)
    assert wire.log.mutating()
    wire.log.calls.clear()
    assert diff(it, look(wire, it)).changes == ()
    assert wire.log.mutating() == []  # reading found everything: not one write


def test_the_failover_hook_is_deployed_once_and_then_left_alone() -> None:
    wire, it = world(), intent(hook=True)
    apply(wire, it)
    assert len(wire.kind("function")) == 2  # one per region of the topology
    assert wire.kind("rule")
    assert len(wire.kind("alarm")) == len(it.design.gateways)
    groups = wire.kind("asg").values()
    assert all("vpnctl-drain" in g["_hooks"] for g in groups)  # made with the group
    wire.log.calls.clear()
    assert diff(it, look(wire, it)).changes == ()
    assert wire.log.mutating() == []


def test_an_apply_that_failed_halfway_converges_when_run_again() -> None:
    wire, it = world(), intent()
    wire.refuse["create_launch_template"] = "UnauthorizedOperation"
    with pytest.raises(AwsError) as caught:
        apply(wire, it)
    message = str(caught.value)
    assert message.startswith("account main, region us-")
    assert "launch template" in message
    assert "lack permission" in message
    apply(wire, it)
    assert diff(it, look(wire, it)).changes == ()
    assert len(tagged(wire, "vpc")) == len(it.design.vpcs)  # nothing made twice
    assert len(wire.kind("instance")) == len(it.design.gateways)


def test_destroy_removes_what_apply_made_and_a_second_destroy_finds_nothing() -> None:
    wire, it = world(), intent()
    apply(wire, it)
    live = look(wire, it)
    removals = c.ChangeSet(it.topology, tuple(sweep(it, live, everything=True)), "")
    execute(wire, it, live, removals)
    for kind in ("vpc", "subnet", "sg", "table", "lt", "eip", "asg", "parameter"):
        assert tagged(wire, kind) == [], kind
    execute(wire, it, live, removals)  # the same removals again: each is done already
    assert list(sweep(it, look(wire, it), everything=True)) == []


def test_rules_already_there_are_added_one_by_one_and_the_rest_still_are() -> None:
    from vpnctl.aws.door import Door

    wire = world()
    ec2 = wire.send(request("main", "us-east-1", "ec2", "create_vpc", CidrBlock="10.0.0.0/16"))
    vpc = ec2["Vpc"]["VpcId"]
    group = wire.send(request("main", "us-east-1", "ec2", "create_security_group",
                              GroupName="g", Description="d", VpcId=vpc))["GroupId"]  # fmt: skip
    rules = [
        {"IpProtocol": "udp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}
        for p in (1194, 1195)
    ]
    door = Door(wire).at("main", "us-east-1", "security group g").ec2
    door.authorize_ingress(group, rules[:1])
    wire.log.calls.clear()
    door.authorize_ingress(group, rules)
    assert [x.operation for x in wire.log.calls] == ["AuthorizeSecurityGroupIngress"] * 3
    held = wire.kind("sg")[("main", "us-east-1", group)]["IpPermissions"]
    assert sorted(p["FromPort"] for p in held) == [1194, 1195]


# ------------------------------------------------------------------ the hook's actor


def actor_world() -> tuple[FakeWire, str, str]:
    wire = world()
    vpc = wire.send(request("main", "us-east-1", "ec2", "create_vpc", CidrBlock="10.0.0.0/16"))
    table = wire.send(request("main", "us-east-1", "ec2", "create_route_table",
                              VpcId=vpc["Vpc"]["VpcId"]))["RouteTable"]["RouteTableId"]  # fmt: skip
    zone = next(iter(wire.kind("zone")))[1]
    return wire, table, zone


def move(table: str, eni: str, was: str | None) -> Move:
    return Move("main", "us-east-1", table, "rt-east-a", "10.80.0.0/16", "gw-b", eni, was)


def test_the_actor_creates_a_missing_route_and_replaces_one_that_moved() -> None:
    wire, table, _zone = actor_world()
    actor = Actor(Sessions(ACCOUNTS), NO_WAIT, wire)
    actor.run(Assessment(moves=(move(table, "eni-b", None),)))
    actor.run(Assessment(moves=(move(table, "eni-c", "eni-b"),)))
    routes = wire.kind("table")[("main", "us-east-1", table)]["Routes"]
    assert {"DestinationCidrBlock": "10.80.0.0/16", "NetworkInterfaceId": "eni-c"} in routes
    wire.log.calls.clear()
    actor.run(Assessment(moves=(move(table, "eni-d", None),)))  # thought missing, is there
    ops = [x.operation for x in wire.log.calls]
    assert ops == ["CreateRoute", "ReplaceRoute", "DescribeRouteTables"]


def test_a_route_that_does_not_read_back_is_an_error_naming_the_table() -> None:
    wire, table, _zone = actor_world()
    wire.refuse["replace_route"] = "InvalidRoute.NotFound"  # then CreateRoute... is lost:
    wire.ec2_create_route = lambda r, **kw: {"Return": True}  # type: ignore[method-assign]
    with pytest.raises(AwsError, match=f"route table rt-east-a \\({table}\\).*reads back"):
        Actor(Sessions(ACCOUNTS), NO_WAIT, wire).run(Assessment(moves=(move(table, "e", "x"),)))


def test_records_and_a_lifecycle_action_done_twice_are_done() -> None:
    wire, _table, zone = actor_world()
    fix = FixRecord("main", "us-east-1", zone, "gw-b.vpn.example.com", "198.51.100.7", 60, None)
    done = Complete("main", "us-east-1", "asg-gw-b", "drain", "token", "i-1")
    actor = Actor(Sessions(ACCOUNTS), NO_WAIT, wire)
    actor.run(Assessment(records=(fix,)))
    actor.run(Assessment(records=(fix,), complete=done))  # no action waits: ValidationError
    records = wire.kind("zone")[("main", zone)]["_records"]
    assert records[("gw-b.vpn.example.com.", "A")]["ResourceRecords"] == [{"Value": "198.51.100.7"}]


# ------------------------------------------------------------------ the lock and the lease


def test_the_apply_lock_refuses_a_second_apply_and_frees_only_its_own() -> None:
    wire = world()
    first = ApplyLock(Sessions(ACCOUNTS), "main", "t", NO_WAIT, wire=wire)
    held = first.acquire("ci 1")
    with pytest.raises(LockConflict, match="being applied by ci 1"):
        ApplyLock(Sessions(ACCOUNTS), "main", "t", NO_WAIT, wire=wire).acquire("ci 2")
    first.release(type(held)("ci 1", held.since, "not-this-run"))  # not ours: stays
    assert first.holder() == held
    first.release(held)
    assert first.holder() is None


def test_a_lease_is_taken_again_once_it_expired() -> None:
    wire = world()
    now = [1000.0]

    def make() -> lease.Lease:
        return lease.Lease(Sessions(ACCOUNTS), "main", "t", NO_WAIT, lambda _s: None,
                           lambda: now[0], ttl_s=90.0, wait_s=0.0, wire=wire)  # fmt: skip

    make().acquire()  # the table is made on first use
    with pytest.raises(LockConflict):
        make().acquire()
    now[0] += 91.0
    assert make().acquire()


def test_a_route_table_token_seen_before_gives_the_same_table() -> None:
    """CreateRouteTable's ClientToken makes the request idempotent ("Unique, case-sensitive
    identifier that you provide to ensure the idempotency of the request", Amazon EC2 API
    Reference, CreateRouteTable). moto ignores it, so the contract test cannot hold the fake
    to it; the fake keeps AWS's rule."""
    from vpnctl.aws.door import Door

    wire = world()
    ec2 = Door(wire).at("main", "us-east-1", "route table").ec2
    vpc = ec2.create_vpc("10.0.0.0/16", {})
    assert ec2.create_route_table(vpc, "token", {}) == ec2.create_route_table(vpc, "token", {})
    assert ec2.create_route_table(vpc, "other", {}) != ec2.create_route_table(vpc, "token", {})
