"""The lock file's format: ``NAME.lock.json`` beside ``NAME.yaml``, committed and reviewed.

Plain JSON with sorted keys, two-space indent and one value per line, so that a pull request
shows exactly which allocations were added. It holds addresses and ports, never a secret.
``dumps``/``loads`` are pure; ``path_for``, ``read_text``, ``read`` and ``write`` are the only
file access.

The lock is an input like the topology, and as easily edited by hand, so ``loads`` trusts
nothing: every invariant the allocator guarantees on its own is checked, and each breach is
refused as ``FILE:LINE: KEY: message`` (exit 2), never repaired. What can only be judged
against the topology (the pool, reserved ranges, where each VPC lives) is checked by
``ipam.allocate``, after ``--release`` has had its say.

- exact shape: the five top-level keys, the keys of each entry, JSON types (a port is a whole
  number, not ``true``, ``1194.0`` or ``"1194"``), no duplicate key, no NaN, canonical CIDRs;
- names: topology, VPC, account and region names, AZs of the VPC's region, tunnel names that
  belong to their link, links between two recorded VPCs;
- sizes: a VPC /16 to /28, its subnets smaller than it, a tunnel a /30, a port 1..65535;
- disjoint: every VPC CIDR from every other and from every tunnel /30; each VPC's subnets
  inside it and apart; the tunnel /30s; the region blocks; one port per tunnel on a gateway.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterator
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any, TypeVar

from vpnctl import inputfile, jsonlines
from vpnctl.errors import Diagnostic, InputError, Problem
from vpnctl.ipam import AzAllocation, Lock, TunnelAllocation, VpcAllocation, tunnel_gateways
from vpnctl.partitions import partition_of_region
from vpnctl.source import Source, printable
from vpnctl.topology import formats as fmt

FORMAT_VERSION = 1
MAX_BYTES = 64 << 20  # a 10,000-VPC hub's lock is about 6 MB
HINT = "; restore the lock file from version control rather than editing it by hand"


def path_for(topology_path: str | Path) -> Path:
    path = Path(topology_path)
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    return path.with_name(f"{stem}.lock.json")


def dumps(lock: Lock) -> str:
    doc = {
        "format_version": FORMAT_VERSION,
        "name": lock.name,
        "blocks": {r: [str(b) for b in blocks] for r, blocks in lock.blocks.items()},
        "vpcs": {
            name: {
                **({"account": v.account, "region": v.region} if v.account and v.region else {}),
                "cidr": str(v.cidr),
                "azs": {
                    az: {"routing": str(a.routing), "gateway": str(a.gateway)}
                    for az, a in v.azs.items()
                },
            }
            for name, v in lock.vpcs.items()
        },
        "tunnels": {
            name: {"link": t.link, "inside": str(t.inside), "port": t.port}
            for name, t in lock.tunnels.items()
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def loads(text: str, file: str) -> Lock:
    """The lock ``text`` (from ``file``) holds; InputError lists everything wrong with it."""
    doc = _decode(text, file)
    reader = _LockReader()
    lock = reader.lock(doc)
    if reader.problems or lock is None:
        source = Source(file, doc, jsonlines.key_lines(text))
        diagnostics = source.diagnose([Problem(p.key, p.message + HINT) for p in reader.problems])
        raise InputError(diagnostics)
    return lock


class _Duplicate(Exception):
    pass


def _decode(text: str, file: str) -> Any:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)
        if len(found) != len(pairs):
            raise _Duplicate
        return found

    def refuse(line: int, key: str, message: str) -> InputError:
        return InputError([Diagnostic(file, line, printable(key), message)])

    try:
        return json.loads(text, object_pairs_hook=unique, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise refuse(exc.lineno, "(lock)", f"not JSON: {exc.msg}{HINT}") from None
    except _Duplicate:
        key, line = jsonlines.first_duplicate(text)
        raise refuse(line, key, f"duplicate key; JSON keeps only one of them{HINT}") from None
    except RecursionError:
        raise refuse(1, "(lock)", f"nested far deeper than a lock file is{HINT}") from None
    except ValueError as exc:  # an integer of more digits than Python converts, NaN
        raise refuse(1, "(lock)", f"not a vpnctl lock file ({exc}){HINT}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a lock file holds")


# ------------------------------------------------------------------- validating


T = TypeVar("T")
_AZ = re.compile(r"[a-z0-9-]{1,64}")
_Net = tuple[IPv4Network, str]  # a network and the key that records it
_Span = tuple[int, int, IPv4Network, str]  # its bounds [start, end) too, for sweeps


class _LockReader:
    """Reads the decoded JSON into a Lock, recording every problem under its dotted key."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.gateways: dict[str, tuple[str, str]] = {}  # tunnel -> the gateways it joins
        self.links: set[str] = set()  # links already found good

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(key, message))

    def lock(self, doc: Any) -> Lock | None:
        top = ("format_version", "name", "blocks", "vpcs", "tunnels")
        if not self.shape(doc, "", top, top):
            return None
        version = doc["format_version"]
        if type(version) is not int or version != FORMAT_VERSION:
            self.problem("format_version", f"{version!r} is not {FORMAT_VERSION}")
        name = self.name(doc["name"], "name", fmt.NAME, "topology name")
        blocks = self.blocks(doc["blocks"])
        vpcs = self.entries(doc["vpcs"], "vpcs", self.vpc)
        tunnels = self.entries(doc["tunnels"], "tunnels", lambda v, k: self.tunnel(v, k, vpcs))
        self.disjoint_addresses(vpcs, tunnels)
        self.unique_ports(tunnels)
        if self.problems or name is None:
            return None
        return Lock(name, blocks, vpcs, tunnels)

    # ----------------------------------------------------------------- primitives

    def shape(self, raw: Any, key: str, known: tuple[str, ...], required: tuple[str, ...]) -> bool:
        if not isinstance(raw, dict):
            self.problem(key or "(lock)", f"must be a JSON object, not {_kind(raw)}")
            return False
        for name in raw:
            if name not in known:
                self.problem(_join(key, name), f"unknown key (known: {', '.join(known)})")
        missing = [name for name in required if name not in raw]
        for name in missing:
            self.problem(key or "(lock)", f"missing key {name!r}")
        return not missing

    def name(self, raw: Any, key: str, pattern: re.Pattern[str], what: str) -> str | None:
        if not isinstance(raw, str) or not fmt.valid(pattern, raw):
            self.problem(key, f"{_kind(raw)} is not a {what}")
            return None
        return raw

    def network(self, raw: Any, key: str, lo: int, hi: int) -> IPv4Network | None:
        found = self.span(raw, key, lo, hi)
        return found[2] if found else None

    def span(self, raw: Any, key: str, lo: int, hi: int) -> _Span | None:
        """The network ``raw`` writes exactly as ``dumps`` would, of a size from /lo to /hi,
        with its bounds as integers (start, end) and its key.

        Parsed by hand: a lock holds tens of thousands of CIDRs, and ipaddress's own parser
        costs four times as much as building each network from its integers.
        """
        parsed = _cidr(raw) if isinstance(raw, str) else None
        if parsed is None:
            self.problem(key, f"{_kind(raw)} is not an IPv4 CIDR written a.b.c.d/n")
            return None
        start, prefixlen = parsed
        if start & ((1 << (32 - prefixlen)) - 1):
            self.problem(key, f"{raw} has host bits set, so it is not a network")
            return None
        if not lo <= prefixlen <= hi:
            size = f"/{lo}" if lo == hi else f"/{lo} to /{hi}"
            self.problem(key, f"{raw} is a /{prefixlen}; this entry is {size}")
            return None
        return start, start + (1 << (32 - prefixlen)), IPv4Network((start, prefixlen)), key

    def entries(self, raw: Any, key: str, read: Callable[[Any, str], T | None]) -> dict[str, T]:
        if not isinstance(raw, dict):
            self.problem(key, f"must be a JSON object, not {_kind(raw)}")
            return {}
        found = {}
        for name, body in raw.items():
            value = read(body, f"{key}.{name}")
            if value is not None:
                found[name] = value
        return found

    # ----------------------------------------------------------------- sections

    def blocks(self, raw: Any) -> dict[str, tuple[IPv4Network, ...]]:
        result: dict[str, tuple[IPv4Network, ...]] = {}
        for region, nets in self.entries(raw, "blocks", self.region_blocks).items():
            result[region] = nets
        every = [(n, f"blocks.{r}[{i}]") for r, nets in result.items() for i, n in enumerate(nets)]
        for (net, _), (other, key) in _overlaps(every):
            self.problem(key, f"{other} overlaps block {net}; region blocks are disjoint")
        return result

    def region_blocks(self, raw: Any, key: str) -> tuple[IPv4Network, ...] | None:
        region = key.removeprefix("blocks.")
        self.region(region, key)
        if not isinstance(raw, list):
            self.problem(key, f"must be a list of CIDRs, not {_kind(raw)}")
            return None
        nets = [self.network(n, f"{key}[{i}]", 1, 28) for i, n in enumerate(raw)]
        return tuple(n for n in nets if n is not None)

    def region(self, region: str, key: str) -> bool:
        if not fmt.valid(fmt.REGION, region) or partition_of_region(region) is None:
            self.problem(key, f"{region!r} is not a region vpnctl knows")
            return False
        return True

    def vpc(self, raw: Any, key: str) -> VpcAllocation | None:
        name = key.removeprefix("vpcs.")
        if not fmt.valid(fmt.NAME, name):
            self.problem(key, f"{name!r} is not a VPC name")
        if not self.shape(raw, key, ("account", "region", "cidr", "azs"), ("cidr", "azs")):
            return None
        account, region = raw.get("account"), raw.get("region")
        if (account is None) != (region is None):
            self.problem(key, "records an account without a region, or a region without one")
        if account is not None:
            account = self.name(account, f"{key}.account", fmt.NAME, "account name")
        if region is not None:
            region = self.name(region, f"{key}.region", fmt.REGION, "region name")
            if region is not None and not self.region(region, f"{key}.region"):
                region = None
        cidr = self.span(raw["cidr"], f"{key}.cidr", 16, 28)
        azs = self.azs(raw["azs"], f"{key}.azs", cidr, region)
        if cidr is None or azs is None:
            return None
        return VpcAllocation(cidr[2], azs, account, region)

    def azs(
        self, raw: Any, key: str, cidr: _Span | None, region: str | None
    ) -> dict[str, AzAllocation] | None:
        if not isinstance(raw, dict):
            self.problem(key, f"must be a JSON object, not {_kind(raw)}")
            return None
        result: dict[str, AzAllocation] = {}
        subnets: list[_Span] = []
        for az, body in raw.items():
            where = f"{key}.{az}"
            if not self.az_name(az, region, where):
                continue
            spans = self.az(body, where, cidr)
            if spans is not None:
                result[az] = AzAllocation(spans[0][2], spans[1][2])
                subnets += spans
        for (net, first), (other, second) in _overlaps(subnets):
            self.problem(second, f"{other} overlaps {net} ({first}); subnets are disjoint")
        return result

    def az_name(self, az: str, region: str | None, key: str) -> bool:
        suffix = az[len(region) :] if region and az.startswith(region) else None
        ok = fmt.valid(fmt.AZ_SUFFIX, suffix) if suffix is not None else not region
        if not ok or not fmt.valid(_AZ, az):
            self.problem(key, f"{az!r} is not an availability zone of {region or 'a region'}")
        return ok

    def az(self, raw: Any, key: str, cidr: _Span | None) -> tuple[_Span, _Span] | None:
        """The routing and gateway subnets of one AZ, each inside the VPC and smaller."""
        if not self.shape(raw, key, ("routing", "gateway"), ("routing", "gateway")):
            return None
        smallest = 28 if cidr is None else cidr[2].prefixlen + 1
        routing = self.span(raw["routing"], f"{key}.routing", smallest, 28)
        gateway = self.span(raw["gateway"], f"{key}.gateway", smallest, 28)
        for span in (routing, gateway):
            if span is not None and cidr is not None and not cidr[0] <= span[0] < cidr[1]:
                self.problem(span[3], f"{span[2]} is not inside its VPC's {cidr[2]}")
                return None
        return (routing, gateway) if routing and gateway else None

    def tunnel(self, raw: Any, key: str, vpcs: dict[str, VpcAllocation]) -> TunnelAllocation | None:
        name = key.removeprefix("tunnels.")
        if not self.shape(raw, key, ("link", "inside", "port"), ("link", "inside", "port")):
            return None
        link = self.link(raw["link"], f"{key}.link", vpcs)
        gateways = tunnel_gateways(name, link) if link is not None else None
        if link is not None and gateways is None:
            self.problem(key, f"{name!r} is not the name of a tunnel of link {link}")
            link = None
        if gateways is not None:
            self.gateways[name] = gateways
        inside = self.network(raw["inside"], f"{key}.inside", 30, 30)
        port = raw["port"]
        if type(port) is not int or not 1 <= port <= 65535:
            self.problem(f"{key}.port", f"{_kind(port)} is not a UDP port (1..65535)")
            return None
        if link is None or inside is None:
            return None
        return TunnelAllocation(link, inside, port)

    def link(self, raw: Any, key: str, vpcs: dict[str, VpcAllocation]) -> str | None:
        if isinstance(raw, str) and raw in self.links:  # each link has a tunnel per AZ pair
            return raw
        ends = raw.split("--") if isinstance(raw, str) else []
        if len(ends) != 2 or not all(fmt.valid(fmt.NAME, e) for e in ends) or ends[0] >= ends[1]:
            self.problem(key, f"{_kind(raw)} is not a link (two VPC names in order, a--b)")
            return None
        missing = [e for e in ends if e not in vpcs]
        if missing:
            self.problem(key, f"VPC {missing[0]} of link {raw} is not recorded under vpcs")
            return None
        self.links.add(raw)
        return str(raw)

    # ----------------------------------------------------------------- across entries

    def disjoint_addresses(
        self, vpcs: dict[str, VpcAllocation], tunnels: dict[str, TunnelAllocation]
    ) -> None:
        nets = [(v.cidr, f"vpcs.{n}.cidr") for n, v in vpcs.items()]
        nets += [(t.inside, f"tunnels.{n}.inside") for n, t in tunnels.items()]
        for (net, first), (other, second) in _overlaps(nets):
            owner = first.rsplit(".", 1)[0]
            self.problem(second, f"{other} overlaps {net}, recorded for {owner}")

    def unique_ports(self, tunnels: dict[str, TunnelAllocation]) -> None:
        owners: dict[tuple[str, int], str] = {}
        for name, t in tunnels.items():
            for gateway in self.gateways.get(name, ()):
                first = owners.setdefault((gateway, t.port), name)
                if first != name:
                    self.problem(
                        f"tunnels.{name}.port",
                        f"port {t.port} on {gateway} is also tunnel {first}'s;"
                        " a gateway has one port per tunnel",
                    )


_LENGTHS = {str(n): n for n in range(33)}  # each prefix length as str(int) writes it


def _cidr(raw: str) -> tuple[int, int] | None:
    """``"10.64.0.0/16"`` -> ``(start, 16)``, or None unless written canonically.

    inet_aton is lenient (``10.1``, ``010.0.0.1``); writing the address back and comparing
    keeps only the one dotted-quad form ``dumps`` writes, at C speed.
    """
    address, _, length = raw.partition("/")
    prefixlen = _LENGTHS.get(length)
    if prefixlen is None:
        return None
    try:
        packed = socket.inet_aton(address)
    except (OSError, ValueError):  # not an address; an embedded NUL
        return None
    if socket.inet_ntoa(packed) != address:
        return None
    return int.from_bytes(packed, "big"), prefixlen


def _bounds(net: IPv4Network) -> tuple[int, int]:
    start = int(net.network_address)
    return start, start + (1 << (32 - net.prefixlen))


def _overlaps(nets: list[_Net] | list[_Span]) -> Iterator[tuple[_Net, _Net]]:
    """Pairs that overlap, each later one with the widest before it: one sweep, not n²."""
    spans = [n if len(n) == 4 else (*_bounds(n[0]), n[0], n[1]) for n in nets]
    spans.sort(key=lambda s: (s[0], -s[1]))
    widest: _Span | None = None
    for span in spans:
        if widest is not None and span[0] < widest[1]:
            yield (widest[2], widest[3]), (span[2], span[3])
        if widest is None or span[1] > widest[1]:
            widest = span


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------- files


def read_text(path: Path) -> str | None:
    """The lock file's text, or None when there is none yet."""
    try:
        return inputfile.read_text(path, MAX_BYTES)
    except FileNotFoundError:
        return None


def read(path: Path) -> Lock | None:
    """The lock at ``path``, or None when there is none yet."""
    text = read_text(path)
    return None if text is None else loads(text, str(path))


def write(path: Path, text: str) -> None:
    """Replace ``path`` atomically: a crash leaves the old lock or the new one, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
