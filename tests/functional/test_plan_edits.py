"""``vpnctl plan`` on day two: growth keeps tunnels, re-pairing on request, addressing edits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.builders import doc, text, vpc
from vpnctl.cli import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def frankfurt_singapore(frankfurt: str) -> dict[str, Any]:
    return doc(
        vpcs={
            "frankfurt": vpc("eu-central-1", frankfurt),
            "singapore": vpc("ap-southeast-1", "ab"),
        },
        links=[{"between": ["frankfurt", "singapore"]}],
    )


def write(path: Path, d: dict[str, Any]) -> Path:
    path.write_text(text(d), encoding="utf-8")
    return path


def line_of(path: Path, start: str) -> int:
    """The number of the first line of ``path`` that starts with ``start``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(start))


def tunnels(lock: Path) -> dict[str, Any]:
    entries: dict[str, Any] = json.loads(lock.read_text(encoding="utf-8"))["tunnels"]
    return entries


def test_growth_keeps_the_lock_entries_and_repair_re_pairs(
    runner: CliRunner, tmp_path: Path
) -> None:
    topology = write(tmp_path / "t.yaml", frankfurt_singapore("a"))
    lock = tmp_path / "t.lock.json"
    assert runner.invoke(cli, ["plan", str(topology)]).exit_code == 0
    before = tunnels(lock)
    write(topology, frankfurt_singapore("ab"))
    grown = runner.invoke(cli, ["plan", str(topology)])
    assert grown.exit_code == 0, grown.output
    after = tunnels(lock)
    assert {n: after[n] for n in before} == before
    assert set(after) - set(before) == {"frankfurt-b--singapore-b"}
    assert "--repair-tunnels frankfurt--singapore` re-pairs it round-robin" in grown.stdout
    repaired = runner.invoke(cli, ["plan", str(topology), "--repair-tunnels",
                                   "frankfurt--singapore"])  # fmt: skip
    assert repaired.exit_code == 0, repaired.output
    assert set(tunnels(lock)) == {"frankfurt-a--singapore-a", "frankfurt-b--singapore-b"}
    assert "--repair-tunnels" not in repaired.stdout


def test_repair_of_an_unknown_link_exits_2_and_changes_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    topology = write(tmp_path / "t.yaml", frankfurt_singapore("a"))
    lock = tmp_path / "t.lock.json"
    assert runner.invoke(cli, ["plan", str(topology)]).exit_code == 0
    recorded = lock.read_bytes()
    result = runner.invoke(cli, ["plan", str(topology), "--repair-tunnels", "nope--x"])
    assert result.exit_code == 2
    line = line_of(topology, "links:")
    assert (
        f"{topology}:{line}: links: --repair-tunnels nope--x: no link nope--x here" in result.stderr
    )
    assert "Traceback" not in result.output
    assert lock.read_bytes() == recorded


def test_a_moved_pool_exits_2_at_its_line_and_leaves_the_lock(
    runner: CliRunner, tmp_path: Path
) -> None:
    topology = write(tmp_path / "t.yaml", doc())
    lock = tmp_path / "t.lock.json"
    assert runner.invoke(cli, ["plan", str(topology)]).exit_code == 0
    recorded = lock.read_bytes()
    moved = doc()
    moved["addressing"]["pool"] = "10.128.0.0/12"
    write(topology, moved)
    result = runner.invoke(cli, ["plan", str(topology)])
    assert result.exit_code == 2
    line = line_of(topology, "  pool:")
    assert f"{topology}:{line}: addressing.pool: the recorded VPC(s) east " in result.stderr
    assert lock.read_bytes() == recorded


def test_a_new_vpc_prefix_is_noted_in_the_plan(runner: CliRunner, tmp_path: Path) -> None:
    topology = write(tmp_path / "t.yaml", doc())
    assert runner.invoke(cli, ["plan", str(topology)]).exit_code == 0
    edited = doc()
    edited["addressing"]["vpc_prefix"] = 20
    write(topology, edited)
    result = runner.invoke(cli, ["plan", str(topology), "--format", "json"])
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["notes"]
    assert any(n.startswith("addressing.vpc_prefix /20 applies to new VPCs only") for n in notes)
