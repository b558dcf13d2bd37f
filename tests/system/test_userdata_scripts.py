"""The gateway's shell scripts pass shellcheck, and every firewall variant loads into nft."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tests.builders import designed, doc
from tests.system.netns import namespace, nft
from vpnctl import pipeline, render
from vpnctl.partitions import PARTITIONS


@pytest.mark.needs("shellcheck")
@pytest.mark.parametrize("script", ["boot.sh"])
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


@pytest.mark.needs("root", "netns", "nft")
@pytest.mark.parametrize("name", ["demo", "china-hub", "mesh"])
def test_every_example_gateways_firewall_loads(name: str) -> None:
    """Sets of every shape (3-AZ VPCs whose routing subnets do not merge, transit, a mesh)."""
    planned = pipeline.plan(Path(__file__).resolve().parents[2] / "topologies" / f"{name}.yaml")
    with namespace("vw") as ns:
        for gateway in planned.design.gateways:
            nft(ns, render.firewall(planned.design, gateway.name))
            listed = ns.run("nft", "list", "set", "inet", "vpnctl", "tcp_flows").stdout
            assert "type ipv4_addr . ipv4_addr . inet_service" in listed
