"""``vpnctl status``: what is live for a topology, and where it drifted from the design."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from vpnctl import pipeline
from vpnctl.aws import artifacts, dns
from vpnctl.aws.diff import diff
from vpnctl.aws.observe import Scope, observe
from vpnctl.aws.status import report
from vpnctl.cli.aws import aws_options, factory, sessions


@click.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option(
    "--resolver",
    "resolvers",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Ask this DNS server instead of the zone's name servers (repeatable).",
)
@aws_options
def status(
    topology: str, resolvers: tuple[str, ...], endpoint_url: str | None, sandbox: bool
) -> None:
    """Show gateways, their instances, Elastic IPs and DNS answers, and route tables in use."""
    planned = pipeline.plan(topology)
    intent = artifacts.intent(planned)
    with sessions(planned, endpoint_url, sandbox) as s:
        live = observe(s, Scope.of(intent), factory().retry())
    names = [g.fqdn for g in intent.design.gateways]
    if resolvers or not (endpoint_url or sandbox):
        answers = dns.ask(names, resolvers or live.zone.name_servers, progress=_progress())
    else:
        # an emulator's name servers are names it made up: asking the machine's resolver for
        # them only waits for its timeouts
        answers = {n: dns.Answer(n, error=EMULATED, asked=False) for n in names}
    click.echo(report(intent, live, answers, diff(intent, live)).text(), nl=False)


EMULATED = "not asked (an emulator's name servers are not real: give --resolver HOST)"


def _progress() -> Callable[[int, int], None] | None:
    """A line counting the DNS answers on a terminal; nothing in a log."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\r\x1b[2K" if done == total else ""
        sys.stderr.write(f"\r\x1b[2Kasking DNS for the gateways' names: {done}/{total}{end}")
        sys.stderr.flush()

    return show
