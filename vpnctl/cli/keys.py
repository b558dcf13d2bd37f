"""``vpnctl keys rotate``: new keys for a link, one tunnel at a time, the link kept up."""

from __future__ import annotations

import click

from vpnctl import pipeline
from vpnctl.cli.aws import aws_options, factory, sessions
from vpnctl.cli.common import require_recorded
from vpnctl.cli.prompt import ask


@click.group()
def keys() -> None:
    """Tunnel keys in SSM Parameter Store."""


@keys.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--link", required=True, help="The link, as the plan names it (a--b).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before starting.")
@aws_options
def rotate(topology: str, link: str, yes: bool, endpoint_url: str | None, sandbox: bool) -> None:
    """Give LINK's tunnels new keys, draining each tunnel's routes while it restarts.

    Answering no changes nothing, says so and exits 1.
    """
    from vpnctl.aws import rotation
    from vpnctl.failover.bundle import Bundle

    planned = pipeline.plan(topology)
    require_recorded(planned, "vpnctl keys rotate")
    bundle = Bundle.from_plan(planned)
    tunnels = rotation.tunnels_of(bundle, link, topology)
    click.echo(f"rotating the keys of {len(tunnels)} tunnel(s) of {link}, one at a time:")
    for tunnel in tunnels:
        click.echo(f"  {tunnel.name} ({tunnel.mode})")
    for warning in rotation.single_az_warnings(bundle, tunnels):
        click.echo(f"warning: {warning}", err=True)
    ask("Start?", yes)
    made = factory()
    with sessions(planned, endpoint_url, sandbox) as live:
        job = rotation.Rotation(live, bundle, made.retry(), say=click.echo, clock=made.clock,
                                sleep=made.sleep)  # fmt: skip
        job.rotate(tunnels)
