"""The rendered artifacts on real OpenVPN: tunnels up, hosts reach each other, recovery, loss.

For each example topology in both modes, ``vpnctl render --with-keys`` output runs unchanged in
namespaces (see tunnel_lab.py). Tests use short keepalive/ping-restart (through the topology,
like a user would) so recovery is measured in seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.system.tunnel_lab import TunnelLab, ping, wait_for, write_topology

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"
FAST = {"keepalive": 2, "ping_restart": 10}
UP_TIMEOUT = 30.0

pytestmark = pytest.mark.needs("root", "netns", "openvpn", "nft", "fping")


def lab_topology(tmp_path: Path, name: str, mode: str) -> Path:
    return write_topology(TOPOLOGIES / f"{name}.yaml", tmp_path / f"{name}.yaml", mode=mode, **FAST)


def assert_tunnels_up(lab: TunnelLab) -> None:
    for tunnel in lab.design.tunnels:
        lab.wait_tunnel(tunnel, UP_TIMEOUT)


@pytest.mark.parametrize("mode", ["psk", "fingerprint"])
def test_demo_links_hosts_and_recovers(tmp_path: Path, mode: str) -> None:
    with TunnelLab.build(lab_topology(tmp_path, "demo", mode), tmp_path) as lab:
        lab.start()
        try:
            assert_tunnels_up(lab)
            hosts = lab.hosts
            # same AZ, and across AZs (the reply returns through the other AZ's gateways)
            for src, dst in [("us-west-2a", "eu-west-1a"), ("eu-west-1b", "us-west-2b"),
                             ("us-west-2a", "eu-west-1b")]:  # fmt: skip
                wait_for(hosts[src], lab.host_ip[dst], 10)
            seconds = recover(lab, "eu-west-1-a--us-west-2-a", "gw-us-west-2-a")
            print(f"\n{mode}: tunnel recovered {seconds:.1f}s after its peer restarted elsewhere")
        except AssertionError:
            print(lab.logs())
            raise


@pytest.mark.parametrize("mode", ["psk", "fingerprint"])
def test_china_hub_transit_and_recovery(tmp_path: Path, mode: str) -> None:
    with TunnelLab.build(lab_topology(tmp_path, "china-hub", mode), tmp_path) as lab:
        lab.start()
        try:
            assert_tunnels_up(lab)
            hosts = lab.hosts
            # us-west-2 <-> cn-north-1 only through the hub; ICMP is allowed both ways
            for src, dst in [("us-west-2a", "cn-north-1a"), ("cn-north-1b", "us-west-2b"),
                             ("us-west-2a", "cn-north-1b")]:  # fmt: skip
                wait_for(hosts[src], lab.host_ip[dst], 10)
            # the hub's hosts may only open tcp/443: its pings are dropped by the gateways
            assert ping(hosts["ap-southeast-1a"], lab.host_ip["cn-north-1a"], 3) == 0
            seconds = recover(lab, "ap-southeast-1-a--cn-north-1-a", "gw-cn-north-1-a")
            print(f"\n{mode}: tunnel recovered {seconds:.1f}s after its peer restarted elsewhere")
        except AssertionError:
            print(lab.logs())
            raise


def recover(lab: TunnelLab, tunnel_name: str, gateway: str) -> float:
    """Kill ``gateway``'s end, move it to a new address, start it: seconds until it carries."""
    tunnel = next(t for t in lab.design.tunnels if t.name == tunnel_name)
    here, far = tunnel.end(gateway)
    lab.kill(gateway, tunnel_name)
    lab.readdress(gateway)
    # Static-key packet IDs carry their sender's start time in whole seconds: a peer restarted
    # within the second it first started would replay old IDs. A real replacement takes minutes.
    time.sleep(1.1)
    lab.start_openvpn(gateway, tunnel_name)
    # the surviving end must find it again by itself (float, names re-resolved)
    return wait_for(lab.sites[far.gateway].ns, here.inside_ip, 3 * FAST["ping_restart"])


@pytest.mark.parametrize("mode", ["psk", "fingerprint"])
def test_tunnel_comes_up_under_loss(tmp_path: Path, mode: str) -> None:
    with TunnelLab.build(lab_topology(tmp_path, "demo", mode), tmp_path, loss_pct=10) as lab:
        lab.start()
        try:
            assert_tunnels_up(lab)
            us, eu = lab.hosts["us-west-2a"], lab.host_ip["eu-west-1a"]
            wait_for(us, eu, 10)
            assert ping(us, eu, 30) >= 15  # ~19% expected loss across both gateways
        except AssertionError:
            print(lab.logs())
            raise
