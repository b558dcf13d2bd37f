"""A topology's gateways on this machine: namespaces, the rendered configs, real OpenVPN.

    with TunnelLab.build(topology_yaml, tmp_path, mode="fingerprint") as lab:
        lab.start()
        lab.wait_tunnels()
        lab.reaches(lab.hosts["us-west-2a"], lab.hosts["eu-west-1b"])

``build`` renders the topology with the real CLI (``vpnctl render --with-keys``) and makes:

- one "internet" namespace holding a bridge, which every gateway joins with its public address
  (198.18.0.0/24); gateway names resolve through ``/etc/netns/<ns>/hosts``;
- per VPC a router namespace standing in for the VPC router: one route table per AZ (a policy
  rule per routing subnet, as AWS associates tables with subnets), the VPC's own subnets first;
- per AZ a gateway namespace on its gateway subnet, loaded with the rendered sysctls and
  firewall and the route for its own VPC via the router (what boot.sh does on an instance);
- per AZ a host namespace on its routing subnet.

OpenVPN runs on the rendered files unchanged; only ``--status`` is pointed at the test's
directory. Everything (namespaces, links, processes, hosts files) goes on exit, also on failure.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import yaml

from tests.system.netns import Namespace, namespace, nft, unique, veth
from vpnctl import pipeline, render
from vpnctl.design import Design, Gateway, Tunnel

PUBLIC = IPv4Network("198.18.0.0/24")
LOSS_RULES = """
table inet vpnctl_loss {{
  chain input {{
    type filter hook input priority -400; policy accept;
    meta l4proto udp numgen random mod 100 < {percent} drop
  }}
}}
"""


def write_topology(source: Path, target: Path, **tunnel: Any) -> Path:
    """A copy of ``source`` with ``tunnel:`` options overridden (mode, keepalive, ping_restart)."""
    document = yaml.safe_load(source.read_text())
    document["tunnel"] = {**(document.get("tunnel") or {}), **tunnel}
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def ping(ns: Namespace, target: IPv4Address | str, count: int = 1, timeout_ms: int = 400) -> int:
    """How many of ``count`` echoes to ``target`` came back (fping, 100 ms apart)."""
    done = ns.run(
        "fping", "-c", str(count), "-p", "100", "-t", str(timeout_ms), "-q", str(target),
        check=False,
    )  # fmt: skip
    # "<target> : xmt/rcv/%loss = 5/5/0%, ..." on stderr
    summary = done.stderr.split("=", 1)[1] if "=" in done.stderr else "0/0/"
    return int(summary.split("/")[1])


def wait_for(ns: Namespace, target: IPv4Address | str, timeout: float) -> float:
    """Seconds until ``target`` answers from ``ns``; AssertionError after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if ping(ns, target, 1, 300):
            return time.monotonic() - start
    raise AssertionError(f"{target} unreachable from {ns.name} after {timeout:.0f}s")


@dataclass
class Site:
    """A gateway's namespace and its addresses."""

    gateway: Gateway
    ns: Namespace
    public: IPv4Address
    public_if: str
    vpc_address: IPv4Address
    openvpn: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)


@dataclass
class TunnelLab:
    design: Design
    out: Path  # the rendered DIR
    work: Path
    stack: contextlib.ExitStack
    internet: Namespace | None = None
    bridge: str = ""
    sites: dict[str, Site] = field(default_factory=dict)  # by gateway name
    hosts: dict[str, Namespace] = field(default_factory=dict)  # by AZ
    host_ip: dict[str, IPv4Address] = field(default_factory=dict)  # by AZ
    addresses: dict[str, IPv4Address] = field(default_factory=dict)  # public, by gateway
    hosts_files: list[Path] = field(default_factory=list)
    next_public: int = 10

    # ------------------------------------------------------------------ building

    @classmethod
    @contextlib.contextmanager
    def build(cls, topology: Path, work: Path, loss_pct: int = 0) -> Iterator[TunnelLab]:
        out = work / "out"
        subprocess.run(
            [sys.executable, "-m", "vpnctl", "render", str(topology), "--out", str(out),
             "--with-keys"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        design = pipeline.plan(topology).design
        with contextlib.ExitStack() as stack:
            lab = cls(design, out, work, stack)
            stack.callback(lab.cleanup)
            lab.make_internet()
            for vpc in sorted(design.vpcs):
                lab.make_vpc(vpc)
            lab.write_hosts()
            if loss_pct:
                for site in lab.sites.values():
                    nft(site.ns, LOSS_RULES.format(percent=loss_pct))
            yield lab

    def make_internet(self) -> None:
        self.internet = self.stack.enter_context(namespace("vi"))
        self.bridge = unique("br")
        self.internet.run("ip", "link", "add", self.bridge, "type", "bridge")
        self.internet.run("ip", "link", "set", self.bridge, "up")

    def public_address(self) -> IPv4Address:
        self.next_public += 1
        return PUBLIC.network_address + self.next_public

    def make_vpc(self, name: str) -> None:
        vpc = self.design.vpcs[name]
        router = self.stack.enter_context(namespace("vr"))
        router.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        for subnet in vpc.routing_subnets:
            host = self.stack.enter_context(namespace("vh"))
            base = subnet.cidr.network_address
            veth(router, host, f"{base + 1}/{subnet.cidr.prefixlen}", f"{base + 10}/24")
            host.run("ip", "route", "add", "default", "via", str(base + 1))
            self.hosts[subnet.az], self.host_ip[subnet.az] = host, base + 10
        for gateway in (self.design.gateway_by_name[g] for g in vpc.gateways):
            self.make_gateway(gateway, router)
        self.route_tables(router, name)

    def make_gateway(self, gateway: Gateway, router: Namespace) -> None:
        ns = self.stack.enter_context(namespace("vg"))
        base = gateway.subnet.network_address
        prefix = gateway.subnet.prefixlen
        veth(router, ns, f"{base + 1}/{prefix}", f"{base + 4}/{prefix}")
        public = self.public_address()
        public_if = self.join_internet(ns, public)
        # What boot.sh does on an instance: sysctls, the VPC via its router, the firewall.
        sysctl = self.work / f"{gateway.name}.sysctl"
        sysctl.write_text(render.sysctl())
        ns.run("sysctl", "-q", "-p", str(sysctl))
        vpc = self.design.vpcs[gateway.vpc]
        ns.run("ip", "route", "replace", str(vpc.cidr), "via", str(base + 1))
        nft(ns, render.firewall(self.design, gateway.name))
        self.sites[gateway.name] = Site(gateway, ns, public, public_if, base + 4)
        self.addresses[gateway.name] = public

    def join_internet(self, ns: Namespace, public: IPv4Address) -> str:
        """A veth from ``ns`` (addressed ``public``) to a port of the internet bridge."""
        inside, port = unique("vp"), unique("vq")
        internet = self.internet_ns.name
        subprocess.run(
            ["ip", "link", "add", inside, "netns", ns.name, "type", "veth",
             "peer", "name", port, "netns", internet],
            check=True, capture_output=True,
        )  # fmt: skip
        self.internet_ns.run("ip", "link", "set", port, "master", self.bridge, "up")
        ns.run("ip", "addr", "add", f"{public}/24", "dev", inside)
        ns.run("ip", "link", "set", inside, "up")
        return inside

    @property
    def internet_ns(self) -> Namespace:
        assert self.internet is not None
        return self.internet

    def route_tables(self, router: Namespace, vpc: str) -> None:
        """One table per routing subnet, like AWS route table associations; local first."""
        router.run("ip", "rule", "add", "priority", "100", "lookup", "main")
        for number, table in enumerate(t for t in self.design.route_tables if t.vpc == vpc):
            via = self.sites[table.via].vpc_address
            for destination in table.destinations:
                router.run(
                    "ip", "route", "add", str(destination), "via", str(via),
                    "table", str(200 + number),
                )  # fmt: skip
            router.run(
                "ip", "rule", "add", "priority", str(200 + number), "from", str(table.subnet),
                "lookup", str(200 + number),
            )  # fmt: skip

    def write_hosts(self) -> None:
        """Each gateway's view of DNS; rewritten in place so running processes see changes."""
        lines = ["127.0.0.1 localhost"]
        lines += [f"{self.addresses[g.name]} {g.fqdn}" for g in self.design.gateways]
        for site in self.sites.values():
            path = Path("/etc/netns") / site.ns.name / "hosts"
            if path not in self.hosts_files:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.hosts_files.append(path)
            with path.open("w") as handle:  # same inode: bind mounts keep seeing it
                handle.write("\n".join(lines) + "\n")

    def cleanup(self) -> None:
        for site in self.sites.values():
            for proc in site.openvpn.values():
                _stop(proc)
        for path in self.hosts_files:
            shutil.rmtree(path.parent, ignore_errors=True)

    # ------------------------------------------------------------------ running

    def config(self, gateway: str, tunnel: str) -> Path:
        return self.out / gateway / "openvpn" / f"{tunnel}.conf"

    def start_openvpn(self, gateway: str, tunnel: str) -> None:
        site = self.sites[gateway]
        log = (self.work / f"{gateway}--{tunnel}.log").open("ab")
        status = self.work / f"{gateway}--{tunnel}.status"
        site.openvpn[tunnel] = site.ns.popen(
            "openvpn", "--config", str(self.config(gateway, tunnel)),
            "--status", str(status), "2",
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()

    def start(self) -> None:
        for tunnel in self.design.tunnels:
            for end in tunnel.ends():
                self.start_openvpn(end.gateway, tunnel.name)

    def kill(self, gateway: str, tunnel: str) -> None:
        proc = self.sites[gateway].openvpn.pop(tunnel)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def readdress(self, gateway: str) -> IPv4Address:
        """Give ``gateway`` a new public address and publish it, as a replaced instance would."""
        site = self.sites[gateway]
        new = self.public_address()
        site.ns.run("ip", "addr", "del", f"{site.public}/24", "dev", site.public_if)
        site.ns.run("ip", "addr", "add", f"{new}/24", "dev", site.public_if)
        site.public = self.addresses[gateway] = new
        self.write_hosts()
        return new

    def wait_tunnel(self, tunnel: Tunnel, timeout: float) -> float:
        """Seconds until both ends of ``tunnel`` reach each other's inside address."""
        start = time.monotonic()
        for here in tunnel.ends():
            _, far = tunnel.end(here.gateway)
            left = max(1.0, timeout - (time.monotonic() - start))
            wait_for(self.sites[here.gateway].ns, far.inside_ip, left)
        return time.monotonic() - start

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text()[-3000:]}" for p in self.work.glob("*.log"))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
