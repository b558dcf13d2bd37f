"""The lab runs the AWS control path: one signal path, the one AWS runs.

    gateway agents ──PutMetricData, PutEvents, CreateTags──▶ emulator (moto, internet ns)
    lab kill / revive ──TerminateInstances, RunInstances, EC2 notifications──▶ emulator
    emulator: EventBridge rules ──▶ SQS queue per hook function
    hookrunner (one per function) ──▶ vpnctl.failover.handler ──ReplaceRoute──▶ emulator
    routesync ◀──DescribeRouteTables── emulator; ──ip route──▶ the VPC router namespaces

``prepare`` (before the gateways start): the emulator, ``vpnctl apply --sandbox`` against it,
the map of gateways to their instances, the hook's rules delivering to lab queues, and each
gateway's publishing settings. ``follow`` (once the gateways run): the hook runners and the
route follower. ``pause`` stops those two (``lab apply`` moves routes by hand meanwhile, and
they read the design when they start).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from vpnctl.failover.bundle import Bundle
from vpnctl.health_contract import READY_TAG
from vpnctl.lab import agents, emulator, hookrunner, shell
from vpnctl.lab.lifecycle import Lab

FOLLOWERS = (b"vpnctl.lab.hookrunner", b"vpnctl.lab.routesync")


def prepare(lab: Lab) -> None:
    emulator.start(lab)
    emulator.apply(lab)
    emulator.wire(lab)
    emulator.boot(lab, list(lab.layout.gateways))
    for gw in lab.layout.gateways.values():
        siblings = {o.name: str(o.private) for o in lab.layout.gateways.values()
                    if o.vpc == gw.vpc and o.name != gw.name}  # fmt: skip
        found = emulator.instance_of(lab.state, gw.name)
        if found is not None:
            agents.write_publishing(lab.state, gw.name, emulator.endpoint_for(gw.uplink),
                                    found["region"], siblings)  # fmt: skip


def follow(lab: Lab) -> None:
    if not emulator.mapping(lab.state):
        return  # a lab without its AWS side (started by an older vpnctl)
    lab.path(hookrunner.BUNDLE).write_text(Bundle.from_plan(lab.plan).to_json())
    for function in emulator.functions(lab.state):
        log = lab.path("logs", f"hook-{function.account}-{function.region}.log")
        shell.spawn([sys.executable, "-m", "vpnctl.lab.hookrunner", str(lab.state),
                     function.account, function.region], lab.layout.internet, log)  # fmt: skip
    shell.spawn([sys.executable, "-m", "vpnctl.lab.routesync", str(lab.state)],
                lab.layout.internet, lab.path("logs", "routesync.log"))  # fmt: skip


def wait_reported(lab: Lab, timeout_s: float = 90) -> None:
    """Until every gateway's emulated instance carries the agent's ready tag: before that, the
    hook may move routes off a gateway still booting (and back, with failback)."""
    deadline = time.monotonic() + timeout_s
    while pending := [g for g in lab.layout.gateways if not _reported(lab, g)]:
        if time.monotonic() > deadline:
            raise shell.LabError(f"{len(pending)} gateway(s) not ready in the lab's emulator "
                                 f"after {timeout_s:.0f}s (e.g. {pending[0]}); see "
                                 f"{lab.path('agents', pending[0], 'agent.log')}")  # fmt: skip
        time.sleep(0.5)


def _reported(lab: Lab, gateway: str) -> bool:
    found = emulator.instance_of(lab.state, gateway)
    if found is None:
        return True  # no emulated instance: its agent does not publish

    def tags() -> dict[str, str]:
        ec2 = emulator.client("ec2", found["region"])
        item = ec2.describe_instances(InstanceIds=[found["instance"]])["Reservations"][0]
        return {t["Key"]: t["Value"] for t in item["Instances"][0].get("Tags", [])}

    return READY_TAG in emulator.inside(lab, tags)


def pause(lab: Lab) -> None:
    for pid in shell.pids(lab.layout.internet):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(f in cmdline for f in FOLLOWERS) and str(lab.state).encode() in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def agent_pids(lab: Lab, gateway: str) -> list[int]:
    """The gateway's agent process (not its openvpn children)."""
    found = []
    for pid in shell.pids(lab.layout.gateways[gateway].ns):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"agent" in cmdline and b"run" in cmdline and b"vpnctl" in cmdline:
            found.append(pid)
    return found


def signal_agent(lab: Lab, gateway: str, sig: signal.Signals) -> None:
    for pid in agent_pids(lab, gateway):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
