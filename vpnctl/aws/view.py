"""The change set for people (terraform-style text) and for scripts (JSON)."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from collections.abc import Mapping
from itertools import groupby
from typing import Any

from vpnctl.aws.changes import Change, ChangeSet, Ref
from vpnctl.errors import StaleChangeSet

SIGN_ORDER = {"+": 0, "~": 1, "-": 2}


def _group(change: Change) -> tuple[str, str, str]:
    w = change.where
    return (w.account, w.region, w.vpc)


WIDTH = 100  # a change's line wraps here, its continuation indented under its description


def to_text(changes: ChangeSet, purpose: str = "apply") -> str:
    """The change set, grouped by account, region and VPC; ``purpose`` (apply or destroy)
    only words the empty case."""
    if not changes:
        if purpose == "destroy":
            return f"{changes.topology}: nothing to destroy; vpnctl made nothing here for it.\n"
        return f"{changes.topology}: no changes; AWS matches the design.\n"
    lines: list[str] = []
    ordered = sorted(changes.changes, key=_group)
    for (account, region, vpc), items in groupby(ordered, key=_group):
        where = f"account {account}, region {region}" + (f", vpc {vpc}" if vpc else "")
        lines.append(f"{where}:")
        lines += [_wrapped(f"  {c.sign} {c.describe()}") for c in items]
    n = changes.counts()
    lines.append("")
    lines.append(f"Plan: {n['add']} to add, {n['change']} to change, {n['destroy']} to destroy.")
    return "\n".join(lines) + "\n"


def _wrapped(line: str) -> str:
    """Long lists (every SSM key of a mesh, say) break between items, never inside a name."""
    if len(line) <= WIDTH:
        return line
    return textwrap.fill(
        line, WIDTH, subsequent_indent="      ", break_long_words=False, break_on_hyphens=False
    )


def check_saved(saved: Mapping[str, Any], fresh: ChangeSet) -> None:
    """Refuse ``saved`` (a ``--format json`` change set) unless it is what apply would do now:
    same format, topology and live state, and the same changes."""
    now = json.loads(to_json(fresh))
    if saved.get("format_version") != now["format_version"]:
        raise StaleChangeSet(
            f"the saved change set has format_version {saved.get('format_version')!r}, this "
            f"vpnctl writes {now['format_version']}: make it again with --dry-run --format json"
        )
    if saved.get("topology") != now["topology"]:
        raise StaleChangeSet(
            f"the saved change set is for topology {saved.get('topology')!r}, not {now['topology']!r}"
        )
    if saved.get("fingerprint") != now["fingerprint"]:
        raise StaleChangeSet(
            f"the saved change set is stale: AWS changed since it was made (fingerprint "
            f"{saved.get('fingerprint')}, now {now['fingerprint']}); review a new one "
            "(--dry-run --format json) and apply that"
        )
    if saved.get("changes") != now["changes"]:
        raise StaleChangeSet(
            "the saved change set no longer matches what this topology asks for (the topology "
            "or its lock file changed since); review a new one and apply that"
        )


def to_json(changes: ChangeSet) -> str:
    document = {
        "format_version": changes.format_version,
        "topology": changes.topology,
        "fingerprint": changes.fingerprint,
        "summary": changes.counts(),
        "changes": [_change(c) for c in changes.changes],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _change(change: Change) -> dict[str, Any]:
    fields = {f.name: _value(getattr(change, f.name)) for f in dataclasses.fields(change)}
    fields.pop("where")
    return {
        "kind": type(change).__name__,
        "action": {"+": "create", "~": "update", "-": "delete"}[change.sign],
        "account": change.where.account,
        "region": change.where.region,
        "vpc": change.where.vpc or None,
        "stage": change.stage,
        "description": change.describe(),
        "detail": fields,
    }


def _value(value: Any) -> Any:
    if isinstance(value, Ref):
        return value.id or f"({value.kind} {value.name})"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_value(v) for v in value]
    return value
