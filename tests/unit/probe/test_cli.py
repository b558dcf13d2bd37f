"""The probe command's refusals and its timer install: nothing here opens a socket."""

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from vpnctl.cli import cli


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["probe", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "bad host!"], "not an IPv4 address or a host name"),
        (["--target", "::1"], "only IPv4"),
        (["--target", "10.0.0.1", "--count", "0"], "--count"),
        (["--target", "10.0.0.1", "--interval-ms", "-5"], "--interval-ms"),
        (["--target", "10.0.0.1", "--warn", "250"], "RTT_MS,LOSS%"),
        (["--target", "10.0.0.1", "--link", "a--b"], "need a TOPOLOGY"),
        ([], "one of them"),
        (["--target", "10.0.0.1", "--endpoint-url", "nope"], "is not an http:// or https:// URL"),
    ],
)
def test_bad_input_exits_2_with_the_reason(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output


@pytest.mark.parametrize(
    "args", [["--target", "bad host!"], ["--count", "0", "--target", "10.0.0.1"], []]
)
def test_bad_input_under_nagios_is_unknown(args: list[str]) -> None:
    result = invoke("--format", "nagios", *args)
    assert result.exit_code == 3, result.output
    assert result.output.startswith("PROBE UNKNOWN - ")


def test_install_timer_writes_units_for_this_probe(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    result = invoke(
        "--target",
        "10.0.0.1",
        "--count",
        "5",
        "--state",
        str(state),
        "--install-timer",
        "--unit-dir",
        str(tmp_path / "units"),
        "--every",
        "2min",
    )
    assert result.exit_code == 0, result.output
    service = (tmp_path / "units" / "vpnctl-probe.service").read_text()
    timer = (tmp_path / "units" / "vpnctl-probe.timer").read_text()
    assert " probe --target 10.0.0.1 --count 5 --timeout-ms 1000 " in service
    assert f"--state {state}" in service
    assert "--warn 250,2%% --crit 600,10%%" in service
    assert "OnUnitActiveSec=2min" in timer
