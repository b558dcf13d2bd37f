"""What the commands that touch AWS share: their options and the wiring of a Deployer."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from vpnctl.aws.deployer import Deployer
from vpnctl.aws.factory import Factory
from vpnctl.aws.progress import Quiet, for_stream
from vpnctl.aws.session import Sessions
from vpnctl.pipeline import Plan


def aws_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--endpoint-url",
        metavar="URL",
        envvar="VPNCTL_ENDPOINT_URL",
        help="Send every AWS call to this AWS-compatible endpoint (a moto server, say).",
    )(command)
    return click.option(
        "--sandbox",
        is_flag=True,
        help="Run against an AWS emulator started in this process (needs vpnctl[sandbox]).",
    )(command)


def factory() -> Factory:
    found = click.get_current_context().find_object(Factory)
    return found if found is not None else Factory()


@contextmanager
def sessions(planned: Plan, endpoint_url: str | None, sandbox: bool) -> Iterator[Sessions]:
    if sandbox and endpoint_url:
        raise click.UsageError("--sandbox and --endpoint-url exclude each other")
    with factory().sessions(planned.topology, endpoint_url, sandbox) as made:
        yield made


@contextmanager
def deployer(
    planned: Plan, endpoint_url: str | None, sandbox: bool, fmt: str = "text"
) -> Iterator[Deployer]:
    with sessions(planned, endpoint_url, sandbox) as made:
        progress = Quiet() if fmt == "json" else for_stream(sys.stderr)
        yield Deployer(
            factory(),
            made,
            sys.stdout,
            progress,
            lambda: click.confirm("Make these changes?", default=False, err=True),
        )
