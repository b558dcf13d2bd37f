"""Address space as sorted, disjoint integer intervals.

The allocator carves thousands of aligned blocks out of a pool; doing that with set algebra on
network objects costs a copy per step. Here a space is a list of ``[start, end)`` integer
intervals: taking an aligned block is a first-fit scan, removing it splits one interval, and
"does this prefix lie wholly inside the space" is one bisection. The starting space
(``from_networks``) is one sweep over sorted integer bounds too: with a lock file of tens of
thousands of entries to leave out, set algebra on parsed networks was the slowest step.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from ipaddress import IPv4Network

import netaddr


def _bounds(net: IPv4Network) -> tuple[int, int]:
    start = int(net.network_address)
    return start, start + (1 << (32 - net.prefixlen))


def _network(start: int, prefixlen: int) -> IPv4Network:
    return IPv4Network((start, prefixlen))


class Space:
    """A mutable set of IPv4 addresses, kept as sorted disjoint ``[start, end)`` intervals."""

    def __init__(self, intervals: Iterable[tuple[int, int]] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in sorted(intervals):
            if self._ends and start <= self._ends[-1]:
                self._ends[-1] = max(self._ends[-1], end)
            elif start < end:
                self._starts.append(start)
                self._ends.append(end)

    @classmethod
    def of(cls, net: IPv4Network) -> Space:
        return cls([_bounds(net)])

    @classmethod
    def from_networks(
        cls, include: Iterable[IPv4Network], exclude: Iterable[IPv4Network] = ()
    ) -> Space:
        """The addresses of ``include`` that are in none of ``exclude``."""
        wanted = cls(_bounds(n) for n in include)
        holes = cls(_bounds(n) for n in exclude)  # merged: sorted and disjoint
        pieces: list[tuple[int, int]] = []
        for start, end in zip(wanted._starts, wanted._ends, strict=True):
            i = max(bisect.bisect_right(holes._ends, start), 0)  # first hole ending after start
            while i < len(holes._starts) and holes._starts[i] < end:
                if holes._starts[i] > start:
                    pieces.append((start, holes._starts[i]))
                start = max(start, holes._ends[i])
                i += 1
            if start < end:
                pieces.append((start, end))
        return cls(pieces)

    def copy(self) -> Space:
        clone = Space()
        clone._starts, clone._ends = list(self._starts), list(self._ends)
        return clone

    def size(self) -> int:
        return sum(e - s for s, e in zip(self._starts, self._ends, strict=True))

    def networks(self) -> list[IPv4Network]:
        return [
            IPv4Network(str(c))
            for s, e in zip(self._starts, self._ends, strict=True)
            for c in netaddr.iprange_to_cidrs(netaddr.IPAddress(s), netaddr.IPAddress(e - 1))
        ]

    def contains(self, net: IPv4Network) -> bool:
        start, end = _bounds(net)
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end

    def overlaps(self, net: IPv4Network) -> bool:
        start, end = _bounds(net)
        i = bisect.bisect_right(self._starts, start) - 1
        if i >= 0 and self._ends[i] > start:
            return True
        return i + 1 < len(self._starts) and self._starts[i + 1] < end

    def remove(self, net: IPv4Network) -> None:
        start, end = _bounds(net)
        i = bisect.bisect_right(self._starts, start) - 1
        i = max(i, 0)
        while i < len(self._starts) and self._starts[i] < end:
            s, e = self._starts[i], self._ends[i]
            if e <= start:
                i += 1
                continue
            pieces = [(a, b) for a, b in ((s, start), (end, e)) if a < b]
            self._starts[i : i + 1] = [a for a, _ in pieces]
            self._ends[i : i + 1] = [b for _, b in pieces]
            i += len(pieces)

    def take(
        self, prefixlen: int, within: IPv4Network | None = None, from_top: bool = False
    ) -> IPv4Network | None:
        """Remove and return the first (or last) aligned /prefixlen block, or None."""
        found = self.find(prefixlen, within, from_top)
        if found is not None:
            self.remove(found)
        return found

    def find(
        self, prefixlen: int, within: IPv4Network | None = None, from_top: bool = False
    ) -> IPv4Network | None:
        size = 1 << (32 - prefixlen)
        lo, hi = _bounds(within) if within else (0, 1 << 32)
        order = range(len(self._starts))
        for i in reversed(order) if from_top else order:
            s, e = max(self._starts[i], lo), min(self._ends[i], hi)
            if from_top:
                candidate = (e // size) * size - size
                if candidate >= s:
                    return _network(candidate, prefixlen)
            else:
                candidate = -(-s // size) * size
                if candidate + size <= e:
                    return _network(candidate, prefixlen)
        return None

    def largest_within(self, net: IPv4Network, limit: int = 1) -> IPv4Network:
        """The largest supernet of ``net`` (prefix no shorter than ``limit``) inside the space.

        ``net`` itself is returned when even it is not wholly inside.
        """
        start, end = _bounds(net)
        i = bisect.bisect_right(self._starts, start) - 1
        if i < 0 or self._ends[i] < end:
            return net
        lo, hi = self._starts[i], self._ends[i]  # the one interval any supernet must fit in
        best = net.prefixlen
        for prefixlen in range(net.prefixlen - 1, limit - 1, -1):
            size = 1 << (32 - prefixlen)
            first = start & ~(size - 1)
            if first < lo or first + size > hi:
                break
            best = prefixlen
        return _network(start & ~((1 << (32 - best)) - 1), best)
