"""Checks several commands share before they start."""

from __future__ import annotations

from vpnctl.errors import LockConflict
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
