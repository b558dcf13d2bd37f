"""Growth edits leave every kept tunnel byte-identical: its lock entry and the files its two
gateways run (the tunnel config; routes live in routes.json, which the agent applies in place).

The two edits of issue 14: the demo grown by a third VPC linked to us-west-2, and frankfurt
(one AZ) linked to singapore (two) growing a second AZ. Before routes left the tunnel configs,
both changed the `route` lines of existing tunnels (a summary narrowed by the new VPC, or a
gateway's one tunnel becoming one of two), and so restarted them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders import doc, parse, vpc
from vpnctl import lockfile, render
from vpnctl.agent import follow
from vpnctl.agent.config import Config
from vpnctl.agent.plan import Restart, Running, Start, Stop, after, plan
from vpnctl.design import Design, design
from vpnctl.ipam import Lock, allocate
from vpnctl.topology import Topology

ROOT = Path(__file__).resolve().parents[2]
Edit = tuple[Topology, Design, Lock, Topology, Design, Lock]
ENV = "VPNCTL_GATEWAY=gw\n"


def _plan(document: dict[str, Any], lock: Lock | None) -> tuple[Topology, Design, Lock]:
    topology = parse(document)
    allocation = allocate(topology, lock)
    assert not allocation.problems, allocation.problems
    return topology, design(topology, allocation.lock), allocation.lock


def demo_grown_by_a_vpc() -> Edit:
    document = yaml.safe_load((ROOT / "topologies" / "demo.yaml").read_text())
    lock = lockfile.loads((ROOT / "topologies" / "demo.lock.json").read_text(), "demo.lock.json")
    before = _plan(document, lock)
    document["vpcs"]["ap-southeast-1"] = vpc("ap-southeast-1", "a")
    document["links"].append({"between": ["us-west-2", "ap-southeast-1"]})
    document["allow"].append({"from": "ap-southeast-1", "to": "us-west-2", "proto": "icmp"})
    return (*before, *_plan(document, before[2]))


def frankfurt_grows_an_az() -> Edit:
    def edit(frankfurt: str) -> dict[str, Any]:
        return doc(vpcs={"frankfurt": vpc("eu-central-1", frankfurt),
                         "singapore": vpc("ap-southeast-1", "ab")},
                   links=[{"between": ["frankfurt", "singapore"]}])  # fmt: skip

    before = _plan(edit("a"), None)
    return (*before, *_plan(edit("ab"), before[2]))


EDITS = {"demo + VPC": demo_grown_by_a_vpc, "frankfurt AZ b": frankfurt_grows_an_az}


def tunnel_files(topology: Topology, d: Design) -> dict[tuple[str, str], str]:
    """(gateway, tunnel) -> the tunnel's config in the gateway's desired configuration."""
    found = {}
    for gateway in d.gateways:
        document = json.loads(render.gateway_config(topology, d, gateway.name))
        for item in document["files"]:
            if item["path"].startswith("/etc/openvpn/vpnctl/"):
                name = item["path"].rsplit("/", 1)[1].removesuffix(".conf")
                found[(gateway.name, name)] = item["content"]
    return found


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_growth_edit_keeps_every_existing_tunnel_byte_identical(edit: str) -> None:
    t1, d1, lock1, t2, d2, lock2 = EDITS[edit]()
    kept = {t.name for t in d1.tunnels}
    assert kept < {t.name for t in d2.tunnels}  # growth: every tunnel stays, some are new
    assert {n: lock2.tunnels[n] for n in kept} == {n: lock1.tunnels[n] for n in kept}
    before, after = tunnel_files(t1, d1), tunnel_files(t2, d2)
    assert before, edit
    for key, text in before.items():
        assert after[key] == text, f"{edit}: {key} changed"


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_what_growth_changes_on_a_kept_tunnel_is_its_routes_file_only(edit: str) -> None:
    """The routes the kept tunnels carry do change (that is why they left the configs): the
    edit must show up in routes.json for the agent to apply it."""
    _, d1, _, _, d2, _ = EDITS[edit]()
    changed = [g.name for g in d1.gateways
               if render.routes_file(d1, g.name) != render.routes_file(d2, g.name)]  # fmt: skip
    assert changed, edit
    for gateway in changed:
        old = json.loads(render.routes_file(d1, gateway))["devices"]
        new = json.loads(render.routes_file(d2, gateway))["devices"]
        assert set(old) <= set(new)  # every device it had stays: no tunnel goes


def test_with_keys_a_config_still_carries_its_routes_and_runs_as_it_is() -> None:
    t1, d1, *_ = demo_grown_by_a_vpc()
    tunnel = d1.tunnels[0]
    inline = render.tunnel_config(t1, d1, tunnel.a.gateway, tunnel.name, routes=True)
    assert "route 10.64.0.0 255.240.0.0" in inline.splitlines()


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_the_agent_takes_a_growth_edit_without_restarting_or_stopping_a_tunnel(edit: str) -> None:
    t1, d1, _, t2, d2, _ = EDITS[edit]()
    for gateway in d1.gateways:
        old = Config.of(follow.folder_of(render.gateway_config(t1, d1, gateway.name), ENV))
        new = Config.of(follow.folder_of(render.gateway_config(t2, d2, gateway.name), ENV))
        running = after(Running(), plan(old, Running()), old)
        actions = plan(new, running)
        assert not [a for a in actions if isinstance(a, Restart | Stop)], (gateway.name, actions)
        started = {a.tunnel for a in actions if isinstance(a, Start)}
        assert started == set(new.tunnels()) - set(old.tunnels())
