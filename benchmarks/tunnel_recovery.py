"""How long a tunnel takes to carry traffic again after one peer is killed and restarted from a
new address (a replaced gateway), on real OpenVPN in namespaces. Needs root, openvpn, nft, fping.

    sudo python benchmarks/tunnel_recovery.py [--repeats 3] [--keepalive 10 --ping-restart 60]

For each mode and each end of demo's first tunnel: SIGKILL that end's openvpn, move its
namespace to a new public address and publish it in the hosts files (DNS), wait 1.1 s (see
tests/system/test_openvpn_tunnels.py), start it again on the same rendered config, and time
until the surviving end pings the restarted end's inside address. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.system.test_openvpn_tunnels import recover  # noqa: E402
from tests.system.tunnel_lab import TunnelLab, write_topology  # noqa: E402


def measure(mode: str, end: str, keepalive: int, ping_restart: int) -> float:
    with tempfile.TemporaryDirectory() as work:
        tmp = Path(work)
        topology = write_topology(
            ROOT / "topologies" / "demo.yaml", tmp / "demo.yaml",
            mode=mode, keepalive=keepalive, ping_restart=ping_restart,
        )  # fmt: skip
        with TunnelLab.build(topology, tmp) as lab:
            lab.start()
            tunnel = lab.design.tunnels[0]
            lab.wait_tunnel(tunnel, 60)
            gateway = tunnel.a.gateway if end == "a" else tunnel.b.gateway
            return recover(lab, tunnel.name, gateway)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keepalive", type=int, default=10)
    parser.add_argument("--ping-restart", type=int, default=60)
    args = parser.parse_args()
    print("| mode | restarted end | runs | median s | max s |")
    print("|---|---|---:|---:|---:|")
    for mode in ("psk", "fingerprint"):
        for end, role in (("a", "a (tls-server / key-direction 0)"), ("b", "b (tls-client)")):
            runs = [
                measure(mode, end, args.keepalive, args.ping_restart) for _ in range(args.repeats)
            ]
            print(
                f"| {mode} | {role} | {len(runs)} | {statistics.median(runs):.1f} | {max(runs):.1f} |"
            )


if __name__ == "__main__":
    main()
