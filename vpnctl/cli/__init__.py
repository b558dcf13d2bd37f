"""The ``vpnctl`` command: one module per command group, each a thin shell over the core."""

from __future__ import annotations

import gc
import importlib
import logging

import click

from vpnctl import __version__, redact

# One entry per command module: name -> "module:attribute". A command's module is imported only
# when that command runs (or for --help), so `vpnctl plan` and the probe a gateway's timer runs
# every minute do not pay for importing boto3 and the AWS layer.
COMMANDS = {
    "agent": "vpnctl.cli.agent:agent",
    "apply": "vpnctl.cli.apply:apply",
    "destroy": "vpnctl.cli.destroy:destroy",
    "failover": "vpnctl.cli.failover:failover",
    "keys": "vpnctl.cli.keys:keys",
    "lab": "vpnctl.cli.lab:lab",
    "plan": "vpnctl.cli.plan:plan",
    "probe": "vpnctl.cli.probe:probe",
    "render": "vpnctl.cli.render:render_command",
    "status": "vpnctl.cli.status:status",
    "unlock": "vpnctl.cli.unlock:unlock",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vpnctl")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
def cli(debug: bool) -> None:
    """Plan, build and watch VPC interconnects over OpenVPN gateways."""
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
