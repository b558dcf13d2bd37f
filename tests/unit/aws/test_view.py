"""A saved change set is applied only while it is exactly what apply would do now."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vpnctl.aws.changes import ChangeSet
from vpnctl.aws.view import check_saved, to_json
from vpnctl.errors import StaleChangeSet

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


def test_destroy_with_nothing_to_do_says_so_not_that_aws_matches() -> None:
    from vpnctl.aws.view import to_text

    assert (
        to_text(NOTHING, "destroy")
        == "demo: nothing to destroy; vpnctl made nothing here for it.\n"
    )
    assert to_text(NOTHING) == "demo: no changes; AWS matches the design.\n"


def test_a_long_list_wraps_between_items_never_inside_a_name() -> None:
    from vpnctl.aws.changes import DeleteParameters, Where
    from vpnctl.aws.view import WIDTH, to_text

    names = tuple(f"/vpnctl/mesh/tunnel-{i:03d}/tls-crypt" for i in range(200))
    text = to_text(ChangeSet("mesh", (DeleteParameters(Where("main", "us-west-2"), names),), "f"))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    body = " ".join(line.strip() for line in lines[1:-2])
    assert body == "- ssm keys " + ", ".join(names)
