"""``vpnctl unlock``: break a topology's apply lock left by an apply that died."""

from __future__ import annotations

import click

from vpnctl import pipeline
from vpnctl.aws.applylock import ApplyLock
from vpnctl.cli.aws import aws_options, factory, sessions


@click.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@aws_options
def unlock(topology: str, endpoint_url: str | None, sandbox: bool) -> None:
    """Remove the apply lock of TOPOLOGY (only when the apply holding it is dead)."""
    planned = pipeline.plan(topology)
    made = factory()
    with sessions(planned, endpoint_url, sandbox) as s:
        lock = ApplyLock(s, planned.topology.dns.account, planned.topology.name, made.retry())
        held = lock.break_lock()
    if held is None:
        click.echo(f"{planned.topology.name}: not locked")
    else:
        click.echo(f"{planned.topology.name}: removed the lock of {held.owner} since {held.since}")
