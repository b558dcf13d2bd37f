"""A gateway's probe plan: written by render, read by `probe --spec`."""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.builders import designed, doc, parse
from vpnctl import render
from vpnctl.cli import cli
from vpnctl.probe import spec
from vpnctl.probe.report import Target


def test_render_writes_each_gateway_its_own_far_ends() -> None:
    d = doc(probe={"count": 7, "interval_ms": 50, "targets": {"west": ["10.1.2.3"]}})
    topo, design = parse(d), designed(d)
    plan = spec.loads(render.probe_plan(topo, design, "gw-east-a"), "probe.json")
    assert (plan.topology, plan.gateway, plan.probe.count) == ("t", "gw-east-a", 7)
    assert plan.targets == (
        Target(IPv4Address("169.254.64.2"), "east--west", "gw-west-a"),
        Target(IPv4Address("10.1.2.3"), "east--west", "gw-west-a"),
    )
    assert plan.failover == topo.failover


def test_a_plan_round_trips_and_holds_no_secret() -> None:
    d = doc()
    text = render.probe_plan(parse(d), designed(d), "gw-west-b")
    assert spec.dumps(spec.loads(text, "f")) == text
    assert "key" not in text.lower()


def test_something_else_is_refused_by_name() -> None:
    with pytest.raises(spec.SpecError, match=r"probe\.json: not a vpnctl probe plan"):
        spec.loads(json.dumps({"format_version": 1}), "probe.json")


def test_probe_refuses_a_bad_plan_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "probe.json"
    bad.write_text("{}")
    result = CliRunner().invoke(cli, ["probe", "--spec", str(bad)])
    assert result.exit_code == 2
    assert "not a vpnctl probe plan" in result.stderr


def test_probe_link_filter_on_a_plan(tmp_path: Path) -> None:
    d = doc()
    path = tmp_path / "probe.json"
    path.write_text(render.probe_plan(parse(d), designed(d), "gw-west-b"))
    result = CliRunner().invoke(cli, ["probe", "--spec", str(path), "--link", "nope"])
    assert result.exit_code == 2
    assert "no target on link nope" in result.stderr
