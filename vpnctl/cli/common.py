"""Checks several commands share before they start."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from vpnctl.errors import LockConflict

if TYPE_CHECKING:  # the probe uses this module and imports the pipeline only with a topology
    from vpnctl.pipeline import Plan


def require_recorded(planned: Plan, command: str) -> None:
    """``command`` works on addresses already recorded (and applied): refuse to guess new ones.

    Such a command never writes the lock file, with or without ``--frozen``.
    """
    if planned.lock_changed:
        raise LockConflict(
            f"{planned.lock_path} does not match {planned.source.file} (the plan would change "
            f"it), and `{command}` only uses recorded addresses: run `vpnctl plan "
            f"{planned.source.file}` (and apply) first"
        )


def endpoint_url_option(
    _ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    """An endpoint must be an http(s) URL with a host: botocore would only say "Invalid
    endpoint" from deep inside the first call."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(
            f"{value!r} is not an http:// or https:// URL with a host (e.g. http://127.0.0.1:5000)",
            param=param,
        )
    return value
