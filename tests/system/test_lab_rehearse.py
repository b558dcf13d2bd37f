"""``lab apply`` and ``lab watch`` as root: a running demo lab grows by a VPC through its gateway
agents while steady flows over every allowed path measure what the change cost.

The grown topology keeps the first one's lock file (as a user's edit does), so every existing
VPC keeps its addresses and every existing tunnel its name, port and keys.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tests.system.labs import TOPOLOGIES, apply_watched, invoke, leftovers, tunnel_pids
from vpnctl import pipeline
from vpnctl.cli import cli
from vpnctl.lab import lifecycle, shell

pytestmark = pytest.mark.needs("root", "netns", "openvpn", "nft")

NEW_VPC = "ap-southeast-1"
WATCH_S = 30.0


def demo_pair(work: Path) -> tuple[Path, Path]:
    """demo.yaml under a unique name, with its lock written, and the same grown by a one-AZ VPC
    linked to us-west-2 (ICMP to it allowed), beside a copy of that lock."""
    document = yaml.safe_load((TOPOLOGIES / "demo.yaml").read_text())
    document["name"] = f"t{uuid.uuid4().hex[:8]}"
    first = work / "demo.yaml"
    first.write_text(yaml.safe_dump(document, sort_keys=False))
    pipeline.record(pipeline.plan(first), frozen=False)
    document["vpcs"][NEW_VPC] = {"account": "main", "region": NEW_VPC, "azs": ["ap-southeast-1a"]}
    document["links"].append({"between": ["us-west-2", NEW_VPC]})
    document["allow"].append({"from": NEW_VPC, "to": "us-west-2", "proto": "icmp"})
    document["allow"].append({"from": "us-west-2", "to": NEW_VPC, "proto": "icmp"})
    grown = work / "grown.yaml"
    grown.write_text(yaml.safe_dump(document, sort_keys=False))
    shutil.copy(work / "demo.lock.json", work / "grown.lock.json")
    return first, grown


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[lifecycle.Lab, Path, Path]]:
    """The demo lab with its AWS path: ``lab apply`` pauses the hook runners and the route
    follower and starts them again on the edit."""
    yield from _running(tmp_path)


@pytest.fixture
def data_plane(tmp_path: Path) -> Iterator[tuple[lifecycle.Lab, Path, Path]]:
    """The demo lab without its AWS side (``lab up --no-aws``, 2 s instead of 20): for the
    edits that move no route through the hook."""
    yield from _running(tmp_path, "--no-aws")


def _running(tmp_path: Path, *up: str) -> Iterator[tuple[lifecycle.Lab, Path, Path]]:
    first, grown = demo_pair(tmp_path)
    lab = lifecycle.open_lab(first)
    try:
        invoke("lab", "up", str(first), *up)
        yield lab, first, grown
    finally:
        lifecycle.down(lab.layout.prefix)
        assert leftovers(lab.layout.prefix) == []


def test_growth_through_the_agents_costs_the_existing_flows_nothing(
    running: tuple[lifecycle.Lab, Path, Path],
) -> None:
    lab, first, grown = running
    before = tunnel_pids(lab)
    said, flows, _ = apply_watched(first, grown, WATCH_S)
    lines = dict(line.split(": ", 1) for line in said.splitlines() if line.startswith("gw-"))
    assert lines["gw-ap-southeast-1-a"].startswith("+ gateway (2 tunnels)")
    assert "+ tunnel ap-southeast-1-a--us-west-2-a" in lines["gw-us-west-2-a"]
    restarted = {f"{g} {t}" for g, line in lines.items() for t in _restarted(line)}
    # routes live in routes.json, not in the tunnel configs: growth restarts no tunnel
    assert restarted == set(), said
    assert "~ routes" in lines["gw-eu-west-1-a"]

    assert {(f["from"], f["to"]) for f in flows} == {("us-west-2", "eu-west-1"),
                                                      ("eu-west-1", "us-west-2")}  # fmt: skip
    assert {f["proto"] for f in flows} == {"tcp", "icmp"}
    for flow in flows:
        assert flow["sent"] > WATCH_S * 4, flow
        assert flow["lost"] == 0, flow
    longest = max(f["longest_gap_s"] for f in flows)
    print(f"longest gap on an existing flow during lab apply: {longest:.3f}s")
    assert longest < 1.0

    grown_lab = lifecycle.open_lab(grown)
    after = tunnel_pids(grown_lab)
    assert {k: after[k] for k in before} == before, "a kept tunnel restarted"
    assert invoke("lab", "test", str(grown))  # exit 0: every flow, the new VPC's too

    # and back: the VPC's namespaces go, its tunnels stop, the rest still passes
    said = invoke("lab", "apply", str(first))
    lines = dict(line.split(": ", 1) for line in said.splitlines() if line.startswith("gw-"))
    assert lines["gw-ap-southeast-1-a"].startswith("- gateway")
    assert "- tunnel ap-southeast-1-a--us-west-2-b" in lines["gw-us-west-2-b"]
    assert not [ns for ns in shell.namespaces() if ns.startswith(f"{lab.layout.prefix}-") and
                NEW_VPC in ns]  # fmt: skip
    assert invoke("lab", "test", str(first))


def _restarted(line: str) -> list[str]:
    """The tunnels a ``lab apply`` line says it restarted (``~ tunnel X (restarted)``)."""
    return [p.split()[2] for p in line.split("; ") if p.endswith("(restarted)")]


def test_an_unchanged_topology_applies_as_nothing(
    data_plane: tuple[lifecycle.Lab, Path, Path],
) -> None:
    lab, first, _ = data_plane
    before = tunnel_pids(lab)
    said = invoke("lab", "apply", str(first))
    lines = [line for line in said.splitlines() if line.startswith("gw-")]
    assert len(lines) == len(lab.layout.gateways)
    assert all(line.endswith(": unchanged") for line in lines), said
    assert tunnel_pids(lab) == before


def az_pair(work: Path) -> tuple[Path, Path]:
    """The issue's AZ-growth edit: frankfurt (one AZ) linked to singapore (two), and the same
    with frankfurt's second AZ, beside a copy of the first one's lock."""
    document = yaml.safe_load((TOPOLOGIES / "demo.yaml").read_text())
    document["name"] = f"t{uuid.uuid4().hex[:8]}"
    document["vpcs"] = {
        "frankfurt": {"account": "main", "region": "eu-central-1", "azs": ["eu-central-1a"]},
        "singapore": {"account": "main", "region": "ap-southeast-1",
                      "azs": ["ap-southeast-1a", "ap-southeast-1b"]},
    }  # fmt: skip
    document["links"] = [{"between": ["frankfurt", "singapore"]}]
    document["allow"] = [
        {"from": "frankfurt", "to": "singapore", "proto": "tcp", "ports": [443]},
        {"from": "frankfurt", "to": "singapore", "proto": "icmp"},
        {"from": "singapore", "to": "frankfurt", "proto": "icmp"},
    ]
    first = work / "one-az.yaml"
    first.write_text(yaml.safe_dump(document, sort_keys=False))
    pipeline.record(pipeline.plan(first), frozen=False)
    document["vpcs"]["frankfurt"]["azs"].append("eu-central-1b")
    grown = work / "two-az.yaml"
    grown.write_text(yaml.safe_dump(document, sort_keys=False))
    shutil.copy(work / "one-az.lock.json", work / "two-az.lock.json")
    return first, grown


def lock_tunnels(path: Path) -> dict[str, object]:
    found: dict[str, object] = json.loads(path.read_text())["tunnels"]
    return found


def test_an_az_added_and_removed_keeps_every_existing_tunnel_running(tmp_path: Path) -> None:
    first, grown = az_pair(tmp_path)
    lab = lifecycle.open_lab(first)
    try:
        invoke("lab", "up", str(first), "--no-aws")  # tunnels and flows: no route via the hook
        before = tunnel_pids(lab)
        assert set(before) == {"gw-frankfurt-a frankfurt-a--singapore-a",
                               "gw-frankfurt-a frankfurt-a--singapore-b",
                               "gw-singapore-a frankfurt-a--singapore-a",
                               "gw-singapore-b frankfurt-a--singapore-b"}  # fmt: skip
        said, flows, _ = apply_watched(first, grown, WATCH_S)
        lines = dict(line.split(": ", 1) for line in said.splitlines() if line.startswith("gw-"))
        assert "(restarted)" not in said
        assert lines["gw-frankfurt-b"].startswith("+ gateway (1 tunnels)")
        assert "+ tunnel frankfurt-b--singapore-b" in lines["gw-singapore-b"]
        assert "~ routes" in lines["gw-singapore-b"]  # its aggregate split, in place
        # make before break: the working (frankfurt-a, singapore-b) tunnel stays, untouched
        kept = lock_tunnels(tmp_path / "one-az.lock.json")
        assert {n: lock_tunnels(tmp_path / "two-az.lock.json")[n] for n in kept} == kept
        grown_lab = lifecycle.open_lab(grown)
        assert {k: tunnel_pids(grown_lab)[k] for k in before} == before, "a kept tunnel restarted"
        for flow in flows:
            assert flow["sent"] > WATCH_S * 4, flow
            assert flow["lost"] == 0, flow
        assert invoke("lab", "test", str(grown))  # exit 0: frankfurt-b's flows too

        said = invoke("lab", "apply", str(first))  # and the AZ removed again
        lines = dict(line.split(": ", 1) for line in said.splitlines() if line.startswith("gw-"))
        assert lines["gw-frankfurt-b"].startswith("- gateway")
        assert "- tunnel frankfurt-b--singapore-b" in lines["gw-singapore-b"]
        assert "(restarted)" not in said
        assert tunnel_pids(lab) == before
        assert invoke("lab", "test", str(first))
    finally:
        lifecycle.down(lab.layout.prefix)
        assert leftovers(lab.layout.prefix) == []


def test_an_allow_rule_added_and_removed_reloads_only_the_firewalls_that_carry_it(
    data_plane: tuple[lifecycle.Lab, Path, Path],
) -> None:
    lab, first, _ = data_plane
    before = tunnel_pids(lab)
    document = yaml.safe_load(first.read_text())
    document["allow"].append({"from": "eu-west-1", "to": "us-west-2", "proto": "tcp",
                              "ports": [8443]})  # fmt: skip
    edited = first.with_name("more.yaml")
    edited.write_text(yaml.safe_dump(document, sort_keys=False))
    shutil.copy(first.with_name("demo.lock.json"), first.with_name("more.lock.json"))
    # the running gateways drop it until they take the edit
    assert CliRunner().invoke(cli, ["lab", "test", str(edited)]).exit_code != 0

    said = invoke("lab", "apply", str(edited))
    lines = dict(line.split(": ", 1) for line in said.splitlines() if line.startswith("gw-"))
    assert set(lines.values()) == {"~ firewall"}, said
    assert tunnel_pids(lifecycle.open_lab(edited)) == before
    assert invoke("lab", "test", str(edited))  # 8443 passes, all else as before

    said = invoke("lab", "apply", str(first))
    lines = dict(line.split(": ", 1) for line in said.splitlines() if line.startswith("gw-"))
    assert set(lines.values()) == {"~ firewall"}, said
    assert tunnel_pids(lab) == before
    assert invoke("lab", "test", str(first))
