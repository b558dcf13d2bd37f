"""AWS's limits at plan time: each breach a Problem naming its key and what to change."""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders import designed, doc, parse, vpc
from vpnctl import limits, render
from vpnctl.aws.intent import Intent
from vpnctl.aws.policy import gateway_policy
from vpnctl.design import Design
from vpnctl.topology import Topology

TOPOLOGIES = sorted(Path(__file__).parents[2].joinpath("topologies").glob("*.yaml"))


def hub(spokes: int, mode: str = "psk") -> dict[str, Any]:
    vpcs = {"hub": vpc("us-east-1", "a")}
    vpcs |= {f"s{i:03d}": vpc("us-east-1", "a") for i in range(spokes)}
    return doc(
        vpcs=vpcs,
        links={"hub": "hub"},
        addressing={"pool": "10.0.0.0/8", "vpc_prefix": 20},
        tunnel={"mode": mode},
    )


@cache
def planned(spokes: int, mode: str) -> tuple[Topology, Design]:
    d = hub(spokes, mode)
    return parse(d), designed(d)


@pytest.mark.parametrize("path", TOPOLOGIES, ids=[p.stem for p in TOPOLOGIES])
def test_the_examples_fit(path: Path) -> None:
    d = yaml.safe_load(path.read_text())
    assert limits.problems(parse(d), designed(d)) == []


def test_white_space_is_not_counted() -> None:
    assert limits.size('{"a": [1, 2],\n  "b": "c d"}') == len('{"a":[1,2],"b":"cd"}')


def test_a_thirty_spoke_fingerprint_hub_fits() -> None:
    """It wrote 11,799+ characters, one name per key, before the own-keys pattern."""
    topology, design = planned(30, "fingerprint")
    intent = limits.plan_intent(topology, design)
    assert list(limits.policy_problems(intent)) == []


def test_a_hub_gateway_s_policy_does_not_grow_with_its_spokes() -> None:
    """Every key a gateway reads is stored under its own name, read through one pattern: the
    hub gateway of 120 spokes (10,923 characters when it named each tunnel's key) fits."""
    sizes = []
    for spokes in (20, 120):
        topology, design = planned(spokes, "fingerprint")
        intent = limits.plan_intent(topology, design)
        assert list(limits.policy_problems(intent)) == []
        hub_a = design.gateway_by_name["gw-hub-a"]
        sizes.append(limits.size(gateway_policy(intent, hub_a, limits.ACCOUNT_ID)))
    assert sizes[0] == sizes[1]


def test_a_hub_s_user_data_is_a_bootstrap_that_fits_whatever_its_size() -> None:
    """User-data no longer carries the tunnels (they are in the fetched configuration), so the
    hub gateway of 120 VPCs, far past 16 KB before, passes the check."""
    topology, design = planned(120, "psk")
    assert list(limits.userdata_problems(topology, design)) == []


def test_user_data_over_16_kb_gzipped_is_refused() -> None:
    incompressible = f"{random.Random(0).getrandbits(4 * 40_000):x}"  # ~20 KB gzipped
    with pytest.raises(render.UserDataTooLarge, match="over EC2's 16,384"):
        render.fit_userdata(incompressible)


class CutNames(Intent):
    """How names were made before: cut at 64 characters."""

    def aws_name(self, name: str) -> str:
        return f"{self.topology}-{name}"[:64]


def test_names_derived_twice_are_refused() -> None:
    long = "v" * 32
    d = doc(name="t" * 32, vpcs={long: vpc("us-east-1"), "w": vpc("us-west-2")},
            links=[{"between": [long, "w"]}])  # fmt: skip
    design = designed(d)
    intent = CutNames(design, "t3.micro", {}, {}, "main", {"main": "aws", "china": "aws-cn"})
    found = list(limits.name_problems(intent))
    assert {p.key for p in found} == {f"vpcs.{long}"}
    assert any("iam role name" in p.message and "derived twice" in p.message for p in found)
    assert any("security group name" in p.message for p in found)
    fixed = limits.plan_intent(parse(d), design)
    assert list(limits.name_problems(fixed)) == []
