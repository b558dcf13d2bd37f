"""The planning pipeline, end to end: read -> validate -> allocate -> design.

Every command starts here. ``plan`` reads the topology and its lock file (the only I/O),
runs the pure core, and returns what it made; ``record`` writes the lock when it changed,
or refuses to under ``--frozen``. Apply, render, probe, the lab and the failover hook all take
the ``Design`` this produces.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from vpnctl import capacity, images, limits, lockfile, topology
from vpnctl.design import Design, design
from vpnctl.errors import LockConflict, Problem
from vpnctl.ipam import Lock, allocate, release
from vpnctl.source import Source
from vpnctl.topology import Topology
from vpnctl.tunnels import repaired


@dataclass(frozen=True)
class Plan:
    topology: Topology
    source: Source
    lock: Lock
    lock_path: Path
    lock_text: str
    lock_changed: bool
    design: Design
    notes: tuple[str, ...]


def plan(
    path: str | Path,
    *,
    releases: Iterable[str] = (),
    prune: bool = False,
    repairs: Iterable[str] = (),
) -> Plan:
    """Plan the topology at ``path``; raise InputError (exit 2) for anything wrong with it.
    ``repairs`` names links to re-pair round-robin (``--repair-tunnels``)."""
    topo, src = topology.read(path)
    refused = images.problems(topo)  # the gateways' image, and the modes its OpenVPN runs
    if refused:
        raise src.fail(refused)
    lock_path = lockfile.path_for(path)
    old_text = lockfile.read_text(lock_path)
    previous = lockfile.loads(old_text, str(lock_path)) if old_text is not None else None
    _check_repairs(topo, src, repairs)
    start = release(previous, topo, releases, prune) if previous else None
    if start is not None and repairs:  # --repair-tunnels: the links named pair afresh
        start = replace(start, tunnels=repaired(start.tunnels, topo, repairs))
    allocation = allocate(_avoiding_released(topo, previous, releases), start)
    if allocation.problems:
        raise src.fail(list(allocation.problems))
    designed = design(topo, allocation.lock)
    breaches = limits.problems(topo, designed)  # what AWS would refuse, found before apply
    if breaches:
        raise src.fail(breaches)
    text = lockfile.dumps(allocation.lock)
    return Plan(
        topology=topo,
        source=src,
        lock=allocation.lock,
        lock_path=lock_path,
        lock_text=text,
        lock_changed=text != old_text,
        design=designed,
        notes=(*allocation.notes, *capacity.notes(topo, designed)),  # a warning, not a refusal
    )


def _check_repairs(topo: Topology, src: Source, names: Iterable[str]) -> None:
    """Each --repair-tunnels must name a link of the topology (exit 2 if not)."""
    links = sorted(link.name for link in topo.links)
    unknown = [n for n in names if n not in links]
    if unknown:
        known = ", ".join(links[:10]) + (", ..." if len(links) > 10 else "")
        raise src.fail(
            [Problem("links", f"--repair-tunnels {n}: no link {n} here (links: {known})")
             for n in unknown]
        )  # fmt: skip


def _avoiding_released(topo: Topology, previous: Lock | None, names: Iterable[str]) -> Topology:
    """``--release`` promises fresh addresses: for this allocation, the released VPCs' old
    CIDRs count as reserved (the first free range would otherwise be the same one)."""
    old = [previous.vpcs[n].cidr for n in names if previous and n in previous.vpcs]
    old = [c for c in old if all(v.cidr != c for v in topo.vpcs.values())]  # pins stay
    if not old:
        return topo
    addressing = replace(topo.addressing, reserved=(*topo.addressing.reserved, *old))
    return replace(topo, addressing=addressing)


def record(planned: Plan, frozen: bool) -> bool:
    """Write the lock file if it changed; with ``frozen`` refuse instead. True if written."""
    if not planned.lock_changed:
        return False
    if frozen:
        raise LockConflict(
            f"{planned.lock_path} would change, and --frozen forbids it: run `vpnctl plan "
            f"{planned.source.file}` and commit the new lock file"
        )
    lockfile.write(planned.lock_path, planned.lock_text)
    return True


def design_for(path: str | Path, frozen: bool = True) -> Design:
    """The design of the topology at ``path``, for commands that only read it."""
    planned = plan(path)
    record(planned, frozen)
    return planned.design
