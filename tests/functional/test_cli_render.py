"""``vpnctl render`` end to end: the promised layout, keys only with --with-keys, 0600."""

from __future__ import annotations

import hashlib
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from vpnctl import render
from vpnctl.cli import cli

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


@pytest.fixture
def china_hub(tmp_path: Path) -> Path:
    path = tmp_path / "china-hub.yaml"
    shutil.copy(TOPOLOGIES / "china-hub.yaml", path)
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_render_writes_user_data_and_one_config_per_tunnel_without_keys(
    china_hub: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["render", str(china_hub), "--out", str(out)])
    assert result.exit_code == 0, result.output
    configs = sorted(p.relative_to(out).as_posix() for p in out.glob("*/openvpn/*.conf"))
    assert len(configs) == 8  # 4 tunnels, 2 ends
    assert "gw-cn-north-1-a/openvpn/ap-southeast-1-a--cn-north-1-a.conf" in configs
    assert len(list(out.glob("*/user-data"))) == 6
    for config in out.glob("*/config.json"):  # the desired configuration the user-data pins
        digest = hashlib.sha256(config.read_bytes()).hexdigest()
        user_data = render.read_userdata((config.parent / "user-data").read_bytes())
        assert f"VPNCTL_CONFIG_SHA256={digest}\n" in user_data
    assert len(list(out.glob("*/config.json"))) == 6
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"BEGIN" not in data
            assert mode(path) == 0o644
            if path.name == "user-data":
                assert len(data) <= render.USERDATA_LIMIT
                assert render.read_userdata(data).startswith("#cloud-config")


def test_with_keys_configs_are_self_contained_and_0600_and_go_again_without(
    china_hub: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(cli, ["render", str(china_hub), "--out", str(out), "--with-keys"])
    assert result.exit_code == 0, result.output
    config = out / "gw-us-west-2-a" / "openvpn" / "ap-southeast-1-a--us-west-2-a.conf"
    assert "<secret>" in config.read_text()
    assert mode(config) == 0o600
    assert b"BEGIN" not in (out / "gw-us-west-2-a" / "user-data").read_bytes()
    result = runner.invoke(cli, ["render", str(china_hub), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "<secret>" not in config.read_text()


def test_a_bad_topology_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: BAD\n")
    result = CliRunner().invoke(cli, ["render", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "bad.yaml:" in result.output
    assert not (tmp_path / "out").exists()


def test_rerender_removes_directories_of_gone_gateways_and_only_those(
    china_hub: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(cli, ["render", str(china_hub), "--out", str(out)]).exit_code == 0
    mine = out / "notes"  # something of the user's in the same directory
    mine.mkdir()
    (mine / "todo.txt").write_text("keep me\n")
    demo = tmp_path / "demo.yaml"
    shutil.copy(TOPOLOGIES / "demo.yaml", demo)
    result = runner.invoke(cli, ["render", str(demo), "--out", str(out)])
    assert result.exit_code == 0, result.output
    left = sorted(p.name for p in out.iterdir())
    assert left == ["gw-eu-west-1-a", "gw-eu-west-1-b", "gw-us-west-2-a", "gw-us-west-2-b", "notes"]
    assert (mine / "todo.txt").read_text() == "keep me\n"
