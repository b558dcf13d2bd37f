"""``vpnctl plan``: the designed network, from the topology alone. Never touches AWS."""

from __future__ import annotations

import click

from vpnctl import lockfile, pipeline, planview
from vpnctl.errors import Problem


@click.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "dot"]),
    default="text",
    show_default=True,
    help="text for people, json for scripts, dot for Graphviz.",
)
@click.option(
    "--frozen", is_flag=True, help="Fail instead of writing a changed lock file (for CI pipelines)."
)
@click.option(
    "--release",
    "releases",
    multiple=True,
    metavar="VPC",
    help="Give up VPC's recorded addresses so it is allocated afresh (repeatable).",
)
@click.option("--prune", is_flag=True, help="Release lock entries the topology no longer has.")
@click.option(
    "--repair-tunnels",
    "repairs",
    multiple=True,
    metavar="LINK",
    help="Re-pair LINK (a--b) round-robin, removing recorded tunnels a fresh pairing would not "
    "make; without it a link keeps every tunnel whose gateways exist (repeatable).",
)
def plan(
    topology: str,
    fmt: str,
    frozen: bool,
    releases: tuple[str, ...],
    prune: bool,
    repairs: tuple[str, ...],
) -> None:
    """Show the designed network of TOPOLOGY and record its allocations in the lock file."""
    planned = pipeline.plan(topology, releases=releases, prune=prune, repairs=repairs)
    _check_releases(planned, releases)
    written = pipeline.record(planned, frozen)
    if fmt == "json":
        click.echo(planview.to_json(planned.design, planned.notes), nl=False)
    elif fmt == "dot":
        click.echo(planview.to_dot(planned.design), nl=False)
    else:
        click.echo(planview.to_text(planned.design, planned.notes), nl=False)
    if written:
        click.echo(f"wrote {planned.lock_path}", err=True)


def _check_releases(planned: pipeline.Plan, names: tuple[str, ...]) -> None:
    """Each --release must name a VPC of the topology or of its lock file (exit 2 if not)."""
    unknown = [n for n in names if n not in planned.topology.vpcs]
    if unknown:
        text = lockfile.read_text(planned.lock_path)
        recorded = lockfile.loads(text, str(planned.lock_path)).vpcs if text else {}
        unknown = [n for n in unknown if n not in recorded]
    if unknown:
        known = ", ".join(sorted(planned.topology.vpcs))
        raise planned.source.fail(
            [Problem("vpcs", f"--release {n}: no VPC {n} here or in the lock file (VPCs: {known})")
             for n in unknown]
        )  # fmt: skip
