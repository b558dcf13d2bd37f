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
from vpnctl.replacement import NOTHING, Replacement

SIGN_ORDER = {"+": 0, "~": 1, "-": 2}


def _group(change: Change) -> tuple[str, str, str]:
    w = change.where
    return (w.account, w.region, w.vpc)


WIDTH = 100  # a change's line wraps here, its continuation indented under its description


def to_text(
    changes: ChangeSet,
    purpose: str = "apply",
    replacing: tuple[Replacement, list[str]] = (NOTHING, []),
) -> str:
    """The change set, grouped by account, region and VPC; ``purpose`` (apply or destroy)
    only words the empty case; ``replacing``: the gateways replaced after it, with warnings."""
    if not changes:
        if purpose == "destroy":
            return f"{changes.topology}: nothing to destroy; vpnctl made nothing here for it.\n"
        if not replacing[0]:
            return f"{changes.topology}: no changes; AWS matches the design.\n"
        return f"{changes.topology}: no changes to make first.\n" + _replacing(*replacing)
    lines: list[str] = []
    ordered = sorted(changes.changes, key=_group)
    for (account, region, vpc), items in groupby(ordered, key=_group):
        where = f"account {account}, region {region}" + (f", vpc {vpc}" if vpc else "")
        lines.append(f"{where}:")
        lines += [_wrapped(f"  {c.sign} {c.describe()}") for c in items]
    n = changes.counts()
    lines.append("")
    lines.append(f"Plan: {n['add']} to add, {n['change']} to change, {n['destroy']} to destroy.")
    return "\n".join(lines) + "\n" + _replacing(*replacing)


def _replacing(plan: Replacement, warnings: list[str]) -> str:
    """The gateways replaced, AZ by AZ, after the changes: one line per step."""
    if not plan:
        return ""
    header = (
        f"Replaced, AZ by AZ ({len(plan.gateways)} gateway(s), after the changes above; each "
        "step drains its routes, replaces the instances, waits until the new ones report "
        "ready with the designed configuration and their tunnels up, then puts the routes back):"
    )
    lines = ["", _wrapped(header)]
    lines += [_wrapped(f"  {i}. {s.describe()}") for i, s in enumerate(plan.steps, 1)]
    lines += [_wrapped(f"  why: {w.describe()}") for w in plan.why]
    lines += [_wrapped(f"WARNING: {w}") for w in warnings]
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


def to_json(changes: ChangeSet, replacing: tuple[Replacement, list[str]] = (NOTHING, [])) -> str:
    document: dict[str, Any] = {
        "format_version": changes.format_version,
        "topology": changes.topology,
        "fingerprint": changes.fingerprint,
        "summary": changes.counts(),
        "changes": [_change(c) for c in changes.changes],
    }
    if replacing[0]:  # "replaced, AZ by AZ", after the changes
        document["replacement"] = {**replacing[0].as_json(), "warnings": list(replacing[1])}
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
