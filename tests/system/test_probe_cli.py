"""The probe command end to end in a namespace: state across runs and the textfile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.system import netns
from tests.system.probe_helpers import probe

pytestmark = pytest.mark.needs("root", "netns", "nft")


def test_state_goes_down_after_consecutive_failures_and_textfile_is_written(tmp_path: Path) -> None:
    state, textfile = tmp_path / "state.json", tmp_path / "probe.prom"
    with netns.pair() as (near, far):
        netns.drop_echo_requests(far, 100)
        args = (
            "--target",
            far.address,
            "--count",
            "2",
            "--interval-ms",
            "10",
            "--timeout-ms",
            "50",
            "--state",
            str(state),
            "--textfile",
            str(textfile),
        )
        states = [probe(near, *args)[1]["results"][0]["health"]["state"] for _ in range(3)]
    assert states == ["UP", "UP", "DOWN"]  # Failover().consecutive_failures == 3
    assert json.loads(state.read_text())["targets"]
    assert "vpnctl_probe_up{" in textfile.read_text()
    assert (
        'vpnctl_probe_loss_ratio{target="10.200.0.2",link="",gateway=""} 1' in textfile.read_text()
    )
