"""``vpnctl lab``: the whole topology in network namespaces on this machine, with real OpenVPN."""

from __future__ import annotations

import click

from vpnctl.lab import lifecycle
from vpnctl.lab.shell import LabError


@click.group()
def lab() -> None:
    """Run the topology locally in network namespaces (needs root)."""


@lab.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option(
    "--impair",
    multiple=True,
    metavar="TARGET:loss=N%,delay=Nms",
    help="Loss and delay on the links of a VPC, one link (a--b), or * (repeatable).",
)
@click.option(
    "--probe-count",
    type=click.IntRange(1, 1000),
    help="Echoes per probe run (default: the topology's probe.count).",
)
@click.option(
    "--probe-interval-ms",
    type=click.FloatRange(1, 60000),
    help="Between echoes (default: probe.interval_ms).",
)
@click.option(
    "--failures",
    type=click.IntRange(1, 100),
    help="Failed runs before a tunnel is DOWN (default: failover.consecutive_failures).",
)
@click.option(
    "--recoveries",
    type=click.IntRange(1, 1000),
    help="Good runs before it is UP again (default: failover.recovery_successes).",
)
@click.option(
    "--no-aws",
    is_flag=True,
    help="The data plane only: no AWS emulator and no failover hook; every table stays on its "
    "preferred gateway (connectivity and probes in seconds, drills move nothing).",
)
def up(
    topology: str,
    impair: tuple[str, ...],
    probe_count: int | None,
    probe_interval_ms: float | None,
    failures: int | None,
    recoveries: int | None,
    no_aws: bool,
) -> None:
    """Build TOPOLOGY in namespaces, start its gateways, and wait for every tunnel."""
    tuning = {"probe_count": probe_count, "probe_interval_ms": probe_interval_ms,
              "failures": failures, "recoveries": recoveries}  # fmt: skip
    found = lifecycle.open_lab(topology)
    _check_impairments(impair, found)
    lifecycle.up(found, impair, say=click.echo, tuning=tuning, aws=not no_aws)


def _check_impairments(specs: tuple[str, ...], found: lifecycle.Lab) -> None:
    """A wrong --impair is a usage error (exit 2), found before anything is built."""
    from vpnctl.lab.impair import ImpairError, parse

    try:
        parse(specs, found.design)
    except ImpairError as exc:
        raise click.BadParameter(str(exc), param_hint="--impair") from None


@lab.command()
@click.argument("topology", type=click.Path(dir_okay=False))
def down(topology: str) -> None:
    """Remove every namespace, link, process and file of TOPOLOGY's lab."""
    lifecycle.require_root()
    found = lifecycle.open_lab(topology)
    removed = lifecycle.down(found.layout.prefix)
    click.echo(f"lab {found.layout.prefix} is down ({len(removed)} namespaces removed)")


@lab.command("apply")
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--timeout", default=90.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds to wait for every gateway to converge.")  # fmt: skip
def apply_command(topology: str, timeout: float) -> None:
    """Bring the running lab to the edited TOPOLOGY through the gateway agents, and wait
    until they converge (new namespaces first, removed ones last)."""
    from vpnctl.lab import rehearse

    found = _running(topology)
    rehearse.apply(found, say=click.echo, wait=timeout)
    click.echo(f"lab {found.layout.prefix} runs {topology}")


@lab.command("watch")
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--seconds", required=True, type=click.FloatRange(0.5, 3600),
              help="How long to run the flows.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)  # fmt: skip
def watch_command(topology: str, seconds: float, fmt: str) -> None:
    """Steady flows over every allowed path for --seconds; per flow sent, lost and the
    longest gap. Runs while another lab command changes the lab."""
    import json

    from vpnctl.lab import watch

    lifecycle.require_root()
    found = _running(topology)
    results = watch.watch(found, seconds)
    if fmt == "json":
        flows = [r.as_json() for r in results]
        click.echo(json.dumps({"seconds": seconds, "flows": flows}, indent=1))
    else:
        click.echo(watch.describe(results))
    if any(r.sent == 0 for r in results):
        raise SystemExit(1)


@lab.command("test")
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option(
    "--drill",
    metavar="az=AZ",
    help="Also kill an AZ's gateways under traffic and "
    "measure the outage (they are revived afterwards).",
)
@click.option("--skip-matrix", is_flag=True, help="Only the drill (and the link probes).")
@click.option(
    "--how",
    type=click.Choice(["terminate", "hang"]),
    default="terminate",
    show_default=True,
    help="terminate: the instances terminate (EC2 tells the hook at once); "
    "hang: they stay up but pass and publish nothing (only their neighbours can tell).",
)
def test_command(topology: str, drill: str | None, skip_matrix: bool, how: str) -> None:
    """Check every allowed flow passes and others drop, probe every link, run a drill."""
    from vpnctl.lab import checks
    from vpnctl.lab import drill as drills

    lifecycle.require_root()
    found = _running(topology)
    bad = 0
    if not skip_matrix:
        outcomes = checks.run_checks(checks.plan_checks(found))
        click.echo(checks.describe(outcomes))
        bad += sum(1 for o in outcomes if not o.expected)
    links = checks.probe_links(found)
    click.echo("\n" + checks.describe_links(links))
    # a link that answers nothing is broken; one slow or lossy under --impair is only shown
    bad += sum(
        1 for _, report in links for r in report.results if r.stats is None or r.stats.received == 0
    )
    if drill:
        kind, _, zone = drill.partition("=")
        if kind != "az" or not zone:
            raise click.BadParameter("use --drill az=AZ", param_hint="--drill")
        outages = drills.az(found, zone, say=click.echo, how=how)
        click.echo("\n" + drills.describe(outages))
        bad += sum(1 for o in outages if o.seconds is None)
    if bad:
        raise SystemExit(1)


@lab.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--gateway", help="One gateway, e.g. gw-cn-north-1-a.")
@click.option("--az", help="Every gateway in this AZ (the destroy-an-AZ drill).")
@click.option("--hang", is_flag=True, help="Leave them running but passing nothing, their agents "
              "stopped (only their neighbours can tell), instead of terminating them.")  # fmt: skip
def kill(topology: str, gateway: str | None, az: str | None, hang: bool) -> None:
    """Stop gateways as if their instances died (or hung)."""
    from vpnctl.lab import drill

    found = _running(topology)
    names = drill.gateways_in(found, gateway, az)
    (drill.hang if hang else drill.kill)(found, names)
    click.echo(f"{'hung' if hang else 'killed'} {', '.join(names)}")


@lab.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--gateway", help="One gateway.")
@click.option("--az", help="Every gateway in this AZ.")
def revive(topology: str, gateway: str | None, az: str | None) -> None:
    """Bring killed gateways back (routes fail back as the topology's failback says)."""
    from vpnctl.lab import drill

    found = _running(topology)
    names = [
        n
        for n in drill.gateways_in(found, gateway, az)
        if n in drill.killed(found) | drill.hung(found)
    ]
    drill.revive(found, names)
    click.echo(f"revived {', '.join(names) or 'nothing (none of them was killed)'}")


def _running(topology: str) -> lifecycle.Lab:
    found = lifecycle.open_lab(topology)
    if not found.path("journal.jsonl").exists():
        raise LabError(f"no lab of {found.plan.topology.name} is up; run "
                                       f"`vpnctl lab up {topology}` first")  # fmt: skip
    return found
