"""``vpnctl status``: what is live for a topology, and where it drifted from the design."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from vpnctl import pipeline
from vpnctl.aws import artifacts, convergence, dns, probes
from vpnctl.aws.diff import diff
from vpnctl.aws.intent import Intent
from vpnctl.aws.live import Live
from vpnctl.aws.observe import observe
from vpnctl.aws.scope import Scope
from vpnctl.aws.status import Running, report
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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: per gateway its designed and running configuration and its tunnels' probes.",
)
@aws_options
def status(
    topology: str, resolvers: tuple[str, ...], fmt: str, endpoint_url: str | None, sandbox: bool
) -> None:
    """Show gateways, the configuration each runs, its tunnels, DNS and route tables in use.

    Per gateway: its instance and Elastic IP, the configuration digest it runs against the
    designed one, and its tunnels' latest probes; per route table, the gateway it uses."""
    planned = pipeline.plan(topology)
    intent = artifacts.intent(planned)
    retry = factory().retry()
    with sessions(planned, endpoint_url, sandbox) as s:
        live = observe(s, Scope.of(intent), retry)
        found = probes.read(s, intent, retry, lambda: dt.datetime.now(dt.UTC))
    designed = artifacts.designed(planned, intent)
    states = convergence.judge(intent.design.gateways, designed, convergence.of_live(live))
    running = Running(states, found)
    if fmt == "json":
        click.echo(json.dumps(_document(intent, live, running), indent=2, sort_keys=True))
        return
    names = [g.fqdn for g in intent.design.gateways]
    if resolvers or not (endpoint_url or sandbox):
        answers = dns.ask(names, resolvers or live.zone.name_servers, progress=_progress())
    else:
        # an emulator's name servers are names it made up: asking the machine's resolver for
        # them only waits for its timeouts
        answers = {n: dns.Answer(n, error=EMULATED, asked=False) for n in names}
    click.echo(report(intent, live, answers, diff(intent, live), running).text(), nl=False)


def _document(intent: Intent, live: Live, running: Running) -> dict[str, Any]:
    return {
        "topology": intent.topology,
        **running.document(),
        "drift": len(diff(intent, live).changes),
    }


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
