"""How many tunnels a gateway's instance type holds, checked at plan time. Pure.

Every tunnel is one OpenVPN process on each of its two gateways, so a hub's gateway runs one
process per spoke. ``notes(topology, design)`` returns one note per gateway whose tunnels exceed
what ``gateways.instance_type`` holds, naming the gateway, its tunnel count and the type, and
suggesting the smallest listed type of the same architecture that holds them or, when none
does, splitting the hub over a second gateway group. A note, not an error: the figures are
estimates, and plan still succeeds.

What a type holds is the smaller of two budgets:

- memory: the type's memory, less ``OS_MIB`` (the kernel, systemd, cloud-init, the SSM agent)
  and ``AGENT_MIB`` (vpnctl's gateway agent), at most ``MEMORY_USE`` of it, over
  ``TUNNEL_MIB`` per tunnel;
- CPU: the type's vCPUs at their baseline (burstable types earn credits only below it), at most
  ``CPU_USE`` of it, over ``TUNNEL_CPU_PCT`` per tunnel at the agent's probe rate.

File descriptors do not bind: each OpenVPN process holds its own few (6 measured) under its own
limit. A type missing from ``TYPES`` is not checked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from vpnctl.design import Design
from vpnctl.topology import Topology

# Per-tunnel cost, measured with benchmarks/tunnel_cost.py (benchmarks/RESULTS.md, "Tunnel
# cost"): Tue Dec 1 2026, 2 CPUs x86_64 (Intel Xeon, shared, load 6-12), Debian's OpenVPN
# 2.6.14, a hub gateway with 1, 10, 50 and 100 tunnels, fingerprint and psk modes. Medians per
# hub process: VmRSS 9.5 MiB fingerprint, 8.4 psk (shared libraries counted in every process);
# Pss 1.5 / 1.2 MiB from 50 tunnels on (1.4 / 1.2 private); 6 file descriptors; CPU at idle
# under 0.01% of a core, at the probe rate (5 echoes a second each) 0.05-0.1% for OpenVPN and
# 0.02-0.05% for the prober (fping standing in for the agent's).
TUNNEL_MIB = 3.0  # Pss x2: the kernel's tun device, socket and systemd unit besides
TUNNEL_CPU_PCT = 0.25  # % of one vCPU at the probe rate, OpenVPN and prober, x2.5: a Python
# prober costs more per echo than fping, and the kernel's share is not in the process figures
# Not measured here, estimates with margin: an idle Ubuntu server (kernel, systemd, cloud-init,
# snapd, the SSM agent) and vpnctl's gateway agent (one Python process) with its prober.
OS_MIB = 350
AGENT_MIB = 80
MEMORY_USE = 0.8  # of what is left: the page cache and bursts need the rest
CPU_USE = 0.8  # of the baseline: below it a burstable type keeps credits for traffic bursts

GP = "https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html"  # general purpose specs
CO = "https://docs.aws.amazon.com/ec2/latest/instancetypes/co.html"  # compute optimized specs
# Baseline performance per vCPU of burstable types: EC2 User Guide, "Key concepts and
# definitions for burstable performance instances", table "Baseline performance".
BURST = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html"
)


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int
    baseline_pct: int  # sustained CPU per vCPU; 100 for types that do not burst
    source: str

    @property
    def architecture(self) -> str:
        """Graviton families (t4g, c7g, ...) run arm64 images; the others x86_64."""
        family = self.name.split(".")[0]
        return "arm64" if family.rstrip("dn").endswith("g") else "x86_64"


def _t(name: str, vcpus: int, gib: float, baseline: int) -> InstanceType:
    return InstanceType(name, vcpus, int(gib * 1024), baseline, f"{GP}; {BURST}")


def _fixed(name: str, vcpus: int, gib: float, source: str) -> InstanceType:
    return InstanceType(name, vcpus, int(gib * 1024), 100, source)


TYPES: tuple[InstanceType, ...] = (
    _t("t3.nano", 2, 0.5, 5),
    _t("t3.micro", 2, 1, 10),
    _t("t3.small", 2, 2, 20),
    _t("t3.medium", 2, 4, 20),
    _t("t3.large", 2, 8, 30),
    _t("t3.xlarge", 4, 16, 40),
    _t("t4g.nano", 2, 0.5, 5),
    _t("t4g.micro", 2, 1, 10),
    _t("t4g.small", 2, 2, 20),
    _t("t4g.medium", 2, 4, 20),
    _t("t4g.large", 2, 8, 30),
    _t("t4g.xlarge", 4, 16, 40),
    _fixed("c6i.large", 2, 4, CO),
    _fixed("c6i.xlarge", 4, 8, CO),
    _fixed("c7i.large", 2, 4, CO),
    _fixed("c7i.xlarge", 4, 8, CO),
    _fixed("c7g.large", 2, 4, CO),
    _fixed("c7g.xlarge", 4, 8, CO),
    _fixed("m6i.large", 2, 8, GP),
    _fixed("m6i.xlarge", 4, 16, GP),
)
BY_NAME = {t.name: t for t in TYPES}


def holds(instance: InstanceType) -> int:
    """How many tunnels a gateway of this type holds: the smaller of its two budgets."""
    spare_mib = (instance.memory_mib - OS_MIB - AGENT_MIB) * MEMORY_USE
    by_memory = int(max(0.0, spare_mib) // TUNNEL_MIB)
    cpu_pct = instance.vcpus * instance.baseline_pct * CPU_USE
    by_cpu = int(cpu_pct // TUNNEL_CPU_PCT)
    return min(by_memory, by_cpu)


def smallest_fitting(tunnels: int, like: InstanceType) -> InstanceType | None:
    """The smallest listed type of ``like``'s architecture holding ``tunnels``: fewest vCPUs,
    then least memory, ties going to ``like``'s own family (the user's choice, sized up).
    The architecture stays: an x86_64 image does not boot on a Graviton type."""
    fitting = [t for t in TYPES if t.architecture == like.architecture and holds(t) >= tunnels]
    family = like.name.split(".")[0]
    fitting.sort(key=lambda t: (t.vcpus, t.memory_mib, t.name.split(".")[0] != family))
    return fitting[0] if fitting else None


def tunnel_counts(design: Design) -> Counter[str]:
    """Tunnels (OpenVPN processes) per gateway."""
    counts: Counter[str] = Counter()
    for tunnel in design.tunnels:
        counts.update((tunnel.a.gateway, tunnel.b.gateway))
    return counts


def notes(topology: Topology, design: Design) -> tuple[str, ...]:
    """A note per gateway whose tunnels exceed what its instance type holds."""
    instance = BY_NAME.get(topology.gateways.instance_type)
    if instance is None:
        return ()
    limit = holds(instance)
    counts = tunnel_counts(design)
    return tuple(
        _note(g.name, counts[g.name], instance, limit)
        for g in design.gateways
        if counts[g.name] > limit
    )


def _note(gateway: str, tunnels: int, instance: InstanceType, limit: int) -> str:
    said = (
        f"gateway {gateway} runs {tunnels} tunnels, more than its instance type "
        f"{instance.name} holds (about {limit}: one OpenVPN process per tunnel)"
    )
    better = smallest_fitting(tunnels, instance)
    if better is not None:
        return f"{said}; set gateways.instance_type: {better.name} (holds about {holds(better)})"
    return (
        f"{said}; no listed {instance.architecture} type holds {tunnels}: split the hub, "
        f"giving part of its spokes a second hub VPC (a second gateway group)"
    )
