"""``vpnctl plan`` notes a gateway with more tunnels than its instance type holds, and succeeds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from tests.builders import doc, text, vpc
from vpnctl.capacity import BY_NAME, holds
from vpnctl.cli import cli

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


def write_hub(folder: Path, spokes: int, instance_type: str) -> Path:
    vpcs = {"hub": vpc("us-east-1", "a")} | {
        f"s{i:03d}": vpc("us-east-1", "a") for i in range(spokes)
    }
    d = doc(
        vpcs=vpcs,
        links={"hub": "hub"},
        addressing={"pool": "10.0.0.0/8", "vpc_prefix": 20},
        gateways={"instance_type": instance_type},
    )
    path = folder / "hub.yaml"
    path.write_text(text(d))
    return path


def test_plan_notes_a_hub_gateway_its_type_cannot_hold(tmp_path: Path) -> None:
    spokes = holds(BY_NAME["t3.nano"]) + 1
    path = write_hub(tmp_path, spokes, "t3.nano")
    result = CliRunner().invoke(cli, ["plan", str(path)])
    assert result.exit_code == 0, result.output
    notes = result.output.split("Notes:", 1)[1]
    (line,) = [n for n in notes.splitlines() if "tunnels, more than" in n]
    assert f"runs {spokes} tunnels" in line
    assert "instance type t3.nano" in line
    assert "set gateways.instance_type: t3." in line  # one size up, same family
    assert "Traceback" not in result.output
    assert path.with_suffix(".lock.json").exists()  # a note does not stop the plan

    as_json = CliRunner().invoke(cli, ["plan", str(path), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert any("t3.nano" in n for n in json.loads(as_json.output)["notes"])


def test_plan_of_the_demo_notes_no_capacity(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    shutil.copy(TOPOLOGIES / "demo.yaml", path)
    result = CliRunner().invoke(cli, ["plan", str(path)])
    assert result.exit_code == 0, result.output
    assert "tunnels, more than" not in result.output
