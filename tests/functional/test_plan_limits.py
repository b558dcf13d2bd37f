"""``vpnctl plan`` refuses, before anything is made, what AWS would refuse at apply."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tests.builders import doc, text, vpc
from vpnctl.cli import cli


def test_a_hub_too_big_for_iam_is_an_input_error(tmp_path: Path) -> None:
    vpcs = {"hub": vpc("us-east-1", "a")} | {f"s{i:03d}": vpc("us-east-1", "a") for i in range(120)}
    d = doc(vpcs=vpcs, links={"hub": "hub"}, addressing={"pool": "10.0.0.0/8", "vpc_prefix": 20})
    path = tmp_path / "big.yaml"
    path.write_text(text(d))
    result = CliRunner().invoke(cli, ["plan", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if ": vpcs.hub: " in line]
    assert any("IAM role policy would be" in line for line in lines), result.output
    # user-data is a bootstrap of constant size now: a hub this big fits EC2's 16 KB
    assert not any("user-data is" in line for line in lines), result.output
    assert all(line.startswith(f"{path}:") for line in lines)
    assert "Traceback" not in result.output
    assert not path.with_suffix(".lock.json").exists()  # nothing written
