"""Edges of the commands that talk to AWS, against a moto server: --frozen on a dry run, a
declined apply, and status not asking an emulator's made-up name servers."""

from __future__ import annotations

import pytest

from tests.functional.conftest import Aws, fast
from vpnctl.aws import dns
from vpnctl.cli.apply import apply
from vpnctl.cli.status import status


def test_a_dry_run_under_frozen_fails_when_the_lock_would_change(aws: Aws) -> None:
    path = aws.topology("demo")  # no lock file beside it: planning would write one
    result = aws.run(apply, str(path), "--dry-run", "--frozen")
    assert result.exit_code == 1, result.output
    assert "would change, and --frozen forbids it" in result.output
    assert not path.with_name("demo.lock.json").exists()


def test_declining_apply_changes_nothing_and_says_so(aws: Aws) -> None:
    from click.testing import CliRunner

    from vpnctl.cli import cli

    path = aws.topology("demo")
    made = fast()
    result = CliRunner().invoke(
        cli, ["apply", str(path), "--endpoint-url", aws.url], obj=made, input="n\n"
    )
    assert result.exit_code == 1, result.output
    assert "Make these changes? [y/N]: n" in result.output
    assert result.output.splitlines()[-1] == "Nothing changed."
    assert [c.service for c in made.log.mutating()] == ["dynamodb"] * len(made.log.mutating())


def test_status_on_an_emulator_does_not_look_up_its_name_servers(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = aws.topology("demo")
    aws.client("route53", "us-east-1").create_hosted_zone(
        Name="vpn.demo.example.com", CallerReference="test"
    )  # the emulator hands it name servers such as ns-2048.awsdns-24.com

    def looked_up(spec: str) -> tuple[str, int]:
        raise AssertionError(f"asked the machine's resolver for {spec}")

    monkeypatch.setattr(dns, "server", looked_up)
    result = aws.run(status, str(path))
    assert result.exit_code == 0, result.output
    gateway = next(line for line in result.output.splitlines() if "gateway gw-us-west-2-a" in line)
    assert "dns not asked (an emulator's name servers are not real" in gateway
    assert "DNS UNANSWERED" not in gateway
