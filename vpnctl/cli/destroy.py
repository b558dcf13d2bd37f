"""``vpnctl destroy``: remove what vpnctl made for a topology, and nothing else."""

from __future__ import annotations

import time

import click

from vpnctl import pipeline
from vpnctl.aws.deployer import Options
from vpnctl.cli.aws import aws_options, deployer
from vpnctl.cli.prompt import Prompt


@click.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would be removed and stop.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before removing.")
@aws_options
def destroy(
    topology: str, dry_run: bool, yes: bool, endpoint_url: str | None, sandbox: bool
) -> None:
    """Remove everything vpnctl made for TOPOLOGY; adopted VPCs and foreign objects stay.

    Answering no changes nothing, says so and exits 1.
    """
    planned = pipeline.plan(topology)
    prompt = Prompt("Remove all of this?")
    started = time.monotonic()
    with deployer(planned, endpoint_url, sandbox, prompt) as d:
        changes = d.destroy(planned, Options(dry_run=dry_run, yes=yes))
    prompt.check()
    if changes and not dry_run:
        took = time.monotonic() - (prompt.answered_at or started)
        n = changes.counts()["destroy"]
        click.echo(f"Destroy complete: {n} destroyed in {took:.1f} s.")
