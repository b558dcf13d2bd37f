"""The gateway role apply makes, enforced by moto's IAM: the real boot calls pass, others fail.

moto checks only part of a policy: the action names. Its access control asks about resource
``*`` for most services (so a statement naming ARNs never matches) and treats a Condition it
cannot see as a refusal. So the test takes the policy apply wrote, keeps each statement's
actions and widens it to ``*`` without conditions, and runs a gateway's real boot and agent
calls (``userdata/gateway_aws.py``, boto3's own action names) against a server that refuses
every action the policy does not name. Resources and conditions are proven by
``tests/unit/aws/test_policy_proof.py`` with vpnctl's own evaluator.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

from tests.functional.conftest import Aws
from userdata import gateway_aws
from vpnctl import pipeline
from vpnctl.agent import publish
from vpnctl.aws import names
from vpnctl.cli.apply import apply
from vpnctl.health_contract import READY_TAG

REGION = "us-west-2"
GATEWAY = "gw-us-west-2-a"
QUIET_BUS = "vpnctl-role-check"  # an event bus without rules


def reset_auth(url: str, value: str) -> None:
    """moto enforces IAM once this many more requests have passed ("inf": never)."""
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth",
        data=value.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form body would leave moto nothing to read
    )
    urllib.request.urlopen(request).close()


@pytest.fixture
def enforcing(aws: Aws) -> Iterator[Aws]:
    try:
        yield aws
    finally:
        reset_auth(aws.url, "inf")  # the server outlives this test


def actions_only(aws: Aws, role: str) -> None:
    """The role's policy as moto can enforce it: the same actions, on ``*``, unconditioned."""
    iam = aws.client("iam", REGION)
    written = iam.get_role_policy(RoleName=role, PolicyName=names.GATEWAY_POLICY)
    document = written["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    statements = [
        {"Effect": s["Effect"], "Action": moto_names(s["Action"]), "Resource": "*"}
        for s in document["Statement"]
    ]
    view = json.dumps({"Version": "2012-10-17", "Statement": statements})
    iam.put_role_policy(RoleName=role, PolicyName=names.GATEWAY_POLICY, PolicyDocument=view)


def moto_names(actions: str | list[str]) -> list[str]:
    """moto asks CloudWatch's actions by its endpoint prefix (``monitoring:PutMetricData``);
    IAM's prefix is ``cloudwatch`` (Service Authorization Reference). The test adds moto's
    spelling beside IAM's; the policy apply writes keeps IAM's alone."""
    found = [actions] if isinstance(actions, str) else list(actions)
    return found + [a.replace("cloudwatch:", "monitoring:", 1) for a in found if a.startswith("cloudwatch:")]  # fmt: skip


def role_session(aws: Aws, topology: str) -> boto3.session.Session:
    role = names.aws_name(topology, GATEWAY)
    actions_only(aws, role)
    sts = aws.client("sts", REGION)
    arn = aws.client("iam", REGION).get_role(RoleName=role)["Role"]["Arn"]
    found = sts.assume_role(RoleArn=arn, RoleSessionName="gateway")["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=found["AccessKeyId"],
        aws_secret_access_key=found["SecretAccessKey"],
        aws_session_token=found["SessionToken"],
        region_name=REGION,
    )


def test_boot_and_agent_calls_pass_and_others_are_refused(enforcing: Aws, tmp_path: Path) -> None:
    aws = enforcing
    path = aws.topology("demo")
    applied = aws.run(apply, str(path), "--yes")
    assert applied.exit_code == 0, applied.output
    design = pipeline.plan(path).design
    tunnels = [(t.name, t.mode) for t in design.tunnels_by_gateway[GATEWAY]]
    env = {
        "VPNCTL_PARAMETER_PREFIX": f"/vpnctl/{design.name}",
        "VPNCTL_GATEWAY": GATEWAY,
        "VPNCTL_TOPOLOGY": design.name,
    }
    ec2 = aws.client("ec2", REGION)
    tag = [{"Name": f"tag:{names.NAME_TAG}", "Values": [GATEWAY]}]
    reservations = ec2.describe_instances(Filters=tag)["Reservations"]
    instance = reservations[0]["Instances"][0]["InstanceId"]
    session = role_session(aws, design.name)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=aws.url)

    aws.client("events", REGION).create_event_bus(Name=QUIET_BUS)
    reset_auth(aws.url, "0")
    gateway_aws.fetch_keys(client("ssm"), env, tunnels, key_dir=tmp_path / "keys")
    gateway_aws.associate_elastic_ip(client("ec2"), env, instance)
    client("ec2").modify_instance_attribute(InstanceId=instance, SourceDestCheck={"Value": False})
    client("autoscaling").set_instance_health(InstanceId=instance, HealthStatus="Healthy")
    client("cloudwatch").put_metric_data(
        Namespace=names.METRIC_NAMESPACE, MetricData=[{"MetricName": "Up", "Value": 1.0}]
    )
    assert sorted(p.name for p in (tmp_path / "keys").rglob("*.key"))
    # the agent's own calls, through the door it publishes by
    door = publish.AwsDoor(client("cloudwatch"), client("events"), client("ec2"), "", REGION)
    up = publish.event(design.name, GATEWAY, instance, "tunnel", tunnels[0][0], "UP", 0.0)
    # moto cannot deliver to the hook rules' Lambda targets (NotImplementedError), so the entry
    # goes to a bus without rules: moto checks the action name only; the bus, source and
    # detail type conditions are proven by tests/unit/aws/test_policy_proof.py
    assert door.put_events([{**up, "EventBusName": QUIET_BUS}]) == []
    door.tag_instance(instance, READY_TAG, "0" * 64)
    sibling = "gw-us-west-2-b"
    assert sibling in door.find_gateways(design.name, [sibling])

    refused: list[tuple[str, str, dict[str, Any]]] = [
        ("ec2", "describe_route_tables", {}),
        ("ssm", "put_parameter", {"Name": "/x", "Value": "y", "Type": "String"}),
        ("ec2", "terminate_instances", {"InstanceIds": [instance]}),
        ("iam", "list_roles", {}),
    ]
    for service, operation, args in refused:
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            getattr(client(service), operation)(**args)
        error = caught.value.response
        status = error["ResponseMetadata"]["HTTPStatusCode"]
        assert status == 403 or error["Error"]["Code"] in ("AccessDenied", "UnauthorizedOperation")
