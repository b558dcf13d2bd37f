"""The lab's AWS: an emulator (moto's server) in the lab's internet namespace, put into the
state a real apply leaves, and the few things AWS does on its own that moto does not.

``lab up`` starts ``python -m vpnctl.lab.emulator STATE`` in the internet namespace (so ``lab
down`` ends it with the namespace), listening on every address there on ``PORT``: the lab's
own processes reach it at ``127.0.0.1``, each gateway at its uplink (its default route). It
writes ``emulator.json`` in the sandbox's state format, so ``vpnctl apply --sandbox`` with
``VPNCTL_SANDBOX_STATE`` naming that file runs against it: the lab's AWS side is what apply
makes (route tables, Auto Scaling groups and their instances, tags, alarms, the hook's function
and EventBridge rules), not a copy of it.

What moto cannot do, the lab does, in AWS's shapes:

* EventBridge rules cannot deliver to a Lambda function in moto (``moto/events/models.py``,
  ``Rule.send_to_targets``: logs, archives, SQS, buses and API destinations only; any other
  target raises NotImplementedError, which fails the PutEvents that matched). The lab swaps
  each hook rule's function target for an SQS queue of its own in that region; ``hookrunner``
  drains the queue into the function's handler (same patterns, same events).
* moto sends no "EC2 Instance State-change Notification": ``terminate`` (``lab kill``) ends the
  instance and puts the events AWS sends (``shutting-down``, then ``terminated``) on the
  region's default bus, where the hook's ``ec2`` rule matches them.
* moto's Auto Scaling does not notice a terminated instance, so nothing replaces it; ``launch``
  (``lab revive``) runs the replacement from the group's launch template, as the group would,
  and puts its ``running`` notification.
* No boot runs on an emulated instance. What a gateway's boot does about itself on AWS,
  ``boot`` does with the boot's own code (``userdata/gateway_aws.py``, loaded as the file it
  is): the Elastic IP tagged for the gateway onto its instance, the instance's
  source/destination check off. The lab's other boot work (packages, keys, tunnels) is its own.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from vpnctl import render
from vpnctl.aws import names
from vpnctl.aws import sandbox as sandboxes
from vpnctl.health_contract import READY_TAG
from vpnctl.lab import netthread, shell

if TYPE_CHECKING:
    from vpnctl.lab.model import Lab

PORT = 4566
LOCAL = f"http://127.0.0.1:{PORT}"
STATE_FILE = "emulator.json"  # the sandbox's state format: apply --sandbox finds it
MAP_FILE = "aws.json"  # gateway -> its instance; hook functions -> their queues
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
QUEUE = "vpnctl-lab-hook"
T = TypeVar("T")


def endpoint_for(uplink: object) -> str:
    """Where a gateway reaches the emulator: its default route's far end, in the internet ns."""
    return f"http://{uplink}:{PORT}"


def environment() -> dict[str, str]:
    """What a lab process needs to talk to the emulator (no real credential anywhere)."""
    return {**CREDENTIALS, "AWS_EC2_METADATA_DISABLED": "true"}


_CLIENTS: dict[tuple[str, str], Any] = {}


def client(service: str, region: str) -> Any:
    """A boto3 client of the emulator, made once per process; use it only from a thread in the
    internet namespace (``inside``): its connections are opened by the thread that uses it."""
    if (service, region) not in _CLIENTS:
        _CLIENTS[(service, region)] = _client(service, region)
    return _CLIENTS[(service, region)]


def warm(lab: Lab, gateways: list[str]) -> None:
    """Make the clients a kill of ``gateways`` uses, so the kill itself is only its calls."""
    wanted = {found["region"] for g in gateways if (found := instance_of(lab.state, g))}
    inside(lab, lambda: [client(s, r) for r in wanted for s in ("ec2", "events")])


def _client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5,
                    read_timeout=30)  # fmt: skip
    return boto3.client(service, region_name=region, endpoint_url=LOCAL, config=config,
                        aws_access_key_id="sandbox", aws_secret_access_key="sandbox")  # fmt: skip


def inside(lab: Lab, fn: Callable[[], T], timeout: float = 120) -> T:
    """``fn()`` run in the lab's internet namespace, where the emulator answers."""
    return netthread.call_in(lab.layout.internet, fn, timeout)


# --------------------------------------------------------------------------- the process


def start(lab: Lab, wait_s: float = 30) -> None:
    lab.journal.record("process", "emulator")
    shell.spawn([sys.executable, "-m", "vpnctl.lab.emulator", str(lab.state)],
                lab.layout.internet, lab.path("logs", "emulator.log"))  # fmt: skip
    deadline = time.monotonic() + wait_s
    while not lab.path(STATE_FILE).exists() or not inside(lab, _answers, 5):
        if time.monotonic() > deadline:
            raise shell.LabError(f"the lab's AWS emulator did not start in {wait_s:.0f}s; "
                                 f"see {lab.path('logs', 'emulator.log')}")  # fmt: skip
        time.sleep(0.1)


def _answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=1):
            return True
    except OSError:
        return False


def serve(state: Path) -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sandboxes.emulate_aws()
    server = ThreadedMotoServer(ip_address="0.0.0.0", port=PORT, verbose=False)
    server.start()
    found = sandboxes.Running(LOCAL, os.getpid(), time.time())
    tmp = state / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(found.__dict__))
    tmp.replace(state / STATE_FILE)
    threading.Event().wait()  # until lab down kills the namespace's processes


# --------------------------------------------------------------------------- apply


def apply(lab: Lab, timeout_s: float = 300) -> None:
    """``vpnctl apply --sandbox`` of the lab's topology against the lab's emulator."""
    env = {**os.environ, **environment(), "VPNCTL_SANDBOX_STATE": str(lab.path(STATE_FILE))}
    argv = ["ip", "netns", "exec", lab.layout.internet, sys.executable, "-m", "vpnctl", "apply",
            str(lab.plan.source.file), "--sandbox", "--yes", "--no-wait"]  # fmt: skip
    with lab.path("logs", "apply.log").open("ab") as out:
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT, timeout=timeout_s, check=False)  # fmt: skip
    if done.returncode != 0:
        raise shell.LabError(f"apply to the lab's AWS emulator failed (status {done.returncode}); "
                             f"see {lab.path('logs', 'apply.log')}")  # fmt: skip


# --------------------------------------------------------------------------- the map


@dataclass(frozen=True)
class Function:
    """A deployed hook function and the queue its rules deliver to in the lab."""

    account: str
    region: str
    name: str
    queue_url: str
    schedule: str  # the reconcile rule's ScheduleExpression


def regions(lab: Lab) -> list[tuple[str, str]]:
    """(account, region) of every VPC, each once."""
    return sorted({(v.account, v.region) for v in lab.design.vpcs.values()})


def wire(lab: Lab) -> None:
    """After apply: each gateway's instance, and the hook rules delivering to lab queues."""
    found = inside(lab, lambda: _wire(lab))
    lab.path(MAP_FILE).write_text(json.dumps(found, indent=1, sort_keys=True))


def _wire(lab: Lab) -> dict[str, Any]:
    gateways: dict[str, dict[str, str]] = {}
    functions: list[dict[str, str]] = []
    for account, region in regions(lab):
        for name, instance in _running(lab, region).items():
            gateways[name] = {"instance": instance, "region": region, "account": account}
        functions.append(_queue_rules(lab, account, region))
    missing = sorted(set(lab.layout.gateways) - set(gateways))
    if missing:
        raise shell.LabError(f"apply left no running instance for {', '.join(missing)}")
    return {"endpoint": LOCAL, "gateways": gateways, "functions": functions}


def _running(lab: Lab, region: str) -> dict[str, str]:
    """Gateway name -> its running instance (the newest if several run)."""
    ec2 = client("ec2", region)
    mine = [{"Name": f"tag:{names.TOPOLOGY_TAG}", "Values": [lab.design.name]},
            {"Name": "instance-state-name", "Values": ["running"]}]  # fmt: skip
    found: dict[str, tuple[float, str]] = {}
    for reservation in ec2.describe_instances(Filters=mine)["Reservations"]:
        for item in reservation["Instances"]:
            name = tags(item).get(names.NAME_TAG, "")
            launched = item["LaunchTime"].timestamp()
            if name and launched >= found.get(name, (0.0, ""))[0]:
                found[name] = (launched, item["InstanceId"])
    return {n: i for n, (_, i) in found.items()}


def tags(item: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", []) or []}


def _queue_rules(lab: Lab, account: str, region: str) -> dict[str, str]:
    sqs, events = client("sqs", region), client("events", region)
    queue = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    prefix = names.hook_rule_prefix(lab.design.name)
    schedule = ""
    for rule in events.list_rules(NamePrefix=prefix)["Rules"]:
        schedule = rule.get("ScheduleExpression") or schedule
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        gone = [t["Id"] for t in targets if ":lambda:" in t["Arn"]]
        if gone:
            events.remove_targets(Rule=rule["Name"], Ids=gone)
        events.put_targets(Rule=rule["Name"], Targets=[{"Id": "lab-queue", "Arn": arn}])
    function = names.hook_function(lab.design.name)
    return {"account": account, "region": region, "name": function, "queue_url": queue,
            "schedule": schedule}  # fmt: skip


def mapping(state: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads((state / MAP_FILE).read_text())
    except FileNotFoundError:
        return {}
    return loaded


def functions(state: Path) -> list[Function]:
    return [Function(**f) for f in mapping(state).get("functions", [])]


def instance_of(state: Path, gateway: str) -> dict[str, str] | None:
    found: dict[str, str] | None = mapping(state).get("gateways", {}).get(gateway)
    return found


def _remember(lab: Lab, gateway: str, instance: str) -> None:
    found = mapping(lab.state)
    found["gateways"][gateway]["instance"] = instance
    tmp = lab.path(f".{MAP_FILE}.tmp")
    tmp.write_text(json.dumps(found, indent=1, sort_keys=True))
    tmp.replace(lab.path(MAP_FILE))


# --------------------------------------------------------------------------- what AWS does


def state_change(instance: str, state: str, region: str) -> dict[str, Any]:
    """PutEvents' entry for the notification EC2 sends itself. Its shape (the envelope
    EventBridge adds: version, id, account, time, region, resources):
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html
    """
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    return {
        "Source": "aws.ec2",
        "DetailType": "EC2 Instance State-change Notification",
        "Detail": json.dumps({"instance-id": instance, "state": state}),
        "Resources": [f"arn:{partition}:ec2:{region}::instance/{instance}"],
    }


def terminate(lab: Lab, gateways: list[str]) -> None:
    """The gateways' instances terminate, and EC2 says so (``lab kill``)."""

    def work() -> None:
        for gateway in gateways:
            found = instance_of(lab.state, gateway)
            if found is None:
                continue
            region, instance = found["region"], found["instance"]
            client("ec2", region).terminate_instances(InstanceIds=[instance])
            entries = [state_change(instance, s, region) for s in ("shutting-down", "terminated")]
            client("events", region).put_events(Entries=entries)

    inside(lab, work)


def boot(lab: Lab, gateways: list[str]) -> None:
    """Each gateway's boot steps that act on AWS (``elastic-ip``, ``source-dest-check``), on
    its current emulated instance, with the boot's own functions."""
    helper = render.userdata_module("gateway_aws.py")

    def work() -> None:
        for gateway in gateways:
            found = instance_of(lab.state, gateway)
            if found is None:
                continue
            ec2 = client("ec2", found["region"])
            env = {"VPNCTL_TOPOLOGY": lab.design.name, "VPNCTL_GATEWAY": gateway}
            helper.associate_elastic_ip(ec2, env, found["instance"])
            helper.source_dest_check_off(ec2, found["instance"])

    inside(lab, work)


def launch(lab: Lab, gateway: str) -> str:
    """A replacement instance for ``gateway``, from its group's launch template (``lab
    revive``); its ``running`` notification is sent. Returns the new instance id."""
    found = instance_of(lab.state, gateway)
    if found is None:
        raise shell.LabError(f"{gateway} has no instance in the lab's emulator")
    region, old = found["region"], found["instance"]

    def work() -> str:
        ec2 = client("ec2", region)
        before = ec2.describe_instances(InstanceIds=[old])["Reservations"][0]["Instances"][0]
        group = client("autoscaling", region).describe_auto_scaling_groups(
            AutoScalingGroupNames=[names.aws_name(lab.design.name, gateway)]
        )["AutoScalingGroups"][0]
        kept = [{"Key": k, "Value": v} for k, v in tags(before).items()
                if k != READY_TAG and not k.startswith("aws:")]  # fmt: skip
        made = ec2.run_instances(
            MinCount=1, MaxCount=1,
            LaunchTemplate=_template(group),
            SubnetId=group["VPCZoneIdentifier"].split(",")[0],
            TagSpecifications=[{"ResourceType": "instance", "Tags": kept}],
        )["Instances"][0]["InstanceId"]  # fmt: skip
        client("events", region).put_events(Entries=[state_change(made, "running", region)])
        return str(made)

    instance = inside(lab, work)
    _remember(lab, gateway, instance)
    boot(lab, [gateway])
    return instance


def _template(group: Mapping[str, Any]) -> dict[str, str]:
    spec = (
        group.get("LaunchTemplate")
        or group["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
    )
    key = "LaunchTemplateId" if spec.get("LaunchTemplateId") else "LaunchTemplateName"
    return {key: spec[key], "Version": str(spec.get("Version") or "$Default")}


def main() -> None:
    serve(Path(sys.argv[1]))


if __name__ == "__main__":
    main()
