"""What the commands that touch AWS share: their options and the wiring of a Deployer."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from vpnctl.aws import sandbox as sandboxes
from vpnctl.aws.deployer import Deployer
from vpnctl.aws.factory import Factory
from vpnctl.aws.progress import Quiet, for_stream
from vpnctl.aws.session import Sessions
from vpnctl.cli.common import endpoint_url_option
from vpnctl.pipeline import Plan

Confirm = Callable[[], bool]


def aws_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--endpoint-url",
        metavar="URL",
        envvar="VPNCTL_ENDPOINT_URL",
        callback=endpoint_url_option,
        help="Send every AWS call to this AWS-compatible endpoint (a moto server, say).",
    )(command)
    return click.option(
        "--sandbox",
        is_flag=True,
        help="Run against the AWS emulator of `vpnctl sandbox up`; without one, against a new "
        "empty emulator that lives only as long as this command (needs vpnctl[sandbox]).",
    )(command)


def factory() -> Factory:
    found = click.get_current_context().find_object(Factory)
    return found if found is not None else Factory()


@contextmanager
def sessions(planned: Plan, endpoint_url: str | None, sandbox: bool) -> Iterator[Sessions]:
    if sandbox and endpoint_url:
        raise click.UsageError("--sandbox and --endpoint-url exclude each other")
    if sandbox:
        _say_which_sandbox()
    with factory().sessions(planned.topology, endpoint_url, sandbox) as made:
        yield made


def _say_which_sandbox() -> None:
    running = sandboxes.running()
    if running is not None:
        click.echo(f"sandbox: using the emulator at {running.url} (pid {running.pid})", err=True)
    else:
        click.echo(sandboxes.EPHEMERAL_NOTICE, err=True)


@contextmanager
def deployer(
    planned: Plan, endpoint_url: str | None, sandbox: bool, confirm: Confirm, fmt: str = "text"
) -> Iterator[Deployer]:
    with sessions(planned, endpoint_url, sandbox) as made:
        progress = Quiet() if fmt == "json" else for_stream(sys.stderr)
        yield Deployer(factory(), made, sys.stdout, progress, confirm)
