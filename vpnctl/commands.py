"""The static command table, and ``vpnctl --help`` printed from it without importing click.

``vpnctl``'s entry point is ``main`` here: ``vpnctl --help`` (or ``-h``) alone is answered from
the table in the layout click gives it (``tests/functional/test_cli_edges.py`` holds the two
equal at several widths), so the command list costs an interpreter and this module; anything
else goes to ``vpnctl.cli``, where click parses it and imports the one command module it runs.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from typing import NamedTuple

DESCRIPTION = "Plan, build and watch VPC interconnects over OpenVPN gateways."
DEBUG_HINT = "run again with --debug to see the traceback"
OPTIONS = (
    ("--version", "Show the version and exit."),
    ("--debug", "Show tracebacks and debug logs."),
    ("-h, --help", "Show this message and exit."),
)


class Entry(NamedTuple):
    target: str  # "module:attribute"
    help: str  # the line `vpnctl --help` shows; a test checks it against the command's own


# The command table, static: `vpnctl --help` prints it without importing a command module, and
# a command's module is imported only when that command runs, so `vpnctl plan`, `--help` and
# the gateway's agent never pay for boto3 and the AWS layer.
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


def short_help(text: str, limit: int) -> str:
    """The first sentence of ``text``, cut at a word with "..." to fit ``limit`` characters:
    what click shows for a command (click 8.5 deprecates its own helper for this)."""
    first, _, rest = text.partition(". ")
    if rest:
        first += "."
    if len(first) <= limit:
        return first
    return first[: max(limit - 3, 1)].rsplit(" ", 1)[0] + "..."


def width(columns: int | None = None) -> int:
    """The width click formats help to: the terminal's, at most 80, less 2, at least 50."""
    columns = shutil.get_terminal_size().columns if columns is None else columns
    return max(min(columns, 80) - 2, 50)


def root_help(columns: int | None = None) -> str:
    """What ``vpnctl --help`` prints, from the table alone."""
    w = width(columns)
    lines = ["Usage: vpnctl [OPTIONS] COMMAND [ARGS]...", ""]
    lines += textwrap.wrap(DESCRIPTION, w, initial_indent="  ", subsequent_indent="  ")
    lines += ["", "Options:", *_rows(OPTIONS), "", "Commands:"]
    names = sorted(COMMANDS)
    limit = w - 6 - max(len(n) for n in names)  # as click.Group has it
    lines += _rows([(n, short_help(COMMANDS[n].help, limit)) for n in names])
    return "\n".join(lines) + "\n"


def _rows(rows: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> list[str]:
    first = max(len(term) for term, _ in rows)
    return [f"  {term.ljust(first)}  {text}" for term, text in rows]


def main() -> None:
    if sys.argv[1:] in (["--help"], ["-h"]):
        sys.stdout.write(root_help())
        return
    from vpnctl.cli import main as run  # click, and the command's module when it runs

    run()
