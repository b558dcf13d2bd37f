"""The rendered artifacts on real OpenVPN: tunnels up, hosts reach each other, recovery, loss.

For each example topology in both modes, ``vpnctl render --with-keys`` output runs unchanged in
namespaces (see tunnel_lab.py). Tests use short keepalive/ping-restart (through the topology,
like a user would) so recovery is measured in seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.system.netns import Namespace
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


# Issue 16. Every allow flow of china-hub and its replies, through the hub; then packets shaped
# like replies, from a flow's server port, which the old filter let reach any port.
ALLOWED = [  # (from AZ, proto, to AZ, port, answered)
    ("us-west-2a", "tcp", "cn-north-1a", 8500, True),
    ("us-west-2b", "tcp", "cn-north-1b", 8301, True),
    ("cn-north-1a", "udp", "us-west-2a", 8301, True),
    ("ap-southeast-1a", "tcp", "cn-north-1a", 443, True),
    ("ap-southeast-1b", "tcp", "us-west-2b", 443, True),
    ("cn-north-1a", "tcp", "us-west-2a", 443, False),  # allowed from ap-southeast-1 only
    ("us-west-2a", "udp", "cn-north-1a", 8301, False),  # allowed the other way only
]
FORGED = [  # (from AZ, to AZ, proto, sport, dport, TCP flags, passes)
    # a reply's shape: from a flow's server port to a client's ephemeral port
    ("us-west-2a", "cn-north-1a", "udp", 8301, 40001, "", True),
    ("cn-north-1a", "us-west-2a", "tcp", 8500, 40002, "ACK", True),
    # source port 8301 no longer reaches any UDP port, nor 8500 any TCP port
    ("us-west-2a", "cn-north-1a", "udp", 8301, 5353, "", False),
    ("us-west-2a", "cn-north-1a", "udp", 8301, 8301, "", False),
    ("cn-north-1a", "us-west-2a", "tcp", 8500, 22, "ACK", False),
    ("cn-north-1a", "us-west-2a", "tcp", 8500, 22, "FIN", False),
    ("cn-north-1a", "us-west-2a", "tcp", 8500, 5432, "FIN,ACK", False),
    # and a reply never opens a connection or goes without ACK, even to a client port
    ("cn-north-1a", "us-west-2a", "tcp", 8500, 40003, "SYN", False),
    ("cn-north-1a", "us-west-2a", "tcp", 8500, 40004, "FIN", False),
]


def packets(ns: Namespace, *args: str) -> subprocess.Popen[bytes]:
    """``tests/system/packets.py ARGS`` in ``ns`` (stopped with it), once it printed "ready"."""
    proc = ns.popen(sys.executable, "-m", "tests.system.packets", *args, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def test_china_hub_gateways_forward_the_allow_flows_and_no_more(tmp_path: Path) -> None:
    with TunnelLab.build(lab_topology(tmp_path, "china-hub", "fingerprint"), tmp_path) as lab:
        lab.start()
        try:
            assert_tunnels_up(lab)
            hosts, ips = lab.hosts, lab.host_ip
            wait_for(hosts["us-west-2a"], ips["cn-north-1a"], 10)
            wait_for(hosts["us-west-2b"], ips["cn-north-1b"], 10)
            for _, proto, dst, port, _ in ALLOWED:
                packets(hosts[dst], "serve", proto, str(port))
            for src, proto, dst, port, answered in ALLOWED:
                done = hosts[src].run(
                    sys.executable, "-m", "tests.system.packets", "call", proto,
                    str(ips[dst]), str(port), check=False,
                )  # fmt: skip
                assert (done.returncode == 0) == answered, (src, proto, dst, port)
            assert forged_that_arrived(lab) == {case for case in FORGED if case[-1]}
        except AssertionError:
            print(lab.logs())
            raise


def forged_that_arrived(lab: TunnelLab) -> set[tuple[str, str, str, int, int, str, bool]]:
    """Send every FORGED packet; the cases whose packet reached the destination host."""
    listeners = {az: packets(lab.hosts[az], "listen", "6") for az in {c[1] for c in FORGED}}
    for src, dst, proto, sport, dport, flags, _ in FORGED:
        lab.hosts[src].run(
            sys.executable, "-m", "tests.system.packets", "send", str(lab.host_ip[src]),
            str(lab.host_ip[dst]), proto, str(sport), str(dport), flags,
        )  # fmt: skip
    seen = {}
    for az, proc in listeners.items():
        out, _ = proc.communicate(timeout=20)
        seen[az] = json.loads(out.strip().splitlines()[-1])
    bits = {"FIN": 0x01, "SYN": 0x02, "RST": 0x04, "ACK": 0x10}
    arrived = set()
    for case in FORGED:
        src, dst, proto, sport, dport, flags, _ = case
        want = {"proto": proto, "src": str(lab.host_ip[src]), "sport": sport, "dport": dport,
                "flags": sum(bits[f] for f in flags.split(",") if f)}  # fmt: skip
        if want in seen[dst]:
            arrived.add(case)
    return arrived
