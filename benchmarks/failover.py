"""The failover hook's wall time and AWS calls per event, against a moto server: a benchmark.

A generated 50-VPC hub topology (one account, four regions, two AZs each) is applied once;
then each event kind is run ``--rounds`` times through the hook's pipeline (``hook.run``,
the Lambda handler's code, with every region in reach), each round on another spoke so that
every failover is a fresh one. Clients are made once and reused, as a warm Lambda keeps
them (``hook.handler`` caches its sessions); a cold start adds their making. Printed per
kind: median and p95 wall time, the median CPU time of the hook's process (its own work, every
thread) and of the emulator's in the same span (the work AWS would do), calls in all and
mutating calls (the lease's DynamoDB writes counted apart). The target: under 1 s, and no
call beyond what the changed tables need.

    python benchmarks/failover.py [--vpcs 50] [--rounds 10] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, run as a script

from benchmarks.hubs import hub_topology
from vpnctl import pipeline
from vpnctl.aws.factory import Factory
from vpnctl.aws.session import CallLog, Sessions
from vpnctl.cli.apply import apply
from vpnctl.failover import hook
from vpnctl.failover.bundle import Bundle
from vpnctl.failover.events import parse

ROOT = Path(__file__).resolve().parents[1]
NAME = "bench50"
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}


SERVER = """
import sys, time, logging
sys.path.insert(0, sys.argv[2])
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult
from moto.server import ThreadedMotoServer
from vpnctl.aws import sandbox
sandbox.emulate_aws()  # what apply relies on AWS doing and moto does not (see there)
AutoScalingResponse.complete_lifecycle_action = lambda self: EmptyResult()
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


def emulator() -> tuple[subprocess.Popen[str], str]:
    """The AWS emulator in a process of its own: its work is AWS's, not the hook's, and must
    not share the hook's interpreter (and its lock) while the hook is timed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(ROOT)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit("the emulator did not start")
    return proc, f"http://127.0.0.1:{port}"


def cpu_s(pid: int) -> float:
    """User and system CPU seconds a process has used so far (Linux: /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(self, url: str, path: Path, emulator_pid: int) -> None:
        self.url = url
        self.emulator_pid = emulator_pid
        planned = pipeline.plan(path)
        self.accounts = planned.topology.accounts
        self.bundle = Bundle.from_plan(planned)
        # One set of clients for every run, as a warm Lambda keeps them between invocations.
        self.sessions = Sessions(self.accounts, self.url, CallLog(), CREDENTIALS)

    def client(self, service: str, region: str) -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )

    def instance(self, gateway: str) -> tuple[str, dict[str, Any]]:
        region = self.bundle.design.gateway_by_name[gateway].region
        tag = [{"Name": "tag:vpnctl:name", "Values": [gateway]},
               {"Name": "instance-state-name", "Values": ["running"]}]  # fmt: skip
        found = self.client("ec2", region).describe_instances(Filters=tag)["Reservations"]
        return region, found[0]["Instances"][0]

    def run(self, raw: dict[str, Any]) -> tuple[Span, CallLog, dict[str, Any]]:
        """One warm invocation: the clients of earlier runs are reused, as Lambda keeps them;
        the calls counted are this run's only."""
        env = hook.Env(
            self.sessions, frozenset(self.accounts), sleep=lambda _s: None, say=lambda _l: None
        )
        self.sessions.log.calls.clear()
        start, cpu, aws = time.perf_counter(), time.process_time(), cpu_s(self.emulator_pid)
        summary = hook.run(parse(raw), self.bundle, env)
        span = Span(time.perf_counter() - start, time.process_time() - cpu,
                    cpu_s(self.emulator_pid) - aws)  # fmt: skip
        return span, CallLog(list(self.sessions.log.calls)), summary


@dataclass(frozen=True)
class Span:
    wall_s: float
    hook_cpu_s: float  # this process: the hook's threads, botocore's included
    emulator_cpu_s: float


def event(sample: str, region: str, **detail: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((ROOT / "tests" / "events" / f"{sample}.json").read_text())
    raw["region"] = region
    raw["detail"].update(detail)
    return raw


# ------------------------------------------------------------------ one round of each kind


def reconcile(b: Bench, i: int) -> dict[str, Any]:
    return event("scheduled", "us-east-1")


def alarm(b: Bench, i: int) -> dict[str, Any]:
    gateway = f"gw-v{i + 1:02d}-a"
    region = b.bundle.design.gateway_by_name[gateway].region
    name = f"vpnctl-{NAME}-{gateway}"
    b.client("cloudwatch", region).set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="bench"
    )
    return event("cloudwatch-alarm", region, alarmName=name)


def terminated(b: Bench, i: int) -> dict[str, Any]:
    gateway = f"gw-v{i + 10:02d}-b"
    region, instance = b.instance(gateway)
    asg = b.client("autoscaling", region)
    group = f"{NAME}-{gateway}"
    asg.update_auto_scaling_group(AutoScalingGroupName=group, MinSize=0)
    asg.detach_instances(AutoScalingGroupName=group, InstanceIds=[instance["InstanceId"]],
                         ShouldDecrementDesiredCapacity=True)  # fmt: skip
    b.client("ec2", region).terminate_instances(InstanceIds=[instance["InstanceId"]])
    return event("ec2-state-terminated", region, **{"instance-id": instance["InstanceId"]})


def lifecycle(b: Bench, i: int) -> dict[str, Any]:
    gateway = f"gw-v{i + 21:02d}-a"
    region, instance = b.instance(gateway)
    return event("asg-terminate-lifecycle", region, EC2InstanceId=instance["InstanceId"],
                 AutoScalingGroupName=f"{NAME}-{gateway}")  # fmt: skip


def launched(b: Bench, i: int) -> dict[str, Any]:
    gateway = f"gw-v{i + 35:02d}-a"
    region, instance = b.instance(gateway)
    b.client("ec2", region).modify_instance_attribute(
        InstanceId=instance["InstanceId"], SourceDestCheck={"Value": True}
    )
    return event("asg-launch-successful", region, EC2InstanceId=instance["InstanceId"],
                 AutoScalingGroupName=f"{NAME}-{gateway}")  # fmt: skip


KINDS: dict[str, Callable[[Bench, int], dict[str, Any]]] = {
    "scheduled reconcile (nothing to do)": reconcile,
    "alarm ALARM on a spoke gateway": alarm,
    "lifecycle terminate of a spoke gateway": lifecycle,
    "launch (instance to fix)": launched,
    "EC2 terminated spoke gateway": terminated,
}


@dataclass(frozen=True)
class Round:
    span: Span
    calls: int
    mutating: int  # the lease's DynamoDB writes aside
    tables: int  # route tables changed


def measure(b: Bench, rounds: int) -> list[dict[str, Any]]:
    rows = []
    for kind, make in KINDS.items():
        done = [one_round(b, make(b, i)) for i in range(rounds)]
        if make is terminated:  # the first breaks the hub's AZ-b paths; later ones move only
            # the hub's route to that spoke (the hub's tables have a route per spoke)
            rows.append(row(f"{kind}, first (hub path breaks)", done[:1]))
            done, kind = done[1:], f"{kind}, later (the hub's route to it)"
        rows.append(row(kind, done))
    return rows


def one_round(b: Bench, raw: dict[str, Any]) -> Round:
    span, log, summary = b.run(raw)
    tables = {c["table"] for c in summary["changes"] if c["kind"] == "route"}
    mutating = log.mutating(except_services=("dynamodb",))
    return Round(span, len(log.calls), len(mutating), len(tables))


def row(kind: str, done: list[Round]) -> dict[str, Any]:
    """Medians of the rounds, and the p95 of their wall times."""
    times = sorted(r.span.wall_s for r in done)
    return {"kind": kind, "median_s": statistics.median(times),
            "p95_s": times[max(0, round(0.95 * len(times)) - 1)],
            "hook_cpu_s": statistics.median(r.span.hook_cpu_s for r in done),
            "aws_cpu_s": statistics.median(r.span.emulator_cpu_s for r in done),
            "calls": statistics.median(r.calls for r in done),
            "mutating": statistics.median(r.mutating for r in done),
            "tables": statistics.median(r.tables for r in done)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vpcs", type=int, default=50)
    parser.add_argument(
        "--rounds",
        type=int,
        default=10,
        help="at least 2: the first EC2 termination is shown apart",
    )
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server, url = emulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{NAME}.yaml"
            path.write_text(hub_topology(NAME, args.vpcs))
            start = time.perf_counter()
            result = CliRunner().invoke(apply, [str(path), "--yes", "--endpoint-url", url],
                                        obj=Factory(sleep=lambda _s: None),
                                        env={"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})  # fmt: skip
            if result.exit_code != 0:
                raise SystemExit(f"apply failed: {result.output}\n{result.exception!r}")
            print(f"apply of {args.vpcs} VPCs: {time.perf_counter() - start:.1f} s")
            bench = Bench(url, path, server.pid)
            # each gateway as its boot leaves it, its address on it and its check off (apply
            # does neither; no boot runs on moto): the reconcile measured has nothing to do
            bench.run(reconcile(bench, 0))
            rows = measure(bench, args.rounds)
    finally:
        server.terminate()
        server.wait()
    show(rows, args.markdown)


def show(rows: list[dict[str, Any]], markdown: bool) -> None:
    if markdown:
        print("| event | median | p95 | hook CPU | emulator CPU | AWS calls | "
              "mutating (lease aside) | tables moved |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [r["kind"], f"{r['median_s'] * 1000:.0f} ms", f"{r['p95_s'] * 1000:.0f} ms",
                 f"{r['hook_cpu_s'] * 1000:.0f} ms", f"{r['aws_cpu_s'] * 1000:.0f} ms",
                 f"{r['calls']:.0f}", f"{r['mutating']:.0f}", f"{r['tables']:.0f}"]  # fmt: skip
        print("| " + " | ".join(cells) + " |" if markdown else "  ".join(cells))


if __name__ == "__main__":
    main()
