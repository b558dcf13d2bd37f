"""A saved change set is applied only while it is exactly what apply would do now."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vpnctl.aws.changes import ChangeSet
from vpnctl.aws.view import StaleChangeSet, check_saved, to_json

NOTHING = ChangeSet("demo", (), "f1")


def saved(**overrides: object) -> dict[str, object]:
    return {**json.loads(to_json(NOTHING)), **overrides}


def test_the_same_change_set_against_the_same_state_passes() -> None:
    check_saved(saved(), NOTHING)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"format_version": 0}, "format_version 0"),
        ({"topology": "other"}, "is for topology 'other'"),
        ({"fingerprint": "f0"}, "stale: AWS changed since it was made (fingerprint f0, now f1)"),
        ({"changes": [{"kind": "CreateVpc"}]}, "no longer matches what this topology asks for"),
    ],
)
def test_anything_else_is_refused_with_the_reason(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(StaleChangeSet, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_saved(saved(**overrides), NOTHING)
