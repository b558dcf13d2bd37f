"""How many tunnels an instance type holds, and plan's note when a gateway has more."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.builders import designed, doc, parse, vpc
from vpnctl import capacity, topology
from vpnctl.capacity import BY_NAME, TYPES, holds, smallest_fitting
from vpnctl.design import Design, design
from vpnctl.ipam import allocate
from vpnctl.topology import Topology

EXAMPLES = sorted((Path(__file__).parents[2] / "topologies").glob("*.yaml"))


def hub(spokes: int, instance_type: str = "t3.small", azs: str = "a") -> dict[str, Any]:
    vpcs = {"hub": vpc("us-east-1", azs)} | {
        f"s{i:03d}": vpc("us-east-1", "a") for i in range(spokes)
    }
    return doc(
        vpcs=vpcs,
        links={"hub": "hub"},
        addressing={"pool": "10.0.0.0/8", "vpc_prefix": 20},
        gateways={"instance_type": instance_type},
    )


@cache
def planned(
    spokes: int, instance_type: str = "t3.small", azs: str = "a"
) -> tuple[Topology, Design]:
    d = hub(spokes, instance_type, azs)
    return parse(d), designed(d)


# ------------------------------------------------------------------ the table


def test_the_table_has_the_types_the_docs_name() -> None:
    for name in ("t3.nano", "t3.small", "t3.large", "t4g.small", "c6i.large", "c7i.large",
                 "m6i.large"):  # fmt: skip
        assert name in BY_NAME
    assert len(BY_NAME) == len(TYPES)  # no name twice


@pytest.mark.parametrize(
    ("name", "vcpus", "gib"),
    [("t3.nano", 2, 0.5), ("t3.small", 2, 2), ("t3.large", 2, 8), ("t4g.medium", 2, 4),
     ("c6i.large", 2, 4), ("c7i.xlarge", 4, 8), ("m6i.large", 2, 8)],
)  # fmt: skip
def test_figures_are_those_of_the_instance_types_guide(name: str, vcpus: int, gib: float) -> None:
    instance = BY_NAME[name]
    assert (instance.vcpus, instance.memory_mib) == (vcpus, int(gib * 1024))
    assert instance.source.startswith("https://docs.aws.amazon.com/")


def test_burstable_types_hold_their_baseline_not_their_vcpus() -> None:
    assert BY_NAME["t3.nano"].baseline_pct == 5
    assert BY_NAME["t3.small"].baseline_pct == 20
    assert BY_NAME["c6i.large"].baseline_pct == 100
    assert holds(BY_NAME["t3.large"]) < holds(BY_NAME["c6i.large"])  # same 2 vCPUs


def test_a_bigger_type_of_a_family_holds_at_least_as_much() -> None:
    families: dict[str, list[int]] = {}
    for instance in TYPES:  # listed smallest first within a family
        families.setdefault(instance.name.split(".")[0], []).append(holds(instance))
    for held in families.values():
        assert held == sorted(held)
        assert held[0] > 0


def test_graviton_types_are_arm64() -> None:
    assert BY_NAME["t4g.small"].architecture == "arm64"
    assert BY_NAME["c7g.large"].architecture == "arm64"
    assert BY_NAME["t3.small"].architecture == "x86_64"
    assert BY_NAME["c7i.large"].architecture == "x86_64"


def test_the_smallest_fitting_type_is_the_fewest_vcpus_then_the_least_memory() -> None:
    nano = BY_NAME["t3.nano"]
    assert smallest_fitting(holds(nano) + 1, nano) == BY_NAME["t3.micro"]  # one size up
    small = BY_NAME["t3.small"]
    bigger = smallest_fitting(holds(small) + 1, small)
    assert bigger is not None
    assert holds(bigger) > holds(small)
    assert bigger.architecture == "x86_64"
    fitting = [t for t in TYPES if t.architecture == "x86_64" and holds(t) > holds(small)]
    assert (bigger.vcpus, bigger.memory_mib) == min((t.vcpus, t.memory_mib) for t in fitting)


def test_a_tie_goes_to_the_own_family_and_the_architecture_stays() -> None:
    c6i, c7i = BY_NAME["c6i.large"], BY_NAME["c7i.large"]
    assert (c6i.vcpus, c6i.memory_mib, holds(c6i)) == (c7i.vcpus, c7i.memory_mib, holds(c7i))
    assert smallest_fitting(holds(c7i), c7i) == c7i
    assert smallest_fitting(holds(c7i), c6i) == c6i
    arm = smallest_fitting(holds(BY_NAME["t4g.xlarge"]) + 1, BY_NAME["t4g.small"])
    assert arm is not None
    assert arm.architecture == "arm64"
    assert smallest_fitting(10**6, BY_NAME["t3.small"]) is None


# ------------------------------------------------------------------ the note


def test_a_300_spoke_hub_on_t3_small_is_noted_with_a_type_that_fits() -> None:
    topo, made = planned(300)
    notes = capacity.notes(topo, made)
    assert len(notes) == 1  # the hub's gateway only: every spoke's runs one tunnel
    note = notes[0]
    hub_gateway = made.vpcs["hub"].gateways[0]
    assert f"gateway {hub_gateway} runs 300 tunnels" in note
    assert "t3.small" in note
    suggested = smallest_fitting(300, BY_NAME["t3.small"])
    assert suggested is not None
    assert f"set gateways.instance_type: {suggested.name}" in note
    assert holds(suggested) >= 300


def test_each_hub_gateway_is_noted() -> None:
    topo, made = planned(40, "t3.nano", "ab")
    notes = capacity.notes(topo, made)
    assert len(notes) == len(made.vpcs["hub"].gateways) == 2
    assert all("t3.nano" in n for n in notes)


def test_a_hub_no_type_holds_is_told_to_split() -> None:
    most = max(holds(t) for t in TYPES if t.architecture == "x86_64")
    topo, made = planned(most + 1, "c6i.xlarge")
    (note,) = capacity.notes(topo, made)
    assert f"runs {most + 1} tunnels" in note
    assert "split the hub" in note
    assert "second gateway group" in note
    assert "set gateways.instance_type" not in note


def test_a_gateway_at_its_limit_is_not_noted() -> None:
    limit = holds(BY_NAME["t3.nano"])
    topo, made = planned(limit, "t3.nano")
    assert capacity.notes(topo, made) == ()
    topo, made = planned(limit + 1, "t3.nano")
    assert len(capacity.notes(topo, made)) == 1


def test_an_unknown_type_is_not_checked() -> None:
    topo, made = planned(300, "x9.huge")
    assert capacity.notes(topo, made) == ()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_examples_are_not_noted(path: Path) -> None:
    topo, _ = topology.read(path)
    allocation = allocate(topo)
    assert capacity.notes(topo, design(topo, allocation.lock)) == ()


def test_tunnels_are_counted_at_both_ends() -> None:
    _, made = planned(3)
    counts = capacity.tunnel_counts(made)
    assert counts[made.vpcs["hub"].gateways[0]] == 3
    assert all(counts[made.vpcs[f"s{i:03d}"].gateways[0]] == 1 for i in range(3))
