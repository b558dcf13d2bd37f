"""``vpnctl render``: every gateway's OpenVPN configs and user-data, as files. Never touches AWS."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click

from vpnctl import keys, pipeline, render
from vpnctl.aws import store
from vpnctl.failover import package


@click.command("render")
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write DIR/<gateway>/user-data, DIR/<gateway>/config.json (the desired "
    "configuration apply stores) and DIR/<gateway>/openvpn/<tunnel>.conf.",
)
@click.option(
    "--with-keys",
    is_flag=True,
    help="Generate fresh keys and put them inline, so each config runs as it is (files 0600).",
)
@click.option(
    "--frozen", is_flag=True, help="Fail instead of writing a changed lock file (for CI pipelines)."
)
def render_command(topology: str, out: str, with_keys: bool, frozen: bool) -> None:
    """Write the gateway artifacts of TOPOLOGY into --out DIR.

    Without --with-keys the configs name the key files each gateway fetches from SSM at boot,
    and DIR holds no key material. --with-keys makes new keys (not the ones apply stores).
    """
    planned = pipeline.plan(topology)
    written = pipeline.record(planned, frozen)
    held = keys.generate_all(planned.design) if with_keys else None
    software = package.gateway_software()
    pin = render.Pin(store.software_key(planned.topology.name, software.sha256), software.sha256)
    made = render.artifacts(planned.topology, planned.design, pin, held)
    root = Path(out)
    _remove_stale(root, made)
    for directory in sorted({(root / a.path).parent for a in made}):  # once each, not per file
        directory.mkdir(parents=True, exist_ok=True)
    for artifact in made:
        _write(root / artifact.path, artifact.content, secret=artifact.secret)
    for gateway in _gateway_dirs(made):
        _write(root / gateway / MARK, MARK_TEXT, secret=False)
    if written:
        click.echo(f"wrote {planned.lock_path}", err=True)
    gateways = len(planned.design.gateways)
    tunnels = len(made) - 2 * gateways
    click.echo(f"rendered {gateways} gateways, {tunnels} tunnel configs into {root}")


def _write(path: Path, content: str | bytes, secret: bool) -> None:
    """Write ``content`` into ``path`` (its directory exists); a secret file is 0600 before
    any byte is in it, also when it was there before with another mode."""
    data = content.encode() if isinstance(content, str) else content
    mode = 0o600 if secret else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(fd, mode)
        handle.write(data)


MARK = ".vpnctl-rendered"
MARK_TEXT = (
    "vpnctl render wrote this directory; a later render into the same --out removes it when "
    "its gateway is no longer in the design.\n"
)


def _gateway_dirs(made: tuple[render.Artifact, ...]) -> set[str]:
    return {a.path.parts[0] for a in made if len(a.path.parts) > 1}


def _remove_stale(root: Path, made: tuple[render.Artifact, ...]) -> None:
    """Directories of gateways no longer in the design go, but only those vpnctl rendered
    (they hold its mark); so do configs of tunnels no longer in the design (maybe with keys)."""
    gateways = _gateway_dirs(made)
    for old in root.iterdir() if root.is_dir() else ():
        rendered = old.is_dir() and not old.is_symlink() and (old / MARK).is_file()
        if rendered and old.name not in gateways:
            shutil.rmtree(old)
    keep = {root / a.path for a in made}
    for directory in {(root / a.path).parent for a in made if a.path.parent.name == "openvpn"}:
        for old in directory.glob("*.conf") if directory.is_dir() else ():
            if old not in keep:
                old.unlink()
