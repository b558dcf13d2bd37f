"""Growing a lab's layout keeps what runs where it is: uplinks, ports and route table ids."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from vpnctl import pipeline
from vpnctl.design import Design
from vpnctl.lab import layout

TOPOLOGIES = Path(__file__).resolve().parents[3] / "topologies"


def designs(tmp_path: Path) -> tuple[Design, Design]:
    """demo, and demo grown by a VPC whose name sorts first (so a fresh layout would shift)."""
    document = yaml.safe_load((TOPOLOGIES / "demo.yaml").read_text())
    first = tmp_path / "demo.yaml"
    first.write_text(yaml.safe_dump(document))
    shutil.copy(TOPOLOGIES / "demo.lock.json", tmp_path / "demo.lock.json")
    document["vpcs"]["ap-southeast-1"] = {"account": "main", "region": "ap-southeast-1",
                                          "azs": ["ap-southeast-1a"]}  # fmt: skip
    document["links"].append({"between": ["us-west-2", "ap-southeast-1"]})
    grown = tmp_path / "grown.yaml"
    grown.write_text(yaml.safe_dump(document))
    shutil.copy(TOPOLOGIES / "demo.lock.json", tmp_path / "grown.lock.json")
    return pipeline.plan(first).design, pipeline.plan(grown).design


def test_growth_keeps_every_running_gateway_and_table_in_place(tmp_path: Path) -> None:
    small, big = designs(tmp_path)
    before = layout.plan(small, "vl-demo")
    kept = layout.Slots.from_json(before.slots.to_json())
    after = layout.plan(big, "vl-demo", kept)
    for name, node in before.gateways.items():
        assert after.gateways[name] == node
    for table in before.tables:
        assert next(t for t in after.tables if t.name == table.name).table_id == table.table_id
    new = after.gateways["gw-ap-southeast-1-a"]
    assert new.port not in {g.port for g in before.gateways.values()}
    assert new.public not in {g.public for g in before.gateways.values()}
    fresh = layout.plan(big, "vl-demo")
    assert fresh.gateways["gw-us-west-2-a"] != before.gateways["gw-us-west-2-a"]  # it would move


def test_a_removed_gateways_number_is_not_reused_while_kept(tmp_path: Path) -> None:
    small, big = designs(tmp_path)
    grown = layout.plan(big, "vl-demo")
    shrunk = layout.plan(small, "vl-demo", grown.slots)
    for name, node in shrunk.gateways.items():
        assert node.port == grown.gateways[name].port
