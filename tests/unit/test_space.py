"""Address space as integer intervals, checked against netaddr's set algebra."""

from __future__ import annotations

from ipaddress import IPv4Network

import netaddr
from hypothesis import given, settings
from hypothesis import strategies as st

from vpnctl.space import Space


@st.composite
def networks(draw: st.DrawFn) -> IPv4Network:
    prefixlen = draw(st.integers(8, 30))
    start = draw(st.integers(0, (1 << prefixlen) - 1)) << (32 - prefixlen)
    return IPv4Network((start, prefixlen))


@settings(max_examples=200, deadline=None)
@given(st.lists(networks(), min_size=1, max_size=6), st.lists(networks(), max_size=12))
def test_from_networks_is_the_set_difference(
    include: list[IPv4Network], exclude: list[IPv4Network]
) -> None:
    expected = netaddr.IPSet(str(n) for n in include) - netaddr.IPSet(str(n) for n in exclude)
    found = Space.from_networks(include, exclude)
    assert found.size() == expected.size
    assert netaddr.IPSet(str(n) for n in found.networks()) == expected
