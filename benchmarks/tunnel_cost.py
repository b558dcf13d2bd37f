"""What one tunnel costs a gateway, measured on real OpenVPN: `python benchmarks/tunnel_cost.py`.

Root, `ip netns`, openvpn and fping. For N spokes (default 1, 10, 50, 100) it designs a hub of
one AZ with N one-AZ spokes, renders every tunnel's config with its keys inline (what apply
publishes), and runs both ends of every tunnel: the hub gateway in one namespace with N OpenVPN
processes, each spoke in its own, all joined by a bridge in an "internet" namespace (198.18.0.0/24).
Once every tunnel answers, it reads the hub's processes:

- memory: VmRSS (``/proc/<pid>/status``; counts shared libraries in every process) and
  Pss and private memory (``/proc/<pid>/smaps_rollup``: what N processes really add);
- file descriptors: the entries of ``/proc/<pid>/fd``;
- CPU: utime + stime (``/proc/<pid>/stat``) over ``--seconds``, once idle (keepalives only) and
  once at the agent's probe rate, fping sending to every tunnel's far end one echo every 200 ms
  (5 a second: the agent's default run of 5 echoes, 200 ms apart, back to back; ``-i 1`` lets
  fping send up to 1,000 a second in all, where its default 10 ms spacing would thin the
  echoes to 100 a second and starve hubs of more than 20 tunnels).

It prints per N the hub's figures per tunnel (medians over its processes; CPU as a percentage
of one core, summed over the hub's processes and divided by N; fping's own CPU apart, as the
agent's prober is apart from OpenVPN). ``--mode`` picks psk (the default) or fingerprint. Traffic stays inside the
namespaces it makes; namespaces, links, processes and hosts files go on exit, also on failure.
The figures feed ``vpnctl.capacity``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.system.netns import Namespace, namespace, unique
from vpnctl import keys, render, topology
from vpnctl.design import Design, design
from vpnctl.ipam import allocate
from vpnctl.topology import Topology

PUBLIC = IPv4Address("198.18.0.0")
TICKS = os.sysconf("SC_CLK_TCK")


def hub_yaml(spokes: int, mode: str) -> str:
    lines = [
        "version: 1",
        "name: cost",
        "accounts:",
        "  main: {partition: aws}",
        "dns: {zone: vpn.cost.example.com, account: main}",
        "addressing: {pool: 10.0.0.0/8, vpc_prefix: 20}",
        f"tunnel: {{mode: {mode}}}",
        "vpcs:",
        "  hub: {account: main, region: us-east-1, azs: [us-east-1a]}",
    ]
    lines += [
        f"  s{i:03d}: {{account: main, region: us-east-1, azs: [us-east-1a]}}"
        for i in range(spokes)
    ]
    lines.append("links: {hub: hub}")
    return "\n".join(lines) + "\n"


def designed(folder: Path, spokes: int, mode: str) -> tuple[Topology, Design]:
    """The pure core only: the user-data size check of plan is no concern of this lab."""
    path = folder / "hub.yaml"
    path.write_text(hub_yaml(spokes, mode))
    topo, _ = topology.read(path)
    allocation = allocate(topo)
    assert not allocation.problems, allocation.problems
    return topo, design(topo, allocation.lock)


@dataclass
class Lab:
    design: Design
    internet: Namespace
    bridge: str
    sites: dict[str, Namespace]  # by gateway name
    hub: str  # the hub's gateway name


@contextlib.contextmanager
def lab(topo: Topology, made: Design, work: Path) -> Iterator[Lab]:
    hosts: list[Path] = []
    with contextlib.ExitStack() as stack:
        stack.callback(remove_hosts, hosts)
        internet = stack.enter_context(namespace("ci"))
        bridge = unique("br")
        internet.run("ip", "link", "add", bridge, "type", "bridge")
        internet.run("ip", "link", "set", bridge, "up")
        sites: dict[str, Namespace] = {}
        names: list[str] = []
        for number, gateway in enumerate(made.gateways):
            ns = stack.enter_context(namespace("cg"))
            address = PUBLIC + 10 + number
            join(internet, bridge, ns, address)
            sites[gateway.name] = ns
            names.append(f"{address} {gateway.fqdn}")
        for ns in sites.values():
            path = Path("/etc/netns") / ns.name / "hosts"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("127.0.0.1 localhost\n" + "\n".join(names) + "\n")
            hosts.append(path)
        hub = made.vpcs["hub"].gateways[0]
        start(topo, made, sites, work)
        yield Lab(made, internet, bridge, sites, hub)


def remove_hosts(hosts: Sequence[Path]) -> None:
    for path in hosts:
        shutil.rmtree(path.parent, ignore_errors=True)


def join(internet: Namespace, bridge: str, ns: Namespace, address: IPv4Address) -> None:
    inside, port = unique("cp"), unique("cq")
    subprocess.run(
        ["ip", "link", "add", inside, "netns", ns.name, "type", "veth",
         "peer", "name", port, "netns", internet.name],
        check=True, capture_output=True,
    )  # fmt: skip
    internet.run("ip", "link", "set", port, "master", bridge, "up")
    ns.run("ip", "addr", "add", f"{address}/24", "dev", inside)
    ns.run("ip", "link", "set", inside, "up")
    ns.run("ip", "link", "set", "lo", "up")


def start(topo: Topology, made: Design, sites: dict[str, Namespace], work: Path) -> None:
    secrets = keys.generate_all(made)
    for tunnel in made.tunnels:
        for end in tunnel.ends():
            conf = work / f"{end.gateway}--{tunnel.name}.conf"
            text = render.tunnel_config(topo, made, end.gateway, tunnel.name, secrets[tunnel.name])
            conf.write_text(text)
            conf.chmod(0o600)
            log = (work / f"{end.gateway}--{tunnel.name}.log").open("ab")
            sites[end.gateway].popen(
                "openvpn", "--config", str(conf),
                "--status", str(work / f"{end.gateway}--{tunnel.name}.status"), "10",
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            log.close()


def far_ends(made: Design, hub: str) -> list[str]:
    return [str(t.end(hub)[1].inside_ip) for t in made.tunnels if hub in (t.a.gateway, t.b.gateway)]


def wait_up(ns: Namespace, targets: Sequence[str], timeout: float) -> float:
    """Seconds until every target answers an echo from ``ns``."""
    began, left = time.monotonic(), set(targets)
    while left:
        if time.monotonic() - began > timeout:
            raise SystemExit(f"{len(left)} of {len(targets)} tunnels not up after {timeout:.0f}s")
        done = ns.run("fping", "-a", "-q", "-r", "0", "-t", "300", *sorted(left), check=False)
        left -= set(done.stdout.split())
        if left:
            time.sleep(0.5)
    return time.monotonic() - began


def openvpn_pids(ns: Namespace) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True, text=True)
    pids = [int(p) for p in done.stdout.split()]
    return [p for p in pids if Path(f"/proc/{p}/comm").read_text().strip() == "openvpn"]


def kb(path: str, field: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # both files count in kB
    return 0


def ticks(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))


def cpu_pct(groups: Sequence[Sequence[int]], seconds: float) -> list[float]:
    """Per group of pids, the percent of one core its processes used together over ``seconds``."""
    before, began = [sum(ticks(p) for p in g) for g in groups], time.monotonic()
    time.sleep(seconds)
    after, spent = [sum(ticks(p) for p in g) for g in groups], time.monotonic() - began
    return [100.0 * (a - b) / TICKS / spent for a, b in zip(after, before, strict=True)]


@dataclass(frozen=True)
class Row:
    tunnels: int
    up_s: float
    rss_kb: float
    pss_kb: float
    private_kb: float
    fds: float
    idle_pct: float  # per tunnel, % of one core
    probed_pct: float
    fping_pct: float  # the prober itself, per tunnel
    echoes_per_s: float  # what fping really sent, per tunnel


def measure(spokes: int, seconds: float, folder: Path, mode: str) -> Row:
    work = folder / f"n{spokes}"
    work.mkdir()
    work.chmod(0o755)  # OpenVPN drops to nobody and rewrites its status file
    topo, made = designed(work, spokes, mode)
    with lab(topo, made, work) as running:
        hub = running.sites[running.hub]
        targets = far_ends(made, running.hub)
        up = wait_up(hub, targets, 60 + 2 * spokes)
        time.sleep(2)  # the handshakes' CPU is not idle CPU
        pids = openvpn_pids(hub)
        assert len(pids) == spokes, f"{len(pids)} openvpn processes on the hub, {spokes} wanted"
        memory = [memory_kb(p) for p in pids]
        fds = [len(os.listdir(f"/proc/{p}/fd")) for p in pids]
        (idle,) = cpu_pct([pids], seconds)
        probed, fping, rate = probed_cpu(hub, pids, targets, seconds)
    med = statistics.median
    rss, pss, private = (med(m[i] for m in memory) for i in range(3))
    return Row(spokes, up, rss, pss, private, med(fds), idle / spokes, probed / spokes,
               fping / spokes, rate)  # fmt: skip


def memory_kb(pid: int) -> tuple[int, int, int]:
    """VmRSS, Pss, and private (clean + dirty) memory of ``pid``, in kB."""
    rollup = f"/proc/{pid}/smaps_rollup"
    private = kb(rollup, "Private_Clean") + kb(rollup, "Private_Dirty")
    return kb(f"/proc/{pid}/status", "VmRSS"), kb(rollup, "Pss"), private


def probed_cpu(
    hub: Namespace, pids: Sequence[int], targets: Sequence[str], seconds: float
) -> tuple[float, float, float]:
    """OpenVPN's and fping's CPU while fping probes every target every 200 ms, and the echoes
    per second per target fping really sent (its summary, printed on SIGINT)."""
    began = time.monotonic()
    probe = hub.popen(
        "fping", "-l", "-q", "-i", "1", "-p", "200", "-t", "400", *targets,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(1)
    probed, fping = cpu_pct([pids, [probe.pid]], seconds)
    probe.send_signal(signal.SIGINT)
    _, err = probe.communicate(timeout=10)
    elapsed = time.monotonic() - began
    # "<target> : xmt/rcv/%loss = 75/75/0%" per target
    sent = sum(int(line.split("=")[1].split("/")[0]) for line in err.decode().splitlines()
               if "xmt/rcv" in line)  # fmt: skip
    return probed, fping, sent / elapsed / len(targets)


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| tunnels on the hub | all up after | VmRSS | Pss | private | fds | CPU idle | CPU probed | fping | echoes/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.tunnels} | {r.up_s:.1f} s | {r.rss_kb / 1024:.1f} MiB | {r.pss_kb / 1024:.2f} MiB"
        f" | {r.private_kb / 1024:.2f} MiB | {r.fds:.0f} | {r.idle_pct:.3f}% | {r.probed_pct:.3f}%"
        f" | {r.fping_pct:.3f}% | {r.echoes_per_s:.1f} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--spokes", type=int, nargs="+", default=[1, 10, 50, 100])
    parser.add_argument("--seconds", type=float, default=20.0, help="each CPU window")
    parser.add_argument("--mode", choices=["psk", "fingerprint"], default="psk")
    args = parser.parse_args(argv)
    if os.geteuid() != 0 or not shutil.which("openvpn") or not shutil.which("fping"):
        print("needs root, openvpn and fping", file=sys.stderr)
        return 2
    done = subprocess.run(["openvpn", "--version"], capture_output=True, text=True, check=False)
    with tempfile.TemporaryDirectory(prefix="tunnel-cost-") as folder:
        os.chmod(folder, 0o755)
        rows = [measure(n, args.seconds, Path(folder), args.mode) for n in args.spokes]
    print(f"{time.strftime('%a %d %b %Y %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs,"
          f" {platform.machine()}, load {os.getloadavg()[0]:.1f};"
          f" {done.stdout.splitlines()[0] if done.stdout else 'openvpn'}; mode {args.mode}")  # fmt: skip
    print("per tunnel, medians over the hub's OpenVPN processes; CPU in % of one core")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
