"""``vpnctl agent``: the service on each gateway that makes it run its desired configuration."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import click

from vpnctl.agent import converge
from vpnctl.agent.backend import Backend, Processes, Systemd
from vpnctl.agent.layout import GATEWAY_STATE, Layout

log = logging.getLogger("vpnctl.agent")


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
def run_command(desired: str, digest: str | None, state: str, root: str | None,
                netns: str | None, once: bool, interval: float) -> None:  # fmt: skip
    """Make this gateway run the configuration in --desired, touching only what changed."""
    layout = Layout.under(Path(root)) if root else Layout.gateway()
    backend: Backend = Processes(netns, Path(state).parent / "run") if netns else Systemd()
    folder = Path(desired)
    result = converge.run(
        lambda: converge.load(folder, digest),
        layout,
        backend,
        Path(state),
        clock=time.time,
        sleep=time.sleep,
        interval_s=interval,
        observers=[_say],
        passes=1 if once else None,
    )
    if once and (result is None or not result.converged):
        raise SystemExit(1)


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
