"""The change set for people (terraform-style text) and for scripts (JSON)."""

from __future__ import annotations

import dataclasses
import json
from itertools import groupby
from typing import Any

from vpnctl.aws.changes import Change, ChangeSet, Ref

SIGN_ORDER = {"+": 0, "~": 1, "-": 2}


def _group(change: Change) -> tuple[str, str, str]:
    w = change.where
    return (w.account, w.region, w.vpc)


def to_text(changes: ChangeSet) -> str:
    if not changes:
        return f"{changes.topology}: no changes; AWS matches the design.\n"
    lines: list[str] = []
    ordered = sorted(changes.changes, key=_group)
    for (account, region, vpc), items in groupby(ordered, key=_group):
        where = f"account {account}, region {region}" + (f", vpc {vpc}" if vpc else "")
        lines.append(f"{where}:")
        lines += [f"  {c.sign} {c.describe()}" for c in items]
    n = changes.counts()
    lines.append("")
    lines.append(f"Plan: {n['add']} to add, {n['change']} to change, {n['destroy']} to destroy.")
    return "\n".join(lines) + "\n"


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
