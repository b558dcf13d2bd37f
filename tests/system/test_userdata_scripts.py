"""The gateway's shell scripts pass shellcheck, and every firewall variant loads into nft."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tests.builders import designed, doc
from tests.system.netns import namespace, nft
from vpnctl import render
from vpnctl.partitions import PARTITIONS


@pytest.mark.needs("shellcheck")
@pytest.mark.parametrize("script", ["boot.sh", "probe-hook.sh"])
def test_shell_scripts_pass_shellcheck(script: str) -> None:
    path = Path(str(render._userdata_dir())) / script
    done = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


@pytest.mark.needs("root", "netns", "nft")
@pytest.mark.parametrize("nat", [False, True])
def test_firewall_loads_twice_with_and_without_nat(nat: bool) -> None:
    partitions = PARTITIONS
    if nat:
        partitions = {"aws": replace(PARTITIONS["aws"], nat_gateway_regions=frozenset())}
    d = designed(
        doc(allow=[{"from": "east", "to": "west", "proto": "tcp", "ports": [443, "8300-8302"]},
                   {"from": "west", "to": "east", "proto": "icmp"},
                   {"from": "west", "to": "east", "proto": "udp"}])
    )  # fmt: skip
    ruleset = render.firewall(d, "gw-east-a", partitions)
    with namespace("vw") as ns:
        nft(ns, ruleset)
        nft(ns, ruleset)  # reloading replaces the table: boot.sh runs at every boot
        listed = ns.run("nft", "list", "table", "inet", "vpnctl").stdout
    assert ("masquerade" in listed) == nat
    assert listed.count("chain forward") == 1
