"""``vpnctl probe``: latency and loss to every link's far end, or to any hosts.

The shell around ``vpnctl.probe``: it finds the targets, runs the prober, steps the health
state, and sends the report where it was asked to go (stdout, a textfile, CloudWatch).
Under ``--format nagios`` even a usage error answers like a plugin: UNKNOWN, exit 3.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

import click

from vpnctl.cli.common import endpoint_url_option
from vpnctl.errors import Diagnostic, InputError, UsageError, VpnctlError
from vpnctl.probe import cloudwatch, formats, health, prober, spec, targets, timer
from vpnctl.probe.atomic import write_atomically
from vpnctl.probe.report import Report, Target, with_health
from vpnctl.probe.session import Schedule
from vpnctl.probe.verdict import Status, parse_thresholds
from vpnctl.topology import Failover, Probe, Thresholds, Topology, ordered

DEFAULT_STATE = "/var/lib/vpnctl/probe-state.json"


class _PluginCommand(click.Command):
    """With ``--format nagios``, a bad command line is UNKNOWN (exit 3), as plugins do."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> click.Context:
        nagios = "--format=nagios" in args or any(
            a == "--format" and b == "nagios" for a, b in itertools.pairwise(args)
        )
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if not nagios:
                raise
            _unknown(exc.format_message())

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.UsageError, VpnctlError) as exc:
            if ctx.params.get("fmt") != "nagios":
                raise
            _unknown(exc.format_message() if isinstance(exc, click.UsageError) else str(exc))


def _unknown(message: str) -> NoReturn:
    click.echo(f"PROBE UNKNOWN - {message}")
    sys.exit(Status.UNKNOWN.value)


def _thresholds(
    _ctx: click.Context, param: click.Parameter, value: str | None
) -> Thresholds | None:
    try:
        return None if value is None else parse_thresholds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


@click.command("probe", cls=_PluginCommand)
@click.argument("topology", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--target",
    "hosts",
    multiple=True,
    metavar="HOST",
    help="Probe this host (IPv4 address or name); repeat for more. No topology needed.",
)
@click.option(
    "--spec",
    type=click.Path(dir_okay=False),
    help="A gateway's probe plan from `vpnctl render` (/etc/vpnctl/probe.json): topology "
    "mode without the topology.",
)
@click.option("--link", help="Only this link's tunnels (topology mode).")
@click.option("--gateway", help="Probe as this gateway (default: found from local addresses).")
@click.option("--count", type=click.IntRange(1, 100_000), help="Echoes per target [topology: 20].")
@click.option("--interval-ms", type=click.IntRange(1, 60_000), help="Between echoes to one target.")
@click.option(
    "--timeout-ms",
    type=click.IntRange(1, 60_000),
    default=1000,
    show_default=True,
    help="After this an answer is late (not lost).",
)
@click.option(
    "--warn",
    callback=_thresholds,
    metavar="RTT_MS,LOSS%",
    help="Warning thresholds, as check_ping's -w (e.g. 250,2%).",
)
@click.option(
    "--crit",
    callback=_thresholds,
    metavar="RTT_MS,LOSS%",
    help="Critical thresholds, as check_ping's -c (e.g. 600,10%).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(formats.RENDERERS)),
    default="text",
    show_default=True,
)
@click.option(
    "--textfile",
    type=click.Path(dir_okay=False),
    help="Also write Prometheus textfile metrics here, atomically.",
)
@click.option(
    "--state",
    type=click.Path(dir_okay=False),
    help="History file: counts failed/good runs across runs for UP/DOWN.",
)
@click.option("--cloudwatch", "to_cloudwatch", is_flag=True, help="Publish with PutMetricData.")
@click.option(
    "--endpoint-url",
    callback=endpoint_url_option,
    help="Send AWS calls to this endpoint (a moto server, say).",
)
@click.option("--region", help="CloudWatch region (default: the AWS chain's).")
@click.option(
    "--install-timer",
    is_flag=True,
    help="Install a systemd timer running this probe every minute, then exit.",
)
@click.option(
    "--unit-dir",
    type=click.Path(file_okay=False),
    default=str(timer.UNIT_DIR),
    show_default=True,
    help="Where --install-timer writes its units.",
)
@click.option("--every", default="1min", show_default=True, help="Timer period (systemd time).")
def probe(**params: Any) -> None:
    """Measure latency and loss across every link, or to any hosts (--target)."""
    options = _Options.of(params)  # under nagios, errors become UNKNOWN (_PluginCommand)
    if params["install_timer"]:
        _install_timer(options, params)
        return
    report = _run(options)
    try:
        _deliver(report, options)
    except VpnctlError as exc:
        # the measurement is made: show it, then say what could not be sent (exit 1)
        click.echo(formats.RENDERERS[options.fmt](report), nl=False)
        if options.fmt != "nagios":
            raise
        click.echo(str(exc), err=True)  # a plugin's status stays the measurement's
        sys.exit(_exit_status(report, options.fmt))
    click.echo(formats.RENDERERS[options.fmt](report), nl=False)
    sys.exit(_exit_status(report, options.fmt))


@dataclass(frozen=True)
class _Options:
    """The command line, checked, with the topology's settings filled in."""

    fmt: str
    targets: tuple[Target, ...]
    schedule: Schedule
    warn: Thresholds
    crit: Thresholds
    failover: Failover
    topology: str | None
    source: str | None
    state: str | None
    textfile: str | None
    cloudwatch: bool
    endpoint_url: str | None
    region: str | None

    @classmethod
    def of(cls, p: dict[str, Any]) -> _Options:
        plan = _targets(p)
        settings = plan.probe
        return cls(
            fmt=p["fmt"],
            targets=plan.targets,
            schedule=Schedule(
                p["count"] or settings.count,
                p["interval_ms"] or settings.interval_ms,
                p["timeout_ms"],
            ),
            warn=p["warn"] or settings.warn,
            crit=ordered(p["warn"] or settings.warn, p["crit"] or settings.crit, click.UsageError),
            failover=plan.failover,
            topology=plan.topology,
            source=plan.gateway,
            state=p["state"],
            textfile=p["textfile"],
            cloudwatch=p["to_cloudwatch"],
            endpoint_url=p["endpoint_url"],
            region=p["region"],
        )


def _targets(p: dict[str, Any]) -> spec.Spec:
    """What to probe and how: from a topology, a rendered plan, or the --target hosts."""
    given = [x for x in ("topology", "spec", "hosts") if p[x]]
    if len(given) != 1:
        raise click.UsageError("give a TOPOLOGY, --spec FILE or --target HOST: one of them")
    if p["hosts"]:
        if p["link"] or p["gateway"]:
            raise click.UsageError("--link and --gateway need a TOPOLOGY")
        try:
            found = targets.adhoc(p["hosts"])
        except targets.TargetError as exc:
            raise click.UsageError(str(exc)) from None
        return spec.Spec(None, None, Probe(), Failover(), found)
    if p["spec"]:
        return _spec(p["spec"], p["link"])
    topo, found, name = _topology_targets(p["topology"], p["gateway"], p["link"])
    return spec.for_gateway(topo.name, name, topo.probe, topo.failover, found)


def _spec(path: str, link: str | None) -> spec.Spec:
    try:
        plan = spec.loads(Path(path).read_text(encoding="utf-8"), path)
    except OSError as exc:
        raise InputError([Diagnostic(path, 1, "(file)", exc.strerror or str(exc))]) from None
    except spec.SpecError as exc:
        raise InputError([Diagnostic(path, 1, "(file)", str(exc))]) from None
    if link is None:
        return plan
    kept = tuple(t for t in plan.targets if t.link == link)
    if not kept:
        raise InputError([Diagnostic(path, 1, "targets", f"no target on link {link}")])
    return replace(plan, targets=kept)


def _topology_targets(
    path: str, gateway: str | None, link: str | None
) -> tuple[Topology, tuple[Target, ...], str]:
    """The tunnels this gateway serves, from the design of the topology at ``path``."""
    from vpnctl import pipeline  # the design pipeline; imported only when a topology is used
    from vpnctl.cli.common import require_recorded

    planned = pipeline.plan(path)
    require_recorded(planned, "vpnctl probe")
    topo, design = planned.topology, planned.design
    try:
        name = gateway or targets.local_gateway(design, targets.local_addresses())
        found = targets.from_design(design, name, link, hosts=topo.probe.targets)
    except targets.TargetError as exc:  # about this machine or the options, not the file
        raise UsageError(str(exc)) from None
    return topo, found, name


def _run(options: _Options) -> Report:
    report = prober.probe(options.targets, options.schedule, options.warn, options.crit)
    report = replace(report, topology=options.topology, source=options.source)
    if options.state:
        report = _with_state(report, options.state, options.failover, options.crit)
    return report


def _with_state(report: Report, path: str, policy: Failover, crit: Thresholds) -> Report:
    store = health.Store(path)
    try:
        with store.locked():
            previous = store.load()
            results = with_health(report.results, previous, report.started_at, policy, crit)
            store.save({**previous, **{r.target.key: r.health for r in results if r.health}})
    except health.StateError as exc:
        raise InputError([Diagnostic(path, 1, "state", str(exc))]) from None
    except OSError as exc:
        raise VpnctlError(f"{path}: cannot keep the probe state there: {exc.strerror}") from None
    return replace(report, results=results)


def _deliver(report: Report, options: _Options) -> None:
    if options.textfile:
        try:
            write_atomically(options.textfile, formats.to_prometheus(report))
        except OSError as exc:
            raise VpnctlError(f"{options.textfile}: cannot write it: {exc.strerror}") from None
    if options.cloudwatch:
        client = cloudwatch.connect(options.endpoint_url, options.region)
        prober_name = options.source or socket.gethostname()
        cloudwatch.publish(client, report, options.topology or "adhoc", prober_name)


def _exit_status(report: Report, fmt: str) -> int:
    """Nagios: the plugin status. Otherwise 0, or 1 when the prober could not probe at all."""
    if fmt == "nagios":
        return report.status.value
    return 1 if report.transport is None else 0


def _install_timer(options: _Options, params: dict[str, Any]) -> None:
    command = [*_self_command(), *_timer_args(options, params)]
    written = timer.install(timer.units(command, params["every"]), Path(params["unit_dir"]))
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(
        f"enable it with: systemctl daemon-reload && systemctl enable --now {timer.NAME}.timer"
    )


def _self_command() -> list[str]:
    found = shutil.which("vpnctl")
    return [found] if found else [sys.executable, "-m", "vpnctl"]


def _timer_args(options: _Options, p: dict[str, Any]) -> list[str]:
    """The probe's own arguments, absolute where they are paths, for the unit's ExecStart."""
    args = ["probe"]
    if p["topology"]:
        args.append(str(Path(p["topology"]).resolve()))
    if p["spec"]:
        args += ["--spec", str(Path(p["spec"]).resolve())]
    args += [a for h in p["hosts"] for a in ("--target", h)]
    args += _pairs(
        ("--link", p["link"]),
        ("--gateway", p["gateway"]),
        ("--count", p["count"]),
        ("--interval-ms", p["interval_ms"]),
        ("--timeout-ms", p["timeout_ms"]),
        ("--region", p["region"]),
        ("--endpoint-url", p["endpoint_url"]),
    )
    args += ["--warn", _check_ping(options.warn), "--crit", _check_ping(options.crit)]
    args += ["--format", "json", "--state", str(Path(options.state or DEFAULT_STATE).resolve())]
    if options.textfile:
        args += ["--textfile", str(Path(options.textfile).resolve())]
    return args + (["--cloudwatch"] if options.cloudwatch or p["topology"] else [])


def _pairs(*pairs: tuple[str, Any]) -> Sequence[str]:
    return [str(x) for flag, value in pairs if value is not None for x in (flag, value)]


def _check_ping(t: Thresholds) -> str:
    return f"{t.rtt_ms:g},{t.loss_pct:g}%"
