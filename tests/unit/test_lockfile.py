"""The lock file as hostile input: every invariant the allocator keeps, broken by hand, refused.

Each case takes the lock of a real allocation, breaks one thing in it, and checks that
``lockfile.loads`` refuses it with ``FILE:LINE: KEY`` naming the broken entry, and the line is
the one that holds it. What only the topology can judge is refused by ``allocate``.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest

from tests.builders import allocated, doc, parse, vpc
from vpnctl import lockfile
from vpnctl.errors import Diagnostic, InputError
from vpnctl.ipam import Lock, allocate, release, tunnel_gateways

Doc = dict[str, Any]


def hub() -> Doc:
    d = doc(links={"hub": "west"})
    d["vpcs"]["north"] = vpc("eu-west-1")
    return d


def good_lock() -> Doc:
    loaded: Doc = json.loads(lockfile.dumps(allocated(hub()).lock))
    return loaded


def text_of(d: Doc) -> str:
    return json.dumps(d, indent=2, sort_keys=True) + "\n"


def refusals(text: str) -> list[Diagnostic]:
    with pytest.raises(InputError) as info:
        lockfile.loads(text, "t.lock.json")
    return list(info.value.diagnostics)


def tunnels_of(d: Doc, gateway: str) -> list[str]:
    return sorted(
        n for n, t in d["tunnels"].items() if gateway in (tunnel_gateways(n, t["link"]) or ())
    )


def az(d: Doc, name: str, index: int = 0) -> Doc:
    body: Doc = d["vpcs"][name]["azs"][sorted(d["vpcs"][name]["azs"])[index]]
    return body


def first_tunnel(d: Doc) -> Doc:
    body: Doc = d["tunnels"][sorted(d["tunnels"])[0]]
    return body


def set_in(path: list[str | int], value: Any) -> Callable[[Doc], None]:
    def edit(d: Doc) -> None:
        target: Any = d
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return edit


def delete(path: list[str]) -> Callable[[Doc], None]:
    def edit(d: Doc) -> None:
        target: Any = d
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return edit


def same_cidr(d: Doc) -> None:
    d["vpcs"]["west"]["cidr"] = d["vpcs"]["east"]["cidr"]


def overlapping_cidr(d: Doc) -> None:  # a /20 inside another VPC's /16
    d["vpcs"]["north"]["cidr"] = d["vpcs"]["east"]["cidr"].replace("/16", "/20")
    d["vpcs"]["north"]["azs"] = {}


def subnet_outside(d: Doc) -> None:
    az(d, "east")["routing"] = "10.200.0.0/24"


def subnets_overlap(d: Doc) -> None:
    az(d, "east", 1)["routing"] = az(d, "east", 0)["routing"]


def subnet_too_big(d: Doc) -> None:
    az(d, "east")["routing"] = d["vpcs"]["east"]["cidr"]


def same_inside(d: Doc) -> None:
    names = sorted(d["tunnels"])
    d["tunnels"][names[1]]["inside"] = d["tunnels"][names[0]]["inside"]


def inside_in_a_vpc(d: Doc) -> None:
    first_tunnel(d)["inside"] = d["vpcs"]["east"]["cidr"].replace("/16", "/30")


def same_port_on_a_gateway(d: Doc) -> None:
    a, b = tunnels_of(d, "gw-west-a")
    d["tunnels"][b]["port"] = d["tunnels"][a]["port"]


def wrong_link(d: Doc) -> None:
    first_tunnel(d)["link"] = "north--west"  # the first tunnel is east's


def unrecorded_vpc(d: Doc) -> None:
    del d["vpcs"]["east"]


def foreign_tunnel_name(d: Doc) -> None:
    d["tunnels"]["east-a--mars-a"] = d["tunnels"].pop(sorted(d["tunnels"])[0])


def blocks_overlap(d: Doc) -> None:
    d["blocks"]["eu-west-1"] = d["blocks"]["us-east-1"]


def az_of_another_region(d: Doc) -> None:
    azs = d["vpcs"]["east"]["azs"]
    azs["us-west-2a"] = azs.pop("us-east-1a")


def account_without_region(d: Doc) -> None:
    del d["vpcs"]["east"]["region"]


# name -> (edit, the key refused, a fragment of the message)
CASES: dict[str, tuple[Callable[[Doc], None], str, str]] = {
    "vpc cidrs equal": (same_cidr, "vpcs.west.cidr", "overlaps"),
    "vpc cidr inside another": (overlapping_cidr, "vpcs.north.cidr", "overlaps"),
    "vpc is a /8": (set_in(["vpcs", "east", "cidr"], "10.0.0.0/8"), "vpcs.east.cidr", "/8"),
    "vpc is a /29": (set_in(["vpcs", "east", "cidr"], "10.64.0.0/29"), "vpcs.east.cidr", "/29"),
    "vpc cidr host bits": (
        set_in(["vpcs", "east", "cidr"], "10.64.0.1/16"),
        "vpcs.east.cidr",
        "host bits",
    ),
    "vpc cidr as netmask": (
        set_in(["vpcs", "east", "cidr"], "10.64.0.0/255.255.0.0"),
        "vpcs.east.cidr",
        "not an IPv4 CIDR",
    ),
    "vpc cidr with newline": (
        set_in(["vpcs", "east", "cidr"], "10.64.0.0/16\n"),
        "vpcs.east.cidr",
        "not an IPv4 CIDR",
    ),
    "subnet outside its vpc": (subnet_outside, "vpcs.east.azs.us-east-1a.routing", "not inside"),
    "subnets overlap": (subnets_overlap, "vpcs.east.azs.us-east-1b.routing", "overlaps"),
    "subnet as big as its vpc": (subnet_too_big, "vpcs.east.azs.us-east-1a.routing", "/16"),
    "tunnel /30s equal": (same_inside, "inside", "overlaps"),
    "tunnel /30 in a vpc": (inside_in_a_vpc, "inside", "overlaps"),
    "tunnel is a /29": (
        lambda d: first_tunnel(d).update(inside="169.254.64.0/29"),
        "inside",
        "/30",
    ),
    "port 0": (lambda d: first_tunnel(d).update(port=0), "port", "not a UDP port"),
    "port -5": (lambda d: first_tunnel(d).update(port=-5), "port", "not a UDP port"),
    "port 65536": (lambda d: first_tunnel(d).update(port=65536), "port", "not a UDP port"),
    "port as text": (lambda d: first_tunnel(d).update(port="1194"), "port", "not a UDP port"),
    "port as float": (lambda d: first_tunnel(d).update(port=1194.0), "port", "not a UDP port"),
    "port as bool": (lambda d: first_tunnel(d).update(port=True), "port", "not a UDP port"),
    "port twice on a gateway": (same_port_on_a_gateway, "port", "one port per tunnel"),
    "tunnel of another link": (wrong_link, "tunnels.east-a--west-a", "not the name of a tunnel"),
    "link out of order": (
        lambda d: first_tunnel(d).update(link="west--east"),
        "link",
        "not a link",
    ),
    "tunnel of an unrecorded vpc": (unrecorded_vpc, "link", "not recorded under vpcs"),
    "tunnel name of no link": (foreign_tunnel_name, "tunnels.east-a--mars-a", "not the name"),
    "blocks overlap": (blocks_overlap, "blocks.", "overlaps block"),
    "block of no region": (set_in(["blocks", "mars-east-1"], []), "blocks.mars-east-1", "region"),
    "az of another region": (
        az_of_another_region,
        "vpcs.east.azs.us-west-2a",
        "not an availability zone",
    ),
    "account without region": (account_without_region, "vpcs.east", "without"),
    "region unknown": (
        set_in(["vpcs", "east", "region"], "xx-east-9"),
        "vpcs.east.region",
        "not a region",
    ),
    "region with newline": (
        set_in(["vpcs", "east", "region"], "us-east-1\n"),
        "vpcs.east.region",
        "not a region",
    ),
    "account name with newline": (
        set_in(["vpcs", "east", "account"], "main\n"),
        "vpcs.east.account",
        "not a account name",
    ),
    "vpc name": (
        lambda d: d["vpcs"].update({"East\n": d["vpcs"].pop("east")}),
        "vpcs.East",
        "not a VPC name",
    ),
    "topology name": (set_in(["name"], "t\n"), "name", "not a topology name"),
    "format version true": (set_in(["format_version"], True), "format_version", "is not 1"),
    "format version 2": (set_in(["format_version"], 2), "format_version", "is not 1"),
    "unknown top key": (set_in(["extra"], 1), "extra", "unknown key"),
    "unknown vpc key": (set_in(["vpcs", "east", "vpc_id"], "vpc-1"), "vpcs.east.vpc_id", "unknown"),
    "unknown tunnel key": (lambda d: first_tunnel(d).update(key="x"), "key", "unknown key"),
    "missing cidr": (delete(["vpcs", "east", "cidr"]), "vpcs.east", "missing key 'cidr'"),
    "missing port": (lambda d: first_tunnel(d).pop("port"), "tunnels.", "missing key 'port'"),
    "missing tunnels": (delete(["tunnels"]), "(lock)", "missing key 'tunnels'"),
    "vpcs a list": (set_in(["vpcs"], []), "vpcs", "must be a JSON object"),
    "azs a string": (set_in(["vpcs", "east", "azs"], "a"), "vpcs.east.azs", "must be a JSON"),
    "whole lock a list": (lambda d: d.clear(), "(lock)", "missing key"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_tampered_lock_is_refused_at_its_line(case: str) -> None:
    edit, key, fragment = CASES[case]
    d = good_lock()
    edit(d)
    text = text_of(d)
    found = refusals(text)
    hits = [x for x in found if key in x.key and fragment in x.message]
    assert hits, [str(x) for x in found]
    lines = text.splitlines()
    for hit in hits:
        assert str(hit).startswith(f"t.lock.json:{hit.line}: ")
        leaf = hit.key.rsplit(".", 1)[-1].split("[")[0]
        if hit.key != "(lock)":
            assert f'"{leaf}' in lines[hit.line - 1], (hit, lines[hit.line - 1])
        assert "version control" in hit.message


def test_the_good_lock_reads_back_exactly() -> None:
    lock = allocated(hub()).lock
    assert lockfile.loads(lockfile.dumps(lock), "t.lock.json") == lock


RAW: dict[str, tuple[str, int, str]] = {
    "not json": ('{"name": \n', 2, "not JSON"),
    "deep nesting": ("[" * 100_000 + "]" * 100_000, 1, "nested"),
    "huge integer": ('{"format_version": ' + "1" * 5000 + "}", 1, "not a vpnctl lock file"),
    "nan": ('{"format_version": NaN}', 1, "not a number"),
    "duplicate key": ('{\n  "name": "t",\n  "name": "u"\n}', 3, "duplicate key"),
    "a bare string": ('"lock"', 1, "must be a JSON object"),
}


@pytest.mark.parametrize("case", sorted(RAW))
def test_malformed_lock_text_is_a_message_not_a_traceback(case: str) -> None:
    text, line, fragment = RAW[case]
    found = refusals(text)
    assert any(x.line == line and fragment in x.message for x in found), found


def test_a_lock_that_is_not_a_regular_utf8_file_is_refused(tmp_path: Path) -> None:
    cases = {"dir.lock.json": "a directory", "fifo.lock.json": "a FIFO", "bin.lock.json": "UTF-8"}
    (tmp_path / "dir.lock.json").mkdir()
    os.mkfifo(tmp_path / "fifo.lock.json")
    (tmp_path / "bin.lock.json").write_bytes(b'{\n"name": "\xff"}')
    for name, fragment in cases.items():
        with pytest.raises(InputError) as info:
            lockfile.read(tmp_path / name)
        assert fragment in str(info.value)
        assert str(info.value).startswith(f"{tmp_path / name}:")
    assert "bin.lock.json:2:" in str(_refusal(tmp_path / "bin.lock.json"))
    assert lockfile.read(tmp_path / "none.lock.json") is None


def _refusal(path: Path) -> InputError:
    try:
        lockfile.read(path)
    except InputError as exc:
        return exc
    raise AssertionError("not refused")


# ----------------------------------------------------------------- judged against the topology


def loaded(d: Doc) -> Lock:
    return lockfile.loads(text_of(d), "t.lock.json")


def problems_with(topology: Doc, lock: Lock) -> list[str]:
    return [f"{p.key}: {p.message}" for p in allocate(parse(topology), lock).problems]


def test_a_lock_of_another_topology_is_refused() -> None:
    d = good_lock()
    d["name"] = "other"
    assert problems_with(hub(), loaded(d))[0].startswith("name: the lock file was written for")


def test_a_vpc_recorded_in_another_region_is_refused_and_release_moves_it() -> None:
    topology = hub()
    lock = allocated(topology).lock
    topology["vpcs"]["east"] = vpc("us-east-2")
    found = problems_with(topology, lock)
    assert any(p.startswith("vpcs.east.region:") and "--release east" in p for p in found)
    moved = allocate(parse(topology), release(lock, parse(topology), ["east"]))
    assert not moved.problems
    assert moved.lock.vpcs["east"].region == "us-east-2"


def test_a_vpc_recorded_in_another_account_is_refused() -> None:
    d = good_lock()
    d["vpcs"]["east"]["account"] = "china"
    assert any(p.startswith("vpcs.east.account:") for p in problems_with(hub(), loaded(d)))


def test_a_recorded_vpc_in_the_tunnel_pool_is_refused() -> None:
    d = good_lock()
    d["vpcs"]["east"]["cidr"] = "169.254.64.0/18"
    d["vpcs"]["east"]["azs"] = {}
    d["tunnels"] = {}
    found = problems_with(hub(), loaded(d))
    assert any("vpcs.east: " in p and "tunnel_pool" in p for p in found), found


def test_a_recorded_tunnel_outside_the_tunnel_pool_is_refused() -> None:
    d = good_lock()
    name = sorted(d["tunnels"])[0]
    d["tunnels"][name]["inside"] = "192.168.7.0/30"
    found = problems_with(hub(), loaded(d))
    outside = [p for p in found if "192.168.7.0/30" in p]
    assert len(outside) == 1, found  # said once, on the key that holds the pool
    assert outside[0].startswith("addressing.tunnel_pool: "), found
    assert name in outside[0], found


def test_a_pin_on_a_port_another_tunnel_recorded_is_refused() -> None:
    topology = hub()
    lock = allocated(topology).lock
    recorded = {t.link: t.port for t in lock.tunnels.values()}
    topology["links"] = [
        {"between": ["east", "west"]},
        {"between": ["north", "west"], "port": recorded["east--west"]},
    ]
    found = problems_with(topology, lock)
    assert any(p.startswith("links[1].port:") and "recorded for tunnel" in p for p in found)


def test_a_stale_tunnels_port_is_not_given_to_another_tunnel_on_its_gateway() -> None:
    topology = hub()
    first = allocated(topology).lock
    topology["links"] = [{"between": ["north", "west"]}]  # east--west leaves; its tunnels stay
    topology["vpcs"]["south"] = vpc("sa-east-1")
    topology["links"].append({"between": ["south", "west"]})
    grown = allocate(parse(topology), first)
    assert not grown.problems
    by_gateway: dict[tuple[str, int], list[str]] = {}
    for name, t in grown.lock.tunnels.items():
        for gateway in tunnel_gateways(name, t.link) or ():
            by_gateway.setdefault((gateway, t.port), []).append(name)
    assert all(len(names) == 1 for names in by_gateway.values()), by_gateway
    assert loaded(json.loads(lockfile.dumps(grown.lock))) == grown.lock


def test_new_tunnels_avoid_a_stale_vpc_that_lies_in_the_tunnel_pool() -> None:
    topology = hub()
    topology["vpcs"]["east"]["cidr"] = "172.20.0.0/22"
    first = allocated(topology).lock
    del topology["vpcs"]["east"]  # east stays recorded until pruned
    topology["addressing"]["tunnel_pool"] = "172.20.0.0/21"
    topology["links"] = [{"between": ["north", "west"]}]
    again = allocate(parse(topology), release(first, parse(topology), ["north"]))
    assert not again.problems, again.problems
    east = again.lock.vpcs["east"].cidr
    fresh = [t for t in again.lock.tunnels.values() if t.link == "north--west"]
    assert fresh
    assert not any(t.inside.overlaps(east) for t in fresh)
    assert all(t.inside.subnet_of(IPv4Network("172.20.0.0/21")) for t in fresh)


def test_every_allocation_reads_back_valid() -> None:
    # the lock the allocator writes always passes the checks it is read back with
    topology = copy.deepcopy(hub())
    topology["vpcs"]["west"] = vpc("us-west-2", "abc")
    lock = allocated(topology).lock
    assert lockfile.loads(lockfile.dumps(lock), "t.lock.json") == lock
