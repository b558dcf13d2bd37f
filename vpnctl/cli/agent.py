"""``vpnctl agent``: the service on each gateway that makes it run its desired configuration."""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import click

from vpnctl.agent import converge, follow, health, publish
from vpnctl.agent.backend import Backend, Processes, Systemd
from vpnctl.agent.config import ENVIRONMENT, PROBE_PLAN, Config
from vpnctl.agent.layout import GATEWAY_STATE, Layout
from vpnctl.probe import prober, spec
from vpnctl.probe.report import Report, Target
from vpnctl.probe.session import Schedule
from vpnctl.topology import Probe

log = logging.getLogger("vpnctl.agent")
IMDS = "http://169.254.169.254/latest"


@click.group()
def agent() -> None:
    """Run on a gateway: converge it to its desired configuration and report what it runs."""


@agent.command("run")
@click.option(
    "--desired",
    "desired",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder of the desired configuration (the files render writes for a gateway).",
)
@click.option("--digest", help="Refuse the folder unless its content digest is this one.")
@click.option(
    "--state",
    "state",
    default=str(GATEWAY_STATE),
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where the agent records what it runs.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    help="Install below this folder instead of the gateway's /etc paths.",
)
@click.option(
    "--netns",
    help="Run tunnels as processes in this network namespace (the lab) instead of systemd units.",
)
@click.option("--once", is_flag=True, help="Converge once and exit (status 1 if it failed).")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between passes.")  # fmt: skip
@click.option("--probe-count", default=5, show_default=True, type=click.IntRange(1, 1000),
              help="Echoes per probe run, to each tunnel's far end and each sibling.")  # fmt: skip
@click.option("--probe-interval-ms", default=200, show_default=True,
              type=click.IntRange(10, 60_000), help="Between echoes to one target.")  # fmt: skip
@click.option("--no-publish", is_flag=True,
              help="Measure without AWS: no figures, events or ready tag (a lab).")  # fmt: skip
@click.option("--region", help="AWS region to publish in [the gateway's, from gateway.env].")
@click.option("--endpoint-url", help="Send AWS calls to this endpoint (a moto server, say).")
@click.option("--instance-id", help="This gateway's instance [from the instance metadata].")
@click.option("--sibling", "siblings", multiple=True, metavar="NAME=ADDRESS",
              help="A sibling gateway's VPC address, instead of looking it up (repeat).")  # fmt: skip
@click.option("--follow-store", is_flag=True,
              help="Keep --desired at the configuration this gateway's pointer in its artifact "
                   "bucket names (what the last apply wants), read every --follow-every.")  # fmt: skip
@click.option("--follow-every", default=30.0, show_default=True, type=click.FloatRange(min=1),
              metavar="SECONDS", help="Between reads of the pointer.")  # fmt: skip
@click.option("--runs", type=click.IntRange(min=1), hidden=True,
              help="Stop after this many health loop iterations (tests).")  # fmt: skip
def run_command(**params: Any) -> None:
    """Make this gateway run the configuration in --desired, touching only what changed, and
    measure its tunnels and siblings continuously, telling its region what it sees."""
    options = _Options.of(params)
    layout = Layout.under(Path(options.root)) if options.root else Layout.gateway()
    if params["follow_store"]:
        options = replace(options, follower=_follower(options, layout, params["follow_every"]))
    backend: Backend = Processes(options.netns, options.state.parent / "run") if options.netns \
        else Systemd()  # fmt: skip
    if options.once:
        result = converge.run(options.source, layout, backend, options.state, clock=time.time,
                              sleep=time.sleep, interval_s=options.interval, observers=[_say],
                              passes=1)  # fmt: skip
        if result is None or not result.converged:
            raise SystemExit(1)
        return
    logging.getLogger("vpnctl.agent").setLevel(logging.INFO)
    loop = _health_loop(options)
    thread = threading.Thread(
        target=_converging,
        args=(options, layout, backend, [_say, _to(loop, options)]),
        name="converge",
        daemon=True,
    )
    thread.start()
    if options.runs is None:
        loop.stream(stop=lambda: not thread.is_alive())
    else:
        loop.run(stop=lambda: not thread.is_alive(), runs=options.runs)
    if isinstance(loop.sink, publish.Background):
        loop.sink.drain(timeout_s=5.0)  # what was seen is said before the process ends
    if options.runs is None or not thread.is_alive():
        raise SystemExit(1)  # the converge loop ended: systemd starts the agent again


@dataclass(frozen=True)
class _Options:
    desired: Path
    digest: str | None
    state: Path
    root: str | None
    netns: str | None
    once: bool
    interval: float
    schedule: Schedule
    publish: bool
    region: str | None
    endpoint_url: str | None
    instance_id: str | None
    siblings: Mapping[str, IPv4Address]
    runs: int | None

    @classmethod
    def of(cls, p: Mapping[str, Any]) -> _Options:
        count, interval_ms = p["probe_count"], p["probe_interval_ms"]
        return cls(
            Path(p["desired"]), p["digest"], Path(p["state"]), p["root"], p["netns"],
            p["once"], p["interval"], Schedule(count, interval_ms), not p["no_publish"],
            p["region"], p["endpoint_url"], p["instance_id"], _siblings(p["siblings"]),
            p["runs"],
        )  # fmt: skip

    loaded: dict[str, Config] = field(default_factory=dict, compare=False)  # the last, by digest
    follower: follow.Follower | None = field(default=None, compare=False)  # --follow-store

    def source(self) -> Config:
        """The desired configuration, remembered for the health loop (which runs it next);
        with --follow-store, laid out first from the pointer when it names a new one."""
        if self.follower is not None:
            self.follower.poll()
        config = converge.load(self.desired, self.digest)
        self.loaded.clear()
        self.loaded[config.digest] = config
        return config


def _follower(options: _Options, layout: Layout, every_s: float) -> follow.Follower:
    """Who this gateway is and where its store is, from the installed gateway.env."""
    environment = layout.etc_dir / ENVIRONMENT
    try:
        env = follow.read_env(environment.read_text())
        topology, gateway = env["VPNCTL_TOPOLOGY"], env["VPNCTL_GATEWAY"]
    except (OSError, KeyError) as exc:
        raise converge.AgentError(
            f"{environment}: cannot tell the store to follow ({exc})"
        ) from None
    region = options.region or env.get("VPNCTL_REGION")
    if not region:
        raise converge.AgentError(f"{environment}: no VPNCTL_REGION: give --region")
    get = follow.s3_getter(region, options.endpoint_url)
    return follow.Follower(get, topology, gateway, options.desired, environment, time.monotonic,
                           every_s)  # fmt: skip


def _siblings(given: Sequence[str]) -> dict[str, IPv4Address]:
    found: dict[str, IPv4Address] = {}
    for item in given:
        name, sep, address = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError("not NAME=ADDRESS")
            found[name] = IPv4Address(address)
        except ValueError as exc:
            raise click.BadParameter(f"{item!r}: {exc}", param_hint="--sibling") from None
    return found


def _converging(options: _Options, layout: Layout, backend: Backend,
                observers: list[converge.Observer]) -> None:  # fmt: skip
    try:
        converge.run(options.source, layout, backend, options.state, clock=time.time,
                     sleep=time.sleep, interval_s=options.interval, observers=observers)  # fmt: skip
    except Exception:
        log.exception("the converge loop stopped")


def _to(loop: health.Loop, options: _Options) -> converge.Observer:
    """Each pass's outcome, with the configuration it ran, into the health loop."""

    def observe(result: converge.Result) -> None:
        config = options.loaded.get(result.digest)
        if config is not None:
            loop.update(health.Converged(result.digest, result.converged, config), _plan(config))

    return observe


def _plan(config: Config) -> spec.Spec | None:
    text = config.contents.get(PROBE_PLAN)
    if text is None:
        return None
    try:
        return spec.loads(text.decode(), PROBE_PLAN)
    except (spec.SpecError, UnicodeDecodeError) as exc:
        log.warning("%s; tunnels are not measured until it is re-rendered", exc)
        return None


def _health_loop(options: _Options) -> health.Loop:
    """The health loop, publishing through AWS unless --no-publish."""

    def measure(targets: Sequence[Target], schedule: Schedule) -> Report:
        plan = loop.plan
        warn, crit = (plan.probe.warn, plan.probe.crit) if plan else (Probe().warn, Probe().crit)
        timed = replace(schedule, timeout_ms=min(schedule.timeout_ms, crit.rtt_ms))
        return prober.probe(targets, timed, warn, crit)

    def given(names: Sequence[str]) -> Mapping[str, IPv4Address]:
        return {n: a for n, a in options.siblings.items() if n in names}

    sink: health.Sink = publish.Silent()
    find: health.Finder = given
    if options.publish:
        door, instance_id = _aws(options)
        plan = _wait_for_plan(options)
        publisher = publish.Publisher(door, plan.topology, plan.gateway, instance_id)
        sink = publish.Background(publisher, time.time)
        if not options.siblings:
            find = functools.partial(door.find_gateways, plan.topology)
    loop = health.Loop(measure, sink, find, options.schedule, clock=time.time, sleep=time.sleep)
    return loop


@dataclass(frozen=True)
class _Named:
    topology: str
    gateway: str


def _wait_for_plan(options: _Options) -> _Named:
    """Who this gateway is, from the probe plan of its desired configuration; until there is
    one (a first boot still fetching it), wait rather than exit and be restarted."""
    said = False
    while True:
        try:
            plan, why = _plan(options.source()), f"{options.desired}: no usable {PROBE_PLAN}"
        except converge.AgentError as exc:
            plan, why = None, str(exc)
        if plan is not None and plan.topology and plan.gateway:
            return _Named(plan.topology, plan.gateway)
        if not said:
            log.warning("%s; waiting for it before publishing as this gateway", why)
            said = True
        time.sleep(options.interval)


def _aws(options: _Options) -> tuple[publish.AwsDoor, str]:
    """The one door to AWS, and this instance's ID (boto3 is imported only in the door)."""
    from vpnctl.aws.door.wire import chain_client

    identity = {} if options.instance_id else _instance_identity()
    instance_id = options.instance_id or identity["instanceId"]
    region = options.region or _region_of(options) or identity.get("region")
    if not region:
        raise converge.AgentError("no region: give --region (or gateway.env VPNCTL_REGION)")
    settings: dict[str, Any] = {"connect_timeout": 2, "read_timeout": 5,
                                "retries": {"max_attempts": 2, "mode": "standard"}}  # fmt: skip

    def client(service: str) -> Any:
        return chain_client(service, region, options.endpoint_url, **settings)

    account = identity.get("accountId", "of this gateway")
    door = publish.AwsDoor(client("cloudwatch"), client("events"), client("ec2"), account, region)
    return door, instance_id


def _instance_identity(base: str = IMDS) -> dict[str, str]:
    """instanceId, region and accountId from the instance metadata (IMDSv2: a token first)."""
    put = urllib.request.Request(f"{base}/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})  # fmt: skip
    try:
        with urllib.request.urlopen(put, timeout=2) as response:
            token = response.read().decode()
        get = urllib.request.Request(f"{base}/dynamic/instance-identity/document",
                                     headers={"X-aws-ec2-metadata-token": token})  # fmt: skip
        with urllib.request.urlopen(get, timeout=2) as response:
            document = json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise converge.AgentError(
            f"cannot read the instance metadata at {base} ({exc}): not on EC2? "
            "give --instance-id, or --no-publish"
        ) from None
    return {k: str(document[k]) for k in ("instanceId", "region", "accountId") if k in document}


def _region_of(options: _Options) -> str | None:
    try:
        text = options.source().contents.get(ENVIRONMENT, b"").decode()
    except converge.AgentError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "VPNCTL_REGION":
            return value.strip().strip('"') or None
    return None


def _say(result: converge.Result) -> None:
    """One JSON line per pass that did something (journald keeps it on a gateway)."""
    if not result.actions and result.state.error is None:
        return
    line = {
        "config": result.digest,
        "converged": result.converged,
        "ready": result.state.ready,
        "actions": [a.describe() for a in result.actions],
        "error": result.state.error,
    }
    click.echo(json.dumps(line, sort_keys=True))
