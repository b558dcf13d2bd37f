"""``vpnctl plan`` end to end through the CLI: formats, the lock file, and refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.builders import doc, text
from vpnctl.cli import cli

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def china_hub(tmp_path: Path) -> Path:
    path = tmp_path / "china-hub.yaml"
    shutil.copy(TOPOLOGIES / "china-hub.yaml", path)
    return path


def test_json_plan_keeps_the_promised_keys(runner: CliRunner, china_hub: Path) -> None:
    result = runner.invoke(cli, ["plan", str(china_hub), "--format", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["name"] == "sproutling"
    cn = plan["vpcs"]["cn-north-1"]
    assert cn["cidr"] == "10.70.0.0/16"
    assert (cn["account"], cn["partition"], cn["region"]) == ("china", "aws-cn", "cn-north-1")
    assert {"az", "cidr"} <= set(cn["routing_subnets"][0])
    assert {"az", "cidr"} <= set(cn["gateway_subnets"][0])
    assert cn["gateways"][0] == {
        "name": "gw-cn-north-1-a", "az": "cn-north-1a", "fqdn": "gw-cn-north-1-a.vpn.example.com",
    }  # fmt: skip
    tunnel = plan["tunnels"][0]
    assert {"link", "inside_cidr", "a", "b"} <= set(tunnel)
    assert {"gateway", "inside_ip", "port"} <= set(tunnel["a"])
    us_west = [t for t in plan["tunnels"] if t["link"] == "ap-southeast-1--us-west-2"]
    assert {t["a"]["port"] for t in us_west} == {1195}  # the pinned port
    route = plan["routes"][0]
    assert {"vpc", "az", "destination", "via"} <= set(route)
    assert plan["summary"]["max_routes_per_table"] <= 50


def test_text_plan_reads_per_vpc_with_a_summary(runner: CliRunner, china_hub: Path) -> None:
    result = runner.invoke(cli, ["plan", str(china_hub)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "VPC cn-north-1  10.70.0.0/16  account china (aws-cn), cn-north-1" in out
    assert "route table rt-us-west-2-a" in out
    assert "tunnel ap-southeast-1-a--cn-north-1-a" in out
    assert (
        out.rstrip().splitlines()[-1].startswith("Plan: 3 VPCs, 6 gateways, 4 tunnels on 2 links")
    )


def test_dot_plan_draws_vpcs_as_clusters_and_tunnels_as_edges(
    runner: CliRunner, china_hub: Path
) -> None:
    result = runner.invoke(cli, ["plan", str(china_hub), "--format", "dot"])
    assert result.exit_code == 0
    assert 'subgraph "cluster_cn-north-1"' in result.stdout
    assert '"gw-ap-southeast-1-a" -- "gw-cn-north-1-a" [label="169.254.64.0/30\\nudp/1194"' in (
        result.stdout
    )
    if shutil.which("dot"):
        import subprocess

        subprocess.run(["dot", "-Tsvg"], input=result.stdout, text=True, check=True,
                       capture_output=True)  # fmt: skip


def test_plan_writes_a_sorted_lock_and_is_stable(runner: CliRunner, china_hub: Path) -> None:
    lock = china_hub.with_name("china-hub.lock.json")
    assert runner.invoke(cli, ["plan", str(china_hub)]).exit_code == 0
    first = lock.read_text()
    data = json.loads(first)
    assert list(data) == sorted(data)
    assert "key" not in first.lower()
    assert runner.invoke(cli, ["plan", str(china_hub)]).exit_code == 0
    assert lock.read_text() == first


def test_frozen_refuses_a_changed_lock(runner: CliRunner, china_hub: Path) -> None:
    result = runner.invoke(cli, ["plan", str(china_hub), "--frozen"])
    assert result.exit_code == 1
    assert "would change, and --frozen forbids it" in result.stderr
    assert not china_hub.with_name("china-hub.lock.json").exists()
    assert runner.invoke(cli, ["plan", str(china_hub)]).exit_code == 0
    assert runner.invoke(cli, ["plan", str(china_hub), "--frozen"]).exit_code == 0


def test_plan_never_needs_aws(
    runner: CliRunner, china_hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert runner.invoke(cli, ["plan", str(china_hub)]).exit_code == 0


BAD = {
    "malformed": ("version: 1\nname: [x\n", "malformed YAML"),
    "empty": ("", "the file is empty"),
    "misspelt": (text(doc(adressing={"pool": "10.0.0.0/8"})), "adressing: unknown key"),
    "duplicate": (text(doc()).replace("name: t\n", "name: t\nname: t\n"), "duplicate key"),
    "self-link": (text(doc(links=[{"between": ["east", "east"]}])), "linked to itself"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_file_line_key_and_no_traceback(
    runner: CliRunner, tmp_path: Path, case: str
) -> None:
    body, expected = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    result = runner.invoke(cli, ["plan", str(path)])
    assert result.exit_code == 2
    assert expected in result.stderr
    assert result.stderr.startswith(f"{path}:")
    assert "Traceback" not in result.output + result.stderr
    assert not (tmp_path / "bad.lock.json").exists()


def test_a_missing_file_is_bad_input(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["plan", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml:1: (file): No such file or directory" in result.stderr


def test_prune_releases_removed_vpcs(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    d = doc()
    path.write_text(text(d))
    assert runner.invoke(cli, ["plan", str(path)]).exit_code == 0
    del d["vpcs"]["east"]
    d["links"] = []
    path.write_text(text(d))
    kept = runner.invoke(cli, ["plan", str(path)])
    assert "plan --prune" in kept.stdout
    assert "east" in json.loads(path.with_name("t.lock.json").read_text())["vpcs"]
    assert runner.invoke(cli, ["plan", str(path), "--prune"]).exit_code == 0
    assert "east" not in json.loads(path.with_name("t.lock.json").read_text())["vpcs"]


@pytest.mark.parametrize("name", ["demo", "china-hub", "mesh"])
def test_example_topologies_plan_cleanly(runner: CliRunner, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    shutil.copy(TOPOLOGIES / f"{name}.yaml", path)
    result = runner.invoke(cli, ["plan", str(path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["tunnels"] > 0
