"""``vpnctl apply``: make AWS match the design, after showing what will change."""

from __future__ import annotations

import dataclasses

import click

from vpnctl import pipeline
from vpnctl.aws.deployer import Options
from vpnctl.cli.aws import aws_options, deployer, factory
from vpnctl.cli.common import reports_errors


@click.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show the change set and stop.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before making the changes.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to show the change set.",
)
@click.option("--frozen", is_flag=True, help="Fail instead of writing a changed lock file.")
@click.option(
    "--lock-wait",
    type=click.FloatRange(0, 86400),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another apply (or key rotation) to release the lock.",
)
@aws_options
@reports_errors
def apply(
    topology: str,
    dry_run: bool,
    yes: bool,
    fmt: str,
    frozen: bool,
    lock_wait: float,
    endpoint_url: str | None,
    sandbox: bool,
) -> None:
    """Make AWS match the design of TOPOLOGY: show the change set, ask, then make it."""
    click.get_current_context().obj = dataclasses.replace(factory(), lock_wait_s=lock_wait)
    planned = pipeline.plan(topology)
    if not dry_run:
        pipeline.record(planned, frozen)
    if fmt == "json" and not (yes or dry_run):
        raise click.UsageError("--format json needs --yes or --dry-run (there is no one to ask)")
    with deployer(planned, endpoint_url, sandbox, fmt) as d:
        d.apply(planned, Options(dry_run=dry_run, yes=yes, fmt=fmt))
