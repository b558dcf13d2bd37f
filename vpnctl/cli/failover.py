"""``vpnctl failover``: run the failover hook on one event, or build its Lambda package.

    vpnctl failover TOPOLOGY --event FILE [--endpoint-url URL | --sandbox]
    vpnctl failover package TOPOLOGY --out hook.zip

The first form is ``failover run`` without saying so: a group whose unknown first word goes
to ``run``. It runs the same pipeline as the Lambda handler, with every account of the
topology in reach (their profiles); decisions go to stderr as JSON lines, the summary to
stdout. A refused event exits 2 before anything is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from vpnctl import pipeline
from vpnctl.cli.aws import aws_options, factory, sessions
from vpnctl.errors import EventError, UsageError


class DefaultToRun(click.Group):
    """A group whose first argument, when it names no subcommand, is ``run``'s."""

    default = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultToRun)
def failover() -> None:
    """Run the failover hook on one event (TOPOLOGY --event FILE), or `package` it."""


@failover.command("run")
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option(
    "--event",
    "event_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The event as AWS delivers it (JSON); - for stdin.",
)
@aws_options
def run_command(topology: str, event_file: str, endpoint_url: str | None, sandbox: bool) -> None:
    """Run the hook on the event in FILE against TOPOLOGY's AWS accounts."""
    from vpnctl.failover import events, hook
    from vpnctl.failover.bundle import Bundle

    parsed = events.parse(_read_event(event_file))
    planned = pipeline.plan(topology)
    bundle = Bundle.from_plan(planned)
    made = factory()
    with sessions(planned, endpoint_url, sandbox) as live:
        env = hook.Env(
            live,
            frozenset(bundle.accounts),
            clock=made.clock,
            sleep=made.sleep,
            retry=made.retry(),
            say=lambda line: click.echo(line, err=True),
        )
        result = hook.run(parsed, bundle, env)
    click.echo(json.dumps(result, indent=1))


def _read_event(path: str) -> Any:
    try:
        with click.open_file(path, "r") as stream:
            text = stream.read()
    except OSError as exc:
        raise EventError(f"{path}: cannot read the event ({exc.strerror or exc})") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise EventError(f"{path}: the event is not JSON ({exc})") from None


@failover.command("package")
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The zip to write.")
def package_command(topology: str, out: str) -> None:
    """Build the hook's Lambda package for TOPOLOGY (its design embedded) into OUT."""
    from vpnctl.failover import package
    from vpnctl.failover.bundle import Bundle

    target = Path(out)
    if not target.parent.is_dir():
        raise UsageError(f"--out {out}: no directory {target.parent} to write it in")
    built = package.build(Bundle.from_plan(pipeline.plan(topology)))
    try:
        target.write_bytes(built.data)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write it ({exc.strerror or exc})") from None
    click.echo(
        f"{out}: {len(built.data)} bytes, sha256 {built.sha256}; handler {package.HANDLER}, "
        f"runtime {package.RUNTIME}"
    )
