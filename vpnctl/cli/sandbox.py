"""``vpnctl sandbox up|down|status``: the AWS emulator every ``--sandbox`` command shares.

``up`` starts moto's server in the background on 127.0.0.1 and returns; what apply makes there
stays until ``down``. Its address is kept in a state file (``$VPNCTL_SANDBOX_STATE``, else
``$XDG_STATE_HOME/vpnctl/sandbox.json``). Without a running sandbox, ``--sandbox`` works on a
new, empty emulator inside the command and says so.
"""

from __future__ import annotations

import time

import click

from vpnctl.aws import sandbox as sandboxes


@click.group()
def sandbox() -> None:
    """An AWS emulator in the background that every --sandbox command shares."""


@sandbox.command()
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Listen here (default: any free)."
)
def up(port: int) -> None:
    """Start the emulator in the background (or show the one already running)."""
    already = sandboxes.running()
    found = already or sandboxes.start(port=port)
    verb = "is already up" if already else "is up"
    click.echo(
        f"sandbox {verb} at {found.url} (pid {found.pid}); state in {sandboxes.state_path()}"
    )
    click.echo("--sandbox commands use it, and keep what they make, until `vpnctl sandbox down`.")


@sandbox.command()
def down() -> None:
    """Stop the emulator; everything made in it is gone."""
    found = sandboxes.stop()
    if found is None:
        click.echo("no sandbox is running")
    else:
        click.echo(f"sandbox at {found.url} (pid {found.pid}) stopped; its state is gone")


@sandbox.command()
def status() -> None:
    """Say whether the emulator runs and where (exit 1 when none does)."""
    found = sandboxes.running()
    if found is None:
        click.echo("no sandbox is running; --sandbox commands each get a new, empty one")
        raise SystemExit(1)
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(found.started_at))
    click.echo(f"sandbox up at {found.url} (pid {found.pid}) since {since}")
