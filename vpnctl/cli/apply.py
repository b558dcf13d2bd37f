"""``vpnctl apply``: make AWS match the design, after showing what will change."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import Any

import click

from vpnctl import pipeline
from vpnctl.aws.changes import ChangeSet
from vpnctl.aws.convergence import State
from vpnctl.aws.deployer import Options
from vpnctl.cli.aws import aws_options, deployer, factory
from vpnctl.cli.prompt import Prompt
from vpnctl.errors import Diagnostic, InputError

WAIT_S = 900.0  # a new instance boots, fetches and converges in a few minutes
EMULATED_WAIT_S = 20.0  # an emulator's gateways may run agents (the lab's do): a short wait
SANDBOX_WAIT_S = 0.0  # the sandbox's never do: one look, then the list of why


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
@click.option(
    "--change-set",
    "change_set",
    type=click.Path(dir_okay=False, exists=True),
    help="Apply only this saved change set (from --dry-run --format json), refused if AWS "
    "or the topology moved since it was made.",
)
@click.option("--no-wait", is_flag=True, help="Return once the changes are made, without "
              "waiting for the gateways to converge (a replacement starts its first step "
              "only; the next apply goes on).")  # fmt: skip
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(0, 86400),
    metavar="SECONDS",
    help=f"Wait at most this long for every gateway to run the designed configuration (and "
    "for each replacement step's new instances) "
    f"[{WAIT_S:.0f}; {EMULATED_WAIT_S:.0f} with --endpoint-url or --sandbox, where no agent runs].",
)
@aws_options
def apply(
    topology: str,
    dry_run: bool,
    yes: bool,
    fmt: str,
    frozen: bool,
    lock_wait: float,
    change_set: str | None,
    no_wait: bool,
    wait_s: float | None,
    endpoint_url: str | None,
    sandbox: bool,
) -> None:
    """Make AWS match the design of TOPOLOGY: show the change set, ask, then make it.

    Answering no changes nothing, says so and exits 1.
    """
    click.get_current_context().obj = dataclasses.replace(factory(), lock_wait_s=lock_wait)
    planned = pipeline.plan(topology)
    if frozen or not dry_run:  # a dry run writes no lock, but --frozen still checks it
        pipeline.record(planned, frozen)
    if fmt == "json" and not (yes or dry_run):
        raise click.UsageError("--format json needs --yes or --dry-run (there is no one to ask)")
    prompt = Prompt("Make these changes?")
    started = time.monotonic()
    if wait_s is None:
        wait_s = SANDBOX_WAIT_S if sandbox else EMULATED_WAIT_S if endpoint_url else WAIT_S
    wait = None if no_wait else wait_s
    options = Options(dry_run=dry_run, yes=yes, fmt=fmt, saved=_saved(change_set), wait_s=wait)
    with deployer(planned, endpoint_url, sandbox, prompt, fmt) as d:
        d.say = functools.partial(click.echo, err=True)
        changes = d.apply(planned, options)
    prompt.check()
    if changes and not dry_run:
        took = time.monotonic() - (prompt.answered_at or started)
        click.echo(_complete(changes, took), err=fmt == "json")
        if d.pending:
            click.echo(_not_converged(d.pending, wait or 0.0), err=True)
        elif no_wait:
            click.echo("Not waiting for the gateways to converge (--no-wait).", err=True)
        click.echo(_next(topology, endpoint_url, sandbox), err=fmt == "json")


def _not_converged(pending: tuple[State, ...], waited: float) -> str:
    """Exit status stays 0: the changes are made; converging is the gateways' part, and
    ``vpnctl status`` shows it. The note says which gateways have not, and why."""
    head = f"Not converged after {waited:.0f} s" if waited else "Not converged"
    lines = [f"{head}: {len(pending)} gateway(s) do not run the designed "
             "configuration yet (`vpnctl status` shows them):"]  # fmt: skip
    lines += [f"  {s.gateway} ({s.account}, {s.region}): {s.why()}" for s in pending]
    return "\n".join(lines)


def _complete(changes: ChangeSet, seconds: float) -> str:
    n = changes.counts()
    return (
        f"Apply complete: {n['add']} added, {n['change']} changed, {n['destroy']} destroyed "
        f"in {seconds:.1f} s."
    )


def _next(topology: str, endpoint_url: str | None, sandbox: bool) -> str:
    where = " --sandbox" if sandbox else f" --endpoint-url {endpoint_url}" if endpoint_url else ""
    return f"Next: `vpnctl status {topology}{where}` shows the gateways, tunnels and DNS."


def _saved(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        found = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            [Diagnostic(path, 1, "(change set)", f"not readable JSON: {exc}")]
        ) from None
    if not isinstance(found, dict):
        raise InputError([Diagnostic(path, 1, "(change set)", "not a vpnctl change set")])
    return found
