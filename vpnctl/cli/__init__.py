"""The ``vpnctl`` command: one module per command group, each a thin shell over the core."""

from __future__ import annotations

import gc
import logging

import click

from vpnctl import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vpnctl")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
def cli(debug: bool) -> None:
    """Plan, build and watch VPC interconnects over OpenVPN gateways."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _register() -> None:
    # One line per command module; each module defines exactly one click command or group.
    from vpnctl.cli.apply import apply
    from vpnctl.cli.destroy import destroy
    from vpnctl.cli.lab import lab
    from vpnctl.cli.plan import plan
    from vpnctl.cli.probe import probe
    from vpnctl.cli.render import render_command
    from vpnctl.cli.status import status
    from vpnctl.cli.unlock import unlock

    cli.add_command(apply)
    cli.add_command(destroy)
    cli.add_command(lab)
    cli.add_command(plan)
    cli.add_command(probe)
    cli.add_command(render_command)
    cli.add_command(status)
    cli.add_command(unlock)


_register()


def main() -> None:
    # A plan of thousands of VPCs allocates millions of small objects that all live to the
    # end; with the default thresholds the cyclic collector rescans them over and over and
    # the run grows worse than linearly. A command is short-lived: collect far less often.
    gc.set_threshold(50_000, 20, 100)
    cli(prog_name="vpnctl")
