"""``lab apply`` of an image change, as root: the demo lab's gateways move from ubuntu-24.04
(OpenVPN 2.6, the system's) to ubuntu-26.04 (OpenVPN 2.7, the 2.7.6 build) one AZ at a time,
each step draining its AZ, killing the gateways, booting them fresh on the new OpenVPN and
waiting for their tunnels, while ``lab watch`` runs steady flows over every allowed path.

The bound on the longest gap: every route moves (drain, restore) only while both the path it
leaves and the one it takes are up, so an echo is lost only when it is in flight across a
move: its reply comes back by the other path, through a gateway whose firewall has no
connection state for it, or a TCP handshake is cut. One echo period (0.2 s) plus the TCP
window (0.5 s) covers one such loss; a gap of a boot's length (seconds) would mean a flow
went through a gateway being replaced.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.system.conftest import require
from tests.system.labs import TOPOLOGIES, apply_watched, invoke, leftovers, tunnel_pids
from vpnctl import pipeline
from vpnctl.lab import lifecycle, openvpns

pytestmark = pytest.mark.needs("root", "netns", "openvpn", "nft")

WATCH_S = 45.0
GAP_BOUND_S = 1.5  # see the module's docstring: about two echo periods and a TCP window


SOLO = "ap-southeast-1"


def image_pair(work: Path, solo: bool = False) -> tuple[Path, Path]:
    """demo.yaml under a unique name (``solo``: with a one-AZ VPC linked to us-west-2, ICMP
    both ways), and the same on ubuntu-26.04, beside a copy of its lock."""
    document = yaml.safe_load((TOPOLOGIES / "demo.yaml").read_text())
    document["name"] = f"r{uuid.uuid4().hex[:8]}"
    if solo:
        document["vpcs"][SOLO] = {"account": "main", "region": SOLO, "azs": [f"{SOLO}a"]}
        document["links"].append({"between": ["us-west-2", SOLO]})
        document["allow"] += [{"from": SOLO, "to": "us-west-2", "proto": "icmp"},
                              {"from": "us-west-2", "to": SOLO, "proto": "icmp"}]  # fmt: skip
    first = work / "demo.yaml"
    first.write_text(yaml.safe_dump(document, sort_keys=False))
    pipeline.record(pipeline.plan(first), frozen=False)
    document["gateways"] = {"image": "ubuntu-26.04"}
    edited = work / "newer.yaml"
    edited.write_text(yaml.safe_dump(document, sort_keys=False))
    shutil.copy(work / "demo.lock.json", work / "newer.lock.json")
    return first, edited


@pytest.fixture(params=[False], ids=["demo"])
def running(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[lifecycle.Lab, Path, Path]]:
    binary, _ = openvpns.binary_for("ubuntu-26.04")
    require(binary is not None, "an OpenVPN 2.7 build (../shared/openvpn/2.7.6)")
    first, edited = image_pair(tmp_path, solo=bool(request.param))
    lab = lifecycle.open_lab(first)
    try:
        invoke("lab", "up", str(first))
        yield lab, first, edited
    finally:
        lifecycle.down(lab.layout.prefix)
        assert leftovers(lab.layout.prefix) == []


def binaries(lab: lifecycle.Lab) -> dict[str, str]:
    """``gateway tunnel`` -> the binary its openvpn runs."""
    return {k: os.readlink(f"/proc/{pid}/exe") for k, pid in tunnel_pids(lab).items()}


def watched(first: Path, edited: Path) -> tuple[str, list[dict[str, Any]], float]:
    """``lab apply`` of ``edited`` while ``lab watch`` runs: what it said, the flows, its time."""
    said, flows, took = apply_watched(first, edited, WATCH_S)
    assert took < WATCH_S - 6, f"lab apply took {took:.1f}s: the watch did not cover it"
    return said, flows, took


def test_an_image_change_replaces_the_gateways_az_by_az_with_the_link_up(
    running: tuple[lifecycle.Lab, Path, Path],
) -> None:
    lab, first, edited = running
    before = binaries(lab)
    assert all(b == "/usr/sbin/openvpn" for b in before.values()), before
    said, flows, took = watched(first, edited)

    lines = [line for line in said.splitlines() if line.startswith("gw-")]
    assert len(lines) == 4
    assert all("~ replaced (image ubuntu-24.04 -> ubuntu-26.04: runs OpenVPN 2.7" in line
               for line in lines), lines  # fmt: skip
    first_step = said.index("replacing, step 1/2: gw-eu-west-1-a, gw-us-west-2-a")
    assert first_step < said.index("step 1/2 done") < said.index(
        "replacing, step 2/2: gw-eu-west-1-b, gw-us-west-2-b")  # fmt: skip

    after = binaries(lifecycle.open_lab(edited))
    assert all(b.endswith("2.7.6/sbin/openvpn") for b in after.values()), after

    assert {(f["from"], f["to"]) for f in flows} == {("us-west-2", "eu-west-1"),
                                                      ("eu-west-1", "us-west-2")}  # fmt: skip
    for flow in flows:
        assert flow["sent"] > WATCH_S * 4, flow
    longest = max(f["longest_gap_s"] for f in flows)
    lost = sum(f["lost"] for f in flows)
    print(f"image replacement in {took:.1f}s: longest gap {longest:.3f}s, {lost} echoes lost "
          f"of {sum(f['sent'] for f in flows)}")  # fmt: skip
    assert longest < GAP_BOUND_S, flows
    # at most one echo per route move on its path: drained and restored, in each of two steps
    assert all(f["lost"] <= 4 for f in flows), flows
    assert invoke("lab", "test", str(edited))  # exit 0: every flow passes on the new image

    again = invoke("lab", "apply", str(edited))  # nothing left to replace
    assert "replacing" not in again


@pytest.mark.parametrize("running", [True], ids=["one-az"], indirect=True)
def test_a_one_az_vpc_is_warned_about_and_only_its_link_drops(
    running: tuple[lifecycle.Lab, Path, Path],
) -> None:
    """Its gateway goes last, alone: only the flows to and from it stop, for about a boot."""
    _, first, edited = running
    said, flows, took = watched(first, edited)
    assert (f"WARNING: vpc {SOLO} has one AZ: replacing its only gateway gw-{SOLO}-a drops its "
            "link") in said  # fmt: skip
    assert said.index("WARNING") < said.index("replacing, step 1/3")
    assert f"replacing, step 3/3: gw-{SOLO}-a (CUTS" in said
    solo = [f for f in flows if SOLO in (f["from"], f["to"])]
    rest = [f for f in flows if f not in solo]
    assert solo
    assert rest
    assert max(f["longest_gap_s"] for f in rest) < GAP_BOUND_S, rest
    cut = max(f["longest_gap_s"] for f in solo)
    print(f"one-AZ VPC's link during its gateway's replacement: longest gap {cut:.3f}s; the "
          f"others' {max(f['longest_gap_s'] for f in rest):.3f}s; lab apply {took:.1f}s")  # fmt: skip
    assert GAP_BOUND_S < cut < 15, solo  # it does drop, for about a boot, and comes back
    assert all(f["sent"] - f["lost"] > 0 for f in solo)
