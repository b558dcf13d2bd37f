"""``vpnctl plan`` refuses, before anything is made, what AWS would refuse at apply."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tests.builders import doc, text, vpc
from vpnctl.cli import cli


def test_a_hub_once_too_big_for_iam_and_ec2_now_fits_and_plans(tmp_path: Path) -> None:
    """120 spokes made the hub gateway's role policy 10,923 characters (one name per tunnel
    key) and its user-data over 16 KB: both are constant in size now, so plan passes, and
    what it checks (vpnctl.limits) finds nothing to refuse."""
    vpcs = {"hub": vpc("us-east-1", "a")} | {f"s{i:03d}": vpc("us-east-1", "a") for i in range(120)}
    d = doc(vpcs=vpcs, links={"hub": "hub"}, addressing={"pool": "10.0.0.0/8", "vpc_prefix": 20})
    path = tmp_path / "big.yaml"
    path.write_text(text(d))
    result = CliRunner().invoke(cli, ["plan", str(path)])
    assert result.exit_code == 0, result.output
    assert "IAM role policy would be" not in result.output
    assert "user-data is" not in result.output
    assert path.with_suffix(".lock.json").exists()
