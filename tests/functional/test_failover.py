"""The failover hook against a moto server: china-hub applied, then each event kind, for real.

Each test builds the event from ``tests/events/*.json`` with the live ids substituted, runs the
hook through ``vpnctl failover`` (or the Lambda handler), checks route tables, instances,
records and the lifecycle action, and runs it again to see the second run change nothing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.functional.conftest import ROOT, Aws, fast
from tests.functional.reconcile import reconcile, run_event
from vpnctl import pipeline
from vpnctl.aws.factory import Factory
from vpnctl.aws.session import Sessions
from vpnctl.cli import cli
from vpnctl.cli.apply import apply
from vpnctl.failover import hook
from vpnctl.failover.bundle import Bundle
from vpnctl.failover.events import parse
from vpnctl.health_contract import NAMESPACE, READY_TAG, SIBLING_UP, TUNNEL_UP

TAG = [{"Name": "tag:vpnctl:topology", "Values": ["sproutling"]}]
REGIONS = {"us-west-2": "global", "ap-southeast-1": "global", "cn-north-1": "china"}
MUTATING_HOOK_SERVICES = ("dynamodb",)  # the lease is written only when there is work


@pytest.fixture
def completed(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """moto lacks CompleteLifecycleAction: teach its server the call, recording what it got.

    As AWS does, a completed action lets the instance proceed (``Terminating:Proceed``)."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import EmptyResult

    seen: list[dict[str, Any]] = []

    def complete_lifecycle_action(self: Any) -> Any:
        params = {k: self._get_param(k) for k in ("AutoScalingGroupName", "InstanceId",
                                                  "LifecycleHookName", "LifecycleActionResult")}  # fmt: skip
        seen.append(params)
        group = autoscaling_backends[self.current_account][self.region].autoscaling_groups[
            params["AutoScalingGroupName"]
        ]
        for state in group.instance_states:
            if state.instance.id == params["InstanceId"]:
                state.lifecycle_state = "Terminating:Proceed"
        return EmptyResult()

    monkeypatch.setattr(
        AutoScalingResponse, "complete_lifecycle_action", complete_lifecycle_action, raising=False
    )
    return seen


@pytest.fixture
def hub(aws: Aws) -> Hub:
    """china-hub applied, and each gateway as its boot leaves it: its Elastic IP on it and its
    source/destination check off (here the hook's reconcile does that; no boot runs on moto)."""
    path = aws.topology("china-hub")
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output
    reconcile(aws, path)
    return Hub(aws, path)


class Hub:
    def __init__(self, aws: Aws, path: Path) -> None:
        self.aws = aws
        self.path = path
        self.clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str) -> Any:
        if (service, region) not in self.clients:
            self.clients[(service, region)] = self.aws.client(service, region)
        return self.clients[(service, region)]

    def instances(self) -> dict[str, dict[str, Any]]:
        """Gateway -> its live instance (as EC2 describes it)."""
        found = {}
        for region in REGIONS:
            ec2 = self.client("ec2", region)
            for r in ec2.describe_instances(Filters=TAG)["Reservations"]:
                for i in r["Instances"]:
                    if i["State"]["Name"] in ("pending", "running"):
                        found[_tag(i, "vpnctl:name")] = i
        return found

    def tables(self) -> dict[str, set[str]]:
        """Routing table -> the gateways its routes use."""
        enis = {
            i["NetworkInterfaces"][0]["NetworkInterfaceId"]: g for g, i in self.instances().items()
        }
        found = {}
        for region in REGIONS:
            for t in self.client("ec2", region).describe_route_tables(Filters=TAG)["RouteTables"]:
                used = {enis.get(r["NetworkInterfaceId"], r["NetworkInterfaceId"])
                        for r in t["Routes"] if r.get("NetworkInterfaceId")}  # fmt: skip
                if used:
                    found[_tag(t, "vpnctl:name")] = used
        return found

    def routes(self) -> dict[tuple[str, str], str]:
        """(routing table, destination) -> the gateway that route uses."""
        enis = {
            i["NetworkInterfaces"][0]["NetworkInterfaceId"]: g for g, i in self.instances().items()
        }
        return {
            (_tag(t, "vpnctl:name"), r["DestinationCidrBlock"]): enis.get(
                r["NetworkInterfaceId"], r["NetworkInterfaceId"]
            )
            for region in REGIONS
            for t in self.client("ec2", region).describe_route_tables(Filters=TAG)["RouteTables"]
            for r in t["Routes"]
            if r.get("NetworkInterfaceId")
        }

    def event(self, sample: str, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(
            (ROOT / "tests" / "events" / f"{sample}.json").read_text()
        )
        for key, value in fields.items():
            if key in ("region", "account"):
                event[key] = value
            else:
                event["detail"][key] = value
        return event

    def hook(self, event: dict[str, Any], factory: Factory | None = None) -> tuple[Result, Factory]:
        return run_event(self.aws, self.path, event, factory)

    def terminate(self, gateway: str) -> str:
        """Its instance dies, and (as on AWS for the next minutes) no replacement runs yet."""
        instance = self.instances()[gateway]
        region = instance["Placement"]["AvailabilityZone"][:-1]
        group = f"sproutling-{gateway}"
        asg = self.client("autoscaling", region)
        asg.update_auto_scaling_group(AutoScalingGroupName=group, MinSize=0)
        asg.detach_instances(
            AutoScalingGroupName=group,
            InstanceIds=[instance["InstanceId"]],
            ShouldDecrementDesiredCapacity=True,
        )
        self.client("ec2", region).terminate_instances(InstanceIds=[instance["InstanceId"]])
        return str(instance["InstanceId"])


def _tag(item: dict[str, Any], key: str) -> str:
    return str(next(t["Value"] for t in item.get("Tags", []) if t["Key"] == key))


def summary(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def mutations(factory: Factory) -> list[str]:
    return [c.operation for c in factory.log.mutating(except_services=MUTATING_HOOK_SERVICES)]


PREFERRED = {
    "rt-us-west-2-a": {"gw-us-west-2-a"},
    "rt-us-west-2-b": {"gw-us-west-2-b"},
    "rt-ap-southeast-1-a": {"gw-ap-southeast-1-a"},
    "rt-ap-southeast-1-b": {"gw-ap-southeast-1-b"},
    "rt-cn-north-1-a": {"gw-cn-north-1-a"},
    "rt-cn-north-1-b": {"gw-cn-north-1-b"},
}
# gw-us-west-2-a dead: the AZ-a tables whose path it breaks go to AZ b; the hub's AZ-a table
# has a route per spoke, and only its route to us-west-2 moves
US_WEST_2_A_LOST = {
    **PREFERRED,
    "rt-us-west-2-a": {"gw-us-west-2-b"},
    "rt-ap-southeast-1-a": {"gw-ap-southeast-1-a", "gw-ap-southeast-1-b"},
    "rt-cn-north-1-a": {"gw-cn-north-1-b"},
}


def test_applied_tables_use_their_own_az(hub: Hub) -> None:
    assert hub.tables() == PREFERRED


def test_terminated_gateway_moves_every_table_whose_path_it_breaks(hub: Hub) -> None:
    instance = hub.terminate("gw-us-west-2-a")
    event = hub.event("ec2-state-terminated", **{"instance-id": instance}, region="us-west-2")
    result, factory = hub.hook(event)
    found = summary(result)
    # us-west-2-a is gone; ap-southeast-1-a lost its tunnel to it; cn-north-1-a's transit
    # path to us-west-2 ran through ap-southeast-1-a: those routes go to AZ b. The hub's route
    # to cn-north-1 stays on ap-southeast-1-a, whose tunnel to cn-north-1-a is up.
    assert hub.tables() == US_WEST_2_A_LOST
    hub_a = {d: g for (t, d), g in hub.routes().items() if t == "rt-ap-southeast-1-a"}
    assert hub_a == {"10.64.0.0/14": "gw-ap-southeast-1-b", "10.68.0.0/14": "gw-ap-southeast-1-a"}
    assert sorted(mutations(factory)) == ["ReplaceRoute"] * 3
    assert {c["table"] for c in found["changes"]} == {
        "rt-us-west-2-a",
        "rt-ap-southeast-1-a",
        "rt-cn-north-1-a",
    }
    assert "terminated" in next(
        d["reason"] for d in found["decisions"] if d["table"] == "rt-us-west-2-a"
    )
    again, factory = hub.hook(event)
    assert summary(again)["changes"] == []
    assert factory.log.mutating() == []


def test_each_decision_is_one_json_line(hub: Hub) -> None:
    result, _ = hub.hook(hub.event("scheduled"))
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert {line["table"] for line in lines} == set(PREFERRED)
    assert all({"seen", "chosen", "reason", "changed"} <= set(line) for line in lines)


def test_terminate_lifecycle_moves_routes_before_completing(
    hub: Hub, completed: list[dict[str, Any]]
) -> None:
    instance = hub.instances()["gw-us-west-2-a"]["InstanceId"]
    event = hub.event(
        "asg-terminate-lifecycle",
        EC2InstanceId=instance,
        AutoScalingGroupName="sproutling-gw-us-west-2-a",
    )
    result, factory = hub.hook(event)
    summary(result)
    assert hub.tables()["rt-us-west-2-a"] == {"gw-us-west-2-b"}
    operations = mutations(factory)
    assert operations[-1] == "CompleteLifecycleAction"
    assert "ReplaceRoute" in operations[:-1]
    assert completed == [
        {
            "AutoScalingGroupName": "sproutling-gw-us-west-2-a",
            "InstanceId": instance,
            "LifecycleHookName": "vpnctl-drain",
            "LifecycleActionResult": "CONTINUE",
        }
    ]
    _, factory = hub.hook(event)
    assert factory.log.mutating() == []
    assert len(completed) == 1


@pytest.mark.parametrize("sample", ["cloudwatch-alarm", "sns-alarm"])
def test_alarm_moves_tables_off_the_gateway_and_back_only_with_failback(
    hub: Hub, sample: str
) -> None:
    cw = hub.client("cloudwatch", "us-west-2")
    name = "vpnctl-sproutling-gw-us-west-2-a"  # apply made it
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="probe loss")
    alarm = hub.event("cloudwatch-alarm", alarmName=name)
    _, factory = hub.hook(alarm)
    assert hub.tables()["rt-us-west-2-a"] == {"gw-us-west-2-b"}
    assert "ReplaceRoute" in mutations(factory)
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="probe fine")
    ok = hub.event(sample) if sample == "sns-alarm" else hub.event(sample, state={"value": "OK"})
    result, factory = hub.hook(ok)
    summary(result)
    assert hub.tables()["rt-us-west-2-a"] == {"gw-us-west-2-b"}  # failback is off
    assert factory.log.mutating() == []


def test_apply_leaves_address_and_check_to_the_gateway_and_the_hook_reconciles_both(
    aws: Aws,
) -> None:
    path = aws.topology("china-hub")
    applying = fast()
    assert aws.run(apply, str(path), "--yes", factory=applying).exit_code == 0
    called = {c.operation for c in applying.log.calls}
    assert not called & {"AssociateAddress", "ModifyInstanceAttribute"}
    hub = Hub(aws, path)
    assert all(i["SourceDestCheck"] for i in hub.instances().values())  # as launched
    factory = reconcile(aws, path)
    assert sorted(mutations(factory)) == ["AssociateAddress"] * 6 + ["ModifyInstanceAttribute"] * 6
    now = hub.instances()
    assert len(now) == 6
    for region in REGIONS:
        for a in hub.client("ec2", region).describe_addresses(Filters=TAG)["Addresses"]:
            gateway = now[_tag(a, "vpnctl:name")]
            assert a.get("InstanceId") == gateway["InstanceId"]
            assert gateway["SourceDestCheck"] is False
    assert reconcile(aws, path).log.mutating() == []


def test_launched_instance_gets_its_address_check_and_name(hub: Hub) -> None:
    instance = hub.instances()["gw-us-west-2-a"]
    ec2 = hub.client("ec2", "us-west-2")
    ec2.modify_instance_attribute(
        InstanceId=instance["InstanceId"], SourceDestCheck={"Value": True}
    )
    address = ec2.describe_addresses(Filters=TAG)["Addresses"]
    mine = next(a for a in address if _tag(a, "vpnctl:name") == "gw-us-west-2-a")
    ec2.disassociate_address(AssociationId=mine["AssociationId"])
    _upsert(hub.aws, "gw-us-west-2-a.vpn.example.com", "192.0.2.9")
    event = hub.event(
        "asg-launch-successful",
        EC2InstanceId=instance["InstanceId"],
        AutoScalingGroupName="sproutling-gw-us-west-2-a",
    )
    _, factory = hub.hook(event)
    assert sorted(mutations(factory)) == [
        "AssociateAddress",
        "ChangeResourceRecordSets",
        "ModifyInstanceAttribute",
    ]
    now = hub.instances()["gw-us-west-2-a"]
    assert now["SourceDestCheck"] is False
    assert now.get("PublicIpAddress") == mine["PublicIp"]
    assert _records(hub.aws)["gw-us-west-2-a.vpn.example.com."] == [mine["PublicIp"]]
    _, factory = hub.hook(event)
    assert factory.log.mutating() == []


def test_reconcile_puts_a_route_to_a_dead_instance_right(hub: Hub) -> None:
    table = next(
        t
        for t in hub.client("ec2", "us-west-2").describe_route_tables(Filters=TAG)["RouteTables"]
        if _tag(t, "vpnctl:name") == "rt-us-west-2-b"
    )
    route = next(r for r in table["Routes"] if r.get("NetworkInterfaceId"))
    ec2 = hub.client("ec2", "us-west-2")
    subnet = ec2.describe_subnets(Filters=TAG)["Subnets"][0]["SubnetId"]
    stray = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]
    ec2.replace_route(
        RouteTableId=table["RouteTableId"],
        DestinationCidrBlock=route["DestinationCidrBlock"],
        NetworkInterfaceId=stray["NetworkInterfaceId"],
    )
    _, factory = hub.hook(hub.event("scheduled"))
    assert hub.tables() == PREFERRED
    assert mutations(factory) == ["ReplaceRoute"]
    _, factory = hub.hook(hub.event("scheduled"))
    assert factory.log.mutating() == []


def test_no_healthy_gateway_leaves_the_route_alone(hub: Hub) -> None:
    hub.terminate("gw-us-west-2-a")
    hub.terminate("gw-us-west-2-b")
    result, factory = hub.hook(hub.event("scheduled"))
    found = summary(result)
    decision = next(d for d in found["decisions"] if d["table"] == "rt-us-west-2-a")
    assert decision["chosen"] is None
    assert "no usable gateway" in decision["reason"]
    assert "ReplaceRoute" not in [c.operation for c in factory.log.calls if c.region == "us-west-2"]


def test_refused_event_reads_and_changes_nothing(hub: Hub) -> None:
    result, factory = hub.hook(hub.event("s3-object-created"))
    assert result.exit_code == 2
    assert "unhandled event" in result.output
    assert factory.log.calls == []


def test_an_instance_of_no_gateway_is_ignored(hub: Hub) -> None:
    event = hub.event("ec2-state-terminated", **{"instance-id": "i-0123456789abcdef0"})
    result, factory = hub.hook(event)
    assert "is not a gateway" in summary(result)["ignored"]
    assert factory.log.mutating() == []


def test_two_hooks_at_once_leave_no_table_on_the_dead_gateway(hub: Hub) -> None:
    instance = hub.terminate("gw-us-west-2-a")
    event = parse(hub.event("ec2-state-terminated", **{"instance-id": instance}))
    planned = pipeline.plan(hub.path)
    bundle = Bundle.from_plan(planned)
    results: list[dict[str, Any]] = []

    def one() -> None:
        sessions = Sessions(planned.topology.accounts, hub.aws.url)
        env = hook.Env(
            sessions, frozenset(bundle.accounts), sleep=lambda _s: None, say=lambda _line: None
        )
        results.append(hook.run(event, bundle, env))

    threads = [threading.Thread(target=one) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    assert hub.tables() == US_WEST_2_A_LOST
    moved = [c for r in results for c in r["changes"]]
    assert len(moved) == 3  # one hook moved them, the other found nothing left to do


def test_lambda_handler_sees_only_its_own_account(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vpnctl.failover

    bundle = hub.aws.home / "bundle.json"
    bundle.write_text(Bundle.from_plan(pipeline.plan(hub.path)).to_json())
    monkeypatch.setenv("VPNCTL_BUNDLE", str(bundle))
    monkeypatch.setenv("VPNCTL_ACCOUNT", "global")
    monkeypatch.setenv("VPNCTL_ENDPOINT_URL", hub.aws.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    instance = hub.terminate("gw-us-west-2-a")
    event = hub.event("ec2-state-terminated", **{"instance-id": instance})
    found = vpnctl.failover.handler(event, None)
    json.dumps(found)
    assert found["scope"] == ["global/ap-southeast-1", "global/us-west-2"]
    assert set(found["unobserved"]) == {"gw-cn-north-1-a", "gw-cn-north-1-b"}
    # China's tables are its own hook's business; this one moved the global account's.
    assert {c["table"] for c in found["changes"]} == {
        "rt-us-west-2-a",
        "rt-ap-southeast-1-a",
    }


def test_package_embeds_the_design(hub: Hub) -> None:
    import io
    import zipfile

    out = hub.aws.home / "hook.zip"
    result = CliRunner().invoke(cli, ["failover", "package", str(hub.path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = set(zipfile.ZipFile(io.BytesIO(out.read_bytes())).namelist())
    assert {"vpnctl/failover/bundle.json", "vpnctl/failover/__init__.py"} <= names
    assert not any(n.endswith(".so") or n.startswith("boto") for n in names)


def _upsert(aws: Aws, name: str, ip: str) -> None:
    r53 = aws.client("route53", "us-east-1")
    zone_id = r53.list_hosted_zones_by_name(DNSName="vpn.example.com.")["HostedZones"][0]["Id"]
    record = {"Name": name, "Type": "A", "TTL": 30, "ResourceRecords": [{"Value": ip}]}
    r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},
    )


def _records(aws: Aws) -> dict[str, list[str]]:
    r53 = aws.client("route53", "us-east-1")
    zone_id = r53.list_hosted_zones_by_name(DNSName="vpn.example.com.")["HostedZones"][0]["Id"]
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {s["Name"]: [r["Value"] for r in s.get("ResourceRecords", [])] for s in sets}


def test_apply_deploys_the_hook_in_every_region_and_destroy_removes_it(hub: Hub) -> None:
    from vpnctl.cli.destroy import destroy

    for region, account in REGIONS.items():
        function = hub.client("lambda", region).get_function(
            FunctionName="vpnctl-sproutling-failover"
        )["Configuration"]
        assert function["Handler"] == "vpnctl.failover.handler"
        assert function["Environment"]["Variables"] == {"VPNCTL_ACCOUNT": account}
        events = hub.client("events", region)
        rules = events.list_rules(NamePrefix="vpnctl-sproutling-failover-")["Rules"]
        assert len(rules) == 5
        for rule in rules:
            targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            assert [t["Arn"] for t in targets] == [function["FunctionArn"]]
        alarms = hub.client("cloudwatch", region).describe_alarms(
            AlarmNamePrefix="vpnctl-sproutling-"
        )["MetricAlarms"]
        assert len(alarms) == 2
        assert {a["TreatMissingData"] for a in alarms} == {"breaching"}  # the backstop
        agent = json.loads(
            events.describe_rule(Name="vpnctl-sproutling-failover-agent")["EventPattern"]
        )
        assert agent["source"] == ["vpnctl.agent"]
        assert agent["detail"] == {"topology": ["sproutling"]}
        asg = hub.client("autoscaling", region)
        for gateway in ("a", "b"):
            hooks = asg.describe_lifecycle_hooks(
                AutoScalingGroupName=f"sproutling-gw-{region}-{gateway}"
            )["LifecycleHooks"]
            assert [h["LifecycleHookName"] for h in hooks] == ["vpnctl-drain"]
    result = hub.aws.run(destroy, str(hub.path), "--yes")
    assert result.exit_code == 0, result.output
    for region in REGIONS:
        assert hub.client("lambda", region).list_functions()["Functions"] == []
        assert hub.client("events", region).list_rules()["Rules"] == []
        assert hub.client("cloudwatch", region).describe_alarms()["MetricAlarms"] == []


def test_hook_role_may_replace_routes_only_in_the_topologys_tables(hub: Hub) -> None:
    iam = hub.client("iam", "us-east-1")
    policy = iam.get_role_policy(RoleName="sproutling-failover-hook", PolicyName="vpnctl-gateway")
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    routes = statements["OwnRoutes"]
    assert routes["Condition"] == {
        "StringEquals": {"aws:ResourceTag/vpnctl:topology": "sproutling"}
    }
    assert routes["Resource"].endswith(":route-table/*")
    assert "sproutling-*" in statements["OwnGroups"]["Resource"]
    assert "cloudwatch:GetMetricData" in statements["Read"]["Action"]


# ------------------------------------------------------------------ the agents' evidence

HUB_A_TO_WEST_A = "ap-southeast-1-a--us-west-2-a"


class Agents:
    """What the gateways' agents publish, in the shapes they publish it."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.design = pipeline.plan(hub.path).design

    def region(self, gateway: str) -> str:
        return self.design.gateway_by_name[gateway].region

    def ready(self, *gateways: str) -> None:
        """The agent tags its own instance once converged and every tunnel is UP."""
        found = self.hub.instances()
        for gateway in gateways or [g.name for g in self.design.gateways]:
            self.hub.client("ec2", self.region(gateway)).create_tags(
                Resources=[found[gateway]["InstanceId"]],
                Tags=[{"Key": READY_TAG, "Value": "digest-1"}],
            )

    def publish(self, gateway: str, down: Collection[str] = ()) -> None:
        """``gateway``'s TunnelUp per tunnel and SiblingUp per sibling: 1 unless in ``down``."""
        design, at = self.design, datetime.now(UTC)
        data = [
            _datum(TUNNEL_UP, {"Gateway": gateway, "Tunnel": t.name}, t.name not in down, at)
            for t in design.tunnels_by_gateway[gateway]
        ]
        vpc = design.vpcs[design.gateway_by_name[gateway].vpc]
        data += [
            _datum(SIBLING_UP, {"Gateway": gateway, "Sibling": s}, s not in down, at)
            for s in vpc.gateways
            if s != gateway
        ]
        cw = self.hub.client("cloudwatch", self.region(gateway))
        cw.put_metric_data(Namespace=NAMESPACE, MetricData=data)

    def all_up(self, *, except_: tuple[str, ...] = ()) -> None:
        for g in self.design.gateways:
            if g.name not in except_:
                self.publish(g.name)

    def event(self, gateway: str, kind: str, name: str, state: str) -> dict[str, Any]:
        event = self.hub.event(
            "agent-health",
            gateway=gateway,
            instance_id=self.hub.instances()[gateway]["InstanceId"],
            kind=kind,
            name=name,
            state=state,
            at=time.time(),
            region=self.region(gateway),
        )
        return event


def _datum(metric: str, dims: dict[str, str], up: bool, at: datetime) -> dict[str, Any]:
    dimensions = [{"Name": "Topology", "Value": "sproutling"}]
    dimensions += [{"Name": k, "Value": v} for k, v in dims.items()]
    return {"MetricName": metric, "Dimensions": dimensions, "Timestamp": at,
            "Value": 1.0 if up else 0.0, "StorageResolution": 1}  # fmt: skip


def _decision(found: dict[str, Any], table: str) -> dict[str, Any]:
    return dict(next(d for d in found["decisions"] if d["table"] == table))


def test_a_hung_gateway_loses_its_table_to_the_sibling_that_sees_it_down(hub: Hub) -> None:
    """The spoke's AZ-a gateway hangs: it publishes nothing; its sibling sees it DOWN, the
    hub's AZ-a gateway sees its tunnel to it DOWN and says so at once in an event."""
    agents = Agents(hub)
    agents.ready()
    agents.all_up(except_=("gw-us-west-2-a", "gw-us-west-2-b", "gw-ap-southeast-1-a"))
    agents.publish("gw-us-west-2-b", down={"gw-us-west-2-a"})
    agents.publish("gw-ap-southeast-1-a", down={HUB_A_TO_WEST_A})
    event = agents.event("gw-ap-southeast-1-a", "tunnel", HUB_A_TO_WEST_A, "DOWN")
    result, factory = hub.hook(event)
    found = summary(result)
    assert hub.tables()["rt-us-west-2-a"] == {"gw-us-west-2-b"}
    assert hub.tables()["rt-us-west-2-b"] == {"gw-us-west-2-b"}
    assert found["gateways"]["gw-us-west-2-a"] == "seen DOWN by its siblings"
    assert "GetMetricData" in [c.operation for c in factory.log.calls]
    # The alarms, as AWS sends them minutes later: the hub's AZ-a gateway measures 100% loss,
    # the hung one's alarm breaches on its missing data. Then the scheduled reconcile.
    for gateway, region in (
        ("gw-ap-southeast-1-a", "ap-southeast-1"),
        ("gw-us-west-2-a", "us-west-2"),
    ):
        name = f"vpnctl-sproutling-{gateway}"
        hub.client("cloudwatch", region).set_alarm_state(
            AlarmName=name, StateValue="ALARM", StateReason="loss"
        )
        summary(hub.hook(hub.event("cloudwatch-alarm", alarmName=name, region=region))[0])
    agents.all_up(except_=("gw-us-west-2-a", "gw-us-west-2-b", "gw-ap-southeast-1-a"))
    agents.publish("gw-us-west-2-b", down={"gw-us-west-2-a"})
    agents.publish("gw-ap-southeast-1-a", down={HUB_A_TO_WEST_A})
    again, factory = hub.hook(hub.event("scheduled"))
    tables = hub.tables()
    assert tables["rt-us-west-2-a"] == {"gw-us-west-2-b"}
    assert "gw-us-west-2-a" not in set().union(*tables.values())
    assert _decision(summary(again), "rt-us-west-2-a")["chosen"] == "gw-us-west-2-b"
    assert "ReplaceRoute" not in mutations(factory)


def test_silence_everywhere_moves_nothing(hub: Hub) -> None:
    """Every gateway was ready, and then nothing arrives (the metrics service is out): no
    gateway is healthy, so no route moves, even on a terminated gateway's event."""
    Agents(hub).ready()
    instance = hub.terminate("gw-us-west-2-a")
    event = hub.event("ec2-state-terminated", **{"instance-id": instance}, region="us-west-2")
    result, factory = hub.hook(event)
    found = summary(result)
    assert "ReplaceRoute" not in mutations(factory)
    assert "silent on" in found["gateways"]["gw-us-west-2-b"]
    assert "no usable gateway" in _decision(found, "rt-us-west-2-a")["reason"]


@pytest.mark.parametrize("failback", [False, True])
def test_a_replacement_takes_routes_only_once_ready_and_its_tunnels_are_up(
    aws: Aws, failback: bool
) -> None:
    text = (ROOT / "topologies" / "china-hub.yaml").read_text()
    if failback:
        text = text.replace("failback: false", "failback: true\n  hold_down_s: 0")
    path = aws.topology("china-hub", text)
    assert aws.run(apply, str(path), "--yes").exit_code == 0
    hub = Hub(aws, path)
    agents = Agents(hub)
    agents.ready()
    old = hub.terminate("gw-us-west-2-a")
    new = _replace(hub, "gw-us-west-2-a")  # the group's new instance: running, still booting
    # Half booted: it answers its sibling and its tunnel is up at the hub's end, but its agent
    # has not reported ready (no READY_TAG, nothing of its own published yet).
    agents.all_up(except_=("gw-us-west-2-a",))
    event = hub.event("ec2-state-terminated", **{"instance-id": old}, region="us-west-2")
    found = summary(hub.hook(event)[0])
    assert hub.instances()["gw-us-west-2-a"]["InstanceId"] == new
    assert hub.tables()["rt-us-west-2-a"] == {"gw-us-west-2-b"}  # the proven gateway
    assert found["gateways"]["gw-us-west-2-a"] == "publishes no health evidence"
    launched = hub.event(
        "asg-launch-successful", EC2InstanceId=new, AutoScalingGroupName="sproutling-gw-us-west-2-a"
    )
    summary(hub.hook(launched)[0])
    assert hub.tables()["rt-us-west-2-a"] == {"gw-us-west-2-b"}
    # Booted: its agent tags its instance and its tunnels come UP.
    agents.ready("gw-us-west-2-a")
    agents.all_up()
    result, _ = hub.hook(hub.event("scheduled"))
    choice = _decision(summary(result), "rt-us-west-2-a")
    if failback:
        assert hub.tables()["rt-us-west-2-a"] == {"gw-us-west-2-a"}
        assert choice["reason"].startswith("failback")
    else:
        assert hub.tables()["rt-us-west-2-a"] == {"gw-us-west-2-b"}
        assert "staying" in choice["reason"]


def _replace(hub: Hub, gateway: str) -> str:
    """Its Auto Scaling group launches a new instance (as AWS does after a termination)."""
    region = gateway.removeprefix("gw-")[:-2]
    asg = hub.client("autoscaling", region)
    group = f"sproutling-{gateway}"
    asg.update_auto_scaling_group(AutoScalingGroupName=group, MinSize=1, DesiredCapacity=1)
    return str(hub.instances()[gateway]["InstanceId"])
