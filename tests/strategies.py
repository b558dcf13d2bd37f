"""Hypothesis strategies: random but valid topologies, as the documents users write."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1", "cn-north-1")


@st.composite
def vpc_bodies(draw: st.DrawFn, region: str | None = None) -> dict[str, Any]:
    region = region or draw(st.sampled_from(REGIONS))
    letters = draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=3, unique=True))
    account = "china" if region.startswith("cn-") else "main"
    return {"account": account, "region": region, "azs": [f"{region}{x}" for x in letters]}


@st.composite
def topologies(draw: st.DrawFn, max_vpcs: int = 7) -> dict[str, Any]:
    """A valid topology document: 1..max_vpcs VPCs, some pinned, some linked, maybe reserved."""
    count = draw(st.integers(1, max_vpcs))
    names = [f"v{i}" for i in range(count)]
    vpcs = {n: draw(vpc_bodies()) for n in names}
    vpc_prefix = draw(st.integers(16, 20))
    # pins outside the pool, in distinct /16s of 172.20.0.0/14, so they never collide
    pinned = draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
    for i, name in enumerate(pinned):
        vpcs[name]["cidr"] = f"172.{20 + i}.0.0/16"
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    links = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    addressing: dict[str, Any] = {"pool": "10.64.0.0/12", "vpc_prefix": vpc_prefix}
    if draw(st.booleans()):
        addressing["reserved"] = [draw(st.sampled_from(["10.64.0.0/16", "10.72.0.0/14"]))]
    return {
        "version": 1,
        "name": "prop",
        "accounts": {"main": {"partition": "aws"}, "china": {"partition": "aws-cn"}},
        "dns": {"zone": "vpn.example.com", "account": "main"},
        "addressing": addressing,
        "vpcs": vpcs,
        "links": [{"between": list(p)} for p in links],
    }


@st.composite
def transit_topologies(draw: st.DrawFn, max_vpcs: int = 7) -> dict[str, Any]:
    """A ``topologies()`` document where some unlinked pairs with a common neighbour reach each
    other through it (``transit``), so a VPC may send several VPCs through one next hop."""
    d = draw(topologies(max_vpcs))
    linked = {frozenset(link["between"]) for link in d["links"]}
    names = list(d["vpcs"])
    candidates = [
        (a, b, via)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if frozenset((a, b)) not in linked
        for via in names
        if frozenset((a, via)) in linked and frozenset((b, via)) in linked
    ]
    if candidates:
        chosen = draw(st.lists(st.sampled_from(candidates), unique_by=lambda t: (t[0], t[1])))
        d["transit"] = [{"between": [a, b], "via": via} for a, b, via in chosen]
    return d


@st.composite
def growths(draw: st.DrawFn, d: dict[str, Any], new: str = "new") -> dict[str, Any]:
    """``d`` with one more VPC (named ``new``), link or AZ, and its VPCs listed in another
    order."""
    import copy

    grown = copy.deepcopy(d)
    kind = draw(st.sampled_from(["vpc", "link", "az"]))
    names = list(grown["vpcs"])
    if kind == "vpc":
        grown["vpcs"][new] = draw(vpc_bodies())
        grown["links"].append({"between": [new, draw(st.sampled_from(names))]})
    elif kind == "link" and len(names) > 1:
        a, b = draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
        if sorted([a, b]) not in [sorted(x["between"]) for x in grown["links"]]:
            grown["links"].append({"between": [a, b]})
    else:
        body = grown["vpcs"][draw(st.sampled_from(names))]
        missing = [x for x in "abcd" if f"{body['region']}{x}" not in body["azs"]]
        if missing:
            body["azs"].insert(0, f"{body['region']}{missing[0]}")
    order = draw(st.permutations(list(grown["vpcs"])))
    grown["vpcs"] = {n: grown["vpcs"][n] for n in order}
    return grown


@st.composite
def shrinks(draw: st.DrawFn, d: dict[str, Any]) -> dict[str, Any]:
    """``d`` with one AZ or one link fewer (an AZ only where the VPC keeps one)."""
    import copy

    shrunk = copy.deepcopy(d)
    bodies = [b for b in shrunk["vpcs"].values() if len(b["azs"]) > 1]
    kind = draw(st.sampled_from(["az", "link"]))
    if kind == "az" and bodies:
        body = draw(st.sampled_from(bodies))
        body["azs"].remove(draw(st.sampled_from(body["azs"])))
    elif shrunk["links"]:
        shrunk["links"].pop(draw(st.integers(0, len(shrunk["links"]) - 1)))
    return shrunk
