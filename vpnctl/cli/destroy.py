"""``vpnctl destroy``: remove what vpnctl made for a topology, and nothing else."""

from __future__ import annotations

import click

from vpnctl import pipeline
from vpnctl.aws.deployer import Options
from vpnctl.cli.aws import aws_options, deployer
from vpnctl.cli.common import reports_errors


@click.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would be removed and stop.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before removing.")
@aws_options
@reports_errors
def destroy(
    topology: str, dry_run: bool, yes: bool, endpoint_url: str | None, sandbox: bool
) -> None:
    """Remove everything vpnctl made for TOPOLOGY; adopted VPCs and foreign objects stay."""
    planned = pipeline.plan(topology)
    with deployer(planned, endpoint_url, sandbox) as d:
        d.destroy(planned, Options(dry_run=dry_run, yes=yes))
