"""The ``vpnctl`` command: one module per command group, each a thin shell over the core.

This module is the one exit point. Every ``VpnctlError`` a command raises becomes its message
on stderr and its exit status (``vpnctl.errors`` draws them); anything else is a bug and
becomes one line naming it, with the ``--debug`` hint, exit 1. ``--debug`` lets both through
with their traceback.
"""

from __future__ import annotations

import gc
import importlib
from typing import Any, NamedTuple

import click

from vpnctl import __version__
from vpnctl.errors import VpnctlError


class Entry(NamedTuple):
    target: str  # "module:attribute"
    help: str  # the line `vpnctl --help` shows; a test checks it against the command's own


# The command table, static: `vpnctl --help` prints it without importing a command module, and
# a command's module is imported only when that command runs, so `vpnctl plan`, `--help` and
# the probe a gateway's timer runs every minute never pay for boto3 and the AWS layer.
COMMANDS: dict[str, Entry] = {
    "agent": Entry("vpnctl.cli.agent:agent", "Run on a gateway: converge it to its desired configuration and report what it runs."),
    "apply": Entry("vpnctl.cli.apply:apply", "Make AWS match the design of TOPOLOGY: show the change set, ask, then make it."),
    "destroy": Entry("vpnctl.cli.destroy:destroy", "Remove everything vpnctl made for TOPOLOGY; adopted VPCs and foreign objects stay."),
    "failover": Entry("vpnctl.cli.failover:failover", "Run the failover hook on one event (TOPOLOGY --event FILE), or `package` it."),
    "keys": Entry("vpnctl.cli.keys:keys", "Tunnel keys in SSM Parameter Store."),
    "lab": Entry("vpnctl.cli.lab:lab", "Run the topology locally in network namespaces (needs root)."),
    "plan": Entry("vpnctl.cli.plan:plan", "Show the designed network of TOPOLOGY and record its allocations in the lock file."),
    "probe": Entry("vpnctl.cli.probe:probe", "Measure latency and loss across every link, or to any hosts (--target)."),
    "render": Entry("vpnctl.cli.render:render_command", "Write the gateway artifacts of TOPOLOGY into --out DIR."),
    "sandbox": Entry("vpnctl.cli.sandbox:sandbox", "An AWS emulator in the background that every --sandbox command shares."),
    "status": Entry("vpnctl.cli.status:status", "Show gateways, the configuration each runs, its tunnels, DNS and route tables in use."),
    "unlock": Entry("vpnctl.cli.unlock:unlock", "Remove the apply lock of TOPOLOGY (only when the apply holding it is dead)."),
}  # fmt: skip

DEBUG_HINT = "run again with --debug to see the traceback"


def short_help(text: str, limit: int) -> str:
    """The first sentence of ``text``, cut at a word with "..." to fit ``limit`` characters:
    what click shows for a command (click 8.5 deprecates its own helper for this)."""
    first, _, rest = text.partition(". ")
    if rest:
        first += "."
    if len(first) <= limit:
        return first
    return first[: max(limit - 3, 1)].rsplit(" ", 1)[0] + "..."


class Root(click.Group):
    """Subcommands imported on first use, listed from the static table; the one exit point."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, _, attribute = entry.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)  # as click.Group has it
        rows = [(n, short_help(COMMANDS[n].help, limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except VpnctlError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)
        except Exception as exc:  # a bug: one line, not a traceback
            if ctx.params.get("debug"):
                raise
            click.echo(f"vpnctl: internal error: {_one_line(exc)} ({DEBUG_HINT})", err=True)
            ctx.exit(1)


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@click.group(cls=Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vpnctl")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
def cli(debug: bool) -> None:
    """Plan, build and watch VPC interconnects over OpenVPN gateways."""
    import logging  # here, not at the top: `vpnctl --help` never gets this far

    from vpnctl import redact

    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    redact.install()


def main() -> None:
    # A plan of thousands of VPCs allocates millions of small objects that all live to the
    # end; with the default thresholds the cyclic collector rescans them over and over and
    # the run grows worse than linearly. A command is short-lived: collect far less often.
    gc.set_threshold(50_000, 20, 100)
    cli(prog_name="vpnctl")
