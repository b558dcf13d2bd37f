"""The ``vpnctl`` command: one module per command group, each a thin shell over the core.

This module is the one exit point. Every ``VpnctlError`` a command raises becomes its message
on stderr and its exit status (``vpnctl.errors`` draws them); anything else is a bug and
becomes one line naming it, with the ``--debug`` hint, exit 1. ``--debug`` lets both through
with their traceback.
"""

from __future__ import annotations

import gc
import importlib
from typing import Any

import click

from vpnctl import __version__
from vpnctl.commands import COMMANDS, DEBUG_HINT, DESCRIPTION, short_help
from vpnctl.errors import VpnctlError


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
    # its help is DESCRIPTION (set below), which `vpnctl --help`'s fast path prints too
    import logging  # here, not at the top: `vpnctl --help` never gets this far

    from vpnctl import redact

    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    redact.install()


cli.help = DESCRIPTION


def main() -> None:
    # A plan of thousands of VPCs allocates millions of small objects that all live to the
    # end; with the default thresholds the cyclic collector rescans them over and over and
    # the run grows worse than linearly. A command is short-lived: collect far less often.
    gc.set_threshold(50_000, 20, 100)
    cli(prog_name="vpnctl")


__all__ = ["COMMANDS", "DEBUG_HINT", "cli", "main"]
