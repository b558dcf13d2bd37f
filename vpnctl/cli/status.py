"""``vpnctl status``: what is live for a topology, and where it drifted from the design."""

from __future__ import annotations

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
    servers = resolvers or live.zone.name_servers
    answers = dns.ask([g.fqdn for g in intent.design.gateways], servers)
    click.echo(report(intent, live, answers, diff(intent, live)).text(), nl=False)
