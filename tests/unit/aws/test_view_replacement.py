"""The change set shows the gateways replaced, AZ by AZ, after its changes. Pure."""

from __future__ import annotations

import json

from tests.builders import designed, doc
from vpnctl import replacement as rp
from vpnctl.aws import view
from vpnctl.aws.changes import ChangeSet

DESIGN = designed(doc())
PLAN = rp.plan(DESIGN, [rp.Why(g.name, ("image a -> b",)) for g in DESIGN.gateways])
NONE = ChangeSet("t", (), "f")


def test_the_text_lists_the_steps_after_the_changes() -> None:
    text = view.to_text(NONE, "apply", (PLAN, ["vpc x has one AZ: ..."]))
    assert text.startswith("t: no changes to make first.\n")
    assert "Replaced, AZ by AZ (4 gateway(s)" in text
    assert "  1. gw-east-a, gw-west-a\n  2. gw-east-b, gw-west-b\n" in text
    assert "  why: gw-east-a (image a -> b)" in text
    assert text.rstrip().endswith("WARNING: vpc x has one AZ: ...")


def test_nothing_replaced_says_nothing_more() -> None:
    assert view.to_text(NONE) == "t: no changes; AWS matches the design.\n"
    assert "replacement" not in json.loads(view.to_json(NONE))


def test_the_json_carries_the_plan_and_its_warnings() -> None:
    document = json.loads(view.to_json(NONE, (PLAN, ["w"])))
    assert document["replacement"]["steps"][0] == {
        "gateways": ["gw-east-a", "gw-west-a"],
        "cuts": [],
    }
    assert document["replacement"]["warnings"] == ["w"]
    assert len(document["replacement"]["gateways"]) == 4
