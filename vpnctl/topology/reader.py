"""Reading the topology file: its schema, and every way it can be wrong.

``parse(source)`` turns a loaded YAML document into a frozen ``Topology`` (the model, in
``vpnctl.topology.model``) or raises one InputError that lists every problem at once, each as
``FILE:LINE: KEY: message``. Nothing here talks to AWS; ``read(path)`` is the one convenience
that reads a file. A key the file leaves out is left to the model's default: no default is
written here.

The contract is ``spec/topology.md``. Keys added here beyond it (all optional):
``vpcs.X.prefix`` (size of this VPC when allocated), ``vpcs.X.image`` (AMI for this VPC),
``addressing.summarise`` and ``addressing.route_quota``, ``tunnel.keepalive`` and
``tunnel.ping_restart``, ``probe.targets``, ``failover.recovery_successes`` and
``failover.hold_down_s``. ``gateways.vpnctl`` and ``gateways.pip_indexes`` are refused (see
``REMOVED_GATEWAY_KEYS``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, TypeVar

from vpnctl import inputfile
from vpnctl import source as yamlsource
from vpnctl.errors import Problem
from vpnctl.partitions import PARTITIONS, partition_of_region
from vpnctl.topology import formats as fmt
from vpnctl.topology.model import (
    PROTOCOLS,
    TUNNEL_MODES,
    Account,
    Addressing,
    Dns,
    Failover,
    Flow,
    Gateways,
    Link,
    Probe,
    Thresholds,
    Topology,
    Transit,
    TunnelOptions,
    Vpc,
    thresholds_disorder,
)

MAX_BYTES = 16 << 20  # a 10,000-VPC topology is about 1.5 MB

# Keys that once told gateways what to pip-install by name. A gateway now runs the vpnctl that
# apply ships to the topology's artifact bucket, pinned by sha256: no index is ever asked.
REMOVED_GATEWAY_KEYS = {
    "vpnctl": "apply now ships the vpnctl it runs to each gateway, pinned by sha256",
    "pip_indexes": "gateways install nothing from a package index any more",
}

# --------------------------------------------------------------------------- reading


def read(path: str | Path) -> tuple[Topology, yamlsource.Source]:
    """Load and validate the topology at ``path``; InputError lists every problem."""
    path = Path(path)
    try:
        text = inputfile.read_text(path, MAX_BYTES)
    except FileNotFoundError as exc:
        raise inputfile.refuse(path, exc.strerror or "No such file or directory") from None
    src = yamlsource.load(text, str(path))
    return parse(src), src


def parse(src: yamlsource.Source) -> Topology:
    reader = _Reader()
    topology = reader.topology(src.value)
    if reader.problems or src.found or topology is None:
        raise src.fail(reader.problems)
    return topology


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A " (did you mean 'x'?)" hint, or "" when nothing is close."""
    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


T = TypeVar("T")
_MISSING = object()


class _Reader:
    """Walks the raw document, building the model and recording every problem on the way.

    Each method returns None for a value it could not read, after recording why, so that one
    pass finds every problem; cross-references are checked once the parts exist.
    """

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        # every VPC name the file declares, valid or not, so that a VPC with a bad body
        # does not also make every link to it "unknown"
        self.declared: set[str] = set()

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(key, message))

    # ----------------------------------------------------------------- primitives

    def mapping(
        self, value: Any, key: str, known: Iterable[str], required: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.problem(key, f"must be a mapping, not {_kind(value)}")
            return None
        known = tuple(known)
        allowed = frozenset(known)
        for name in value:
            if name not in allowed:
                where = f"{key}.{name}" if key else name
                hint = did_you_mean(name, known) or f" (known keys: {', '.join(known)})"
                self.problem(where, f"unknown key{hint}")
        for name in required:
            if name not in value:
                self.problem(key or name, f"missing required key {name!r}")
        return value

    def string(
        self, value: Any, key: str, pattern: re.Pattern[str] | None = None, what: str = ""
    ) -> str | None:
        if value is _MISSING:
            return None
        if not isinstance(value, str) or not value:
            self.problem(key, f"must be a non-empty string, not {_kind(value)}")
            return None
        if pattern is not None and not fmt.valid(pattern, value):
            self.problem(key, f"{value!r} is not a valid {what or 'value'}")
            return None
        return value

    def integer(self, value: Any, key: str, lo: int, hi: int) -> int | None:
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, f"must be a whole number, not {_kind(value)}")
            return None
        if not lo <= value <= hi:
            self.problem(key, f"{value} is out of range ({lo}..{hi})")
            return None
        return value

    def number(self, value: Any, key: str, lo: float, hi: float) -> float | None:
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(key, f"must be a number, not {_kind(value)}")
            return None
        if not lo <= value <= hi:
            self.problem(key, f"{value} is out of range ({lo}..{hi})")
            return None
        return float(value)

    def boolean(self, value: Any, key: str) -> bool | None:
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.problem(key, f"must be true or false, not {_kind(value)}")
            return None
        return value

    def choice(self, value: Any, key: str, choices: Iterable[str]) -> str | None:
        if value is _MISSING:
            return None
        choices = tuple(choices)
        if value not in choices:
            hint = did_you_mean(str(value), choices)
            self.problem(key, f"{value!r} is not one of {', '.join(choices)}{hint}")
            return None
        return str(value)

    def network(self, value: Any, key: str) -> IPv4Network | None:
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.problem(key, f"must be an IPv4 CIDR such as 10.64.0.0/16, not {_kind(value)}")
            return None
        try:
            return IPv4Network(value)
        except ValueError:
            pass
        try:
            loose = IPv4Network(value, strict=False)
        except ValueError:
            self.problem(key, f"{value!r} is not an IPv4 CIDR (IPv6 is not supported)")
            return None
        self.problem(key, f"{value} has host bits set (the network is {loose}; write that)")
        return None

    def address(self, value: Any, key: str) -> IPv4Address | None:
        try:
            return IPv4Address(value)
        except ValueError:
            self.problem(key, f"{value!r} is not an IPv4 address")
            return None

    def listing(
        self, value: Any, key: str, item: Callable[[Any, str], T | None], min_items: int = 0
    ) -> tuple[T, ...] | None:
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.problem(key, f"must be a list, not {_kind(value)}")
            return None
        if len(value) < min_items:
            self.problem(key, f"needs at least {min_items} item(s)")
        items = [item(v, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(i for i in items if i is not None)

    def given(
        self, raw: dict[str, Any], key: str, readers: Mapping[str, Callable[[Any, str], Any]]
    ) -> dict[str, Any]:
        """What ``raw`` says, read by each name's reader: left out where it says nothing (or
        nothing readable), so that the model's own default applies."""
        found = {}
        for name, read in readers.items():
            if name in raw:
                value = read(raw[name], f"{key}.{name}" if key else name)
                if value is not None:
                    found[name] = value
        return found

    def optional(
        self,
        raw: dict[str, Any],
        name: str,
        key: str,
        read: Callable[[Any, str], T | None],
        default: T,
    ) -> T:
        if name not in raw:
            return default
        value = read(raw[name], f"{key}.{name}" if key else name)
        return default if value is None else value

    # ----------------------------------------------------------------- sections

    def topology(self, raw: Any) -> Topology | None:
        doc = self.mapping(
            raw,
            "",
            (
                "version",
                "name",
                "accounts",
                "dns",
                "addressing",
                "vpcs",
                "links",
                "tunnel",
                "transit",
                "gateways",
                "allow",
                "probe",
                "failover",
            ),
            required=("version", "name", "accounts", "dns", "addressing", "vpcs"),
        )
        if doc is None:
            return None
        if "version" in doc and (type(doc["version"]) is not int or doc["version"] != 1):
            self.problem("version", f"{doc['version']!r} is not a supported version (only 1)")
        name = self.string(doc.get("name", _MISSING), "name", fmt.NAME, f"name ({fmt.NAME_RULE})")
        accounts = self.accounts(doc.get("accounts", _MISSING))
        dns = self.dns(doc.get("dns", _MISSING), accounts)
        addressing = self.addressing(doc.get("addressing", _MISSING))
        vpc_prefix = (addressing or Addressing).vpc_prefix
        vpcs = self.vpcs(doc.get("vpcs", _MISSING), accounts, vpc_prefix)
        tunnel = self.optional(doc, "tunnel", "", self.tunnel_options, TunnelOptions())
        links, hub = self.links(doc.get("links", []), vpcs, tunnel)
        no_transit: tuple[Transit, ...] = ()
        transit = self.optional(
            doc, "transit", "", lambda v, k: self.transits(v, k, vpcs, links), no_transit
        )
        gateways = self.optional(doc, "gateways", "", self.gateways, Gateways())
        reach = _reachability(links, transit, hub, vpcs)
        no_flows: tuple[Flow, ...] = ()
        allow = self.optional(
            doc, "allow", "", lambda v, k: self.flows(v, k, vpcs, reach), no_flows
        )
        probe = self.optional(doc, "probe", "", lambda v, k: self.probe(v, k, vpcs), Probe())
        failover = self.optional(doc, "failover", "", self.failover, Failover())
        if None in (name, accounts, dns, addressing, vpcs) or self.problems:
            return None
        assert name is not None
        assert accounts is not None
        assert dns is not None
        assert addressing is not None
        assert vpcs is not None
        return Topology(
            name,
            accounts,
            dns,
            addressing,
            vpcs,
            links,
            hub,
            transit,
            tunnel,
            gateways,
            allow,
            probe,
            failover,
        )

    def accounts(self, raw: Any) -> dict[str, Account] | None:
        if self.mapping(raw, "accounts", raw if isinstance(raw, dict) else ()) is None:
            return None
        result = {}
        for name, body in raw.items():
            key = f"accounts.{name}"
            if not fmt.valid(fmt.NAME, name):
                self.problem(key, f"{name!r} is not a valid account name ({fmt.NAME_RULE})")
            spec = self.mapping(body, key, ("partition", "profile"), required=("partition",))
            if spec is None:
                continue
            partition = self.choice(spec.get("partition", _MISSING), f"{key}.partition", PARTITIONS)
            profile = self.optional(
                spec,
                "profile",
                key,
                lambda v, k: self.string(v, k, fmt.PROFILE, "profile name ([A-Za-z0-9_.+=@-])"),
                None,
            )
            if partition:
                result[name] = Account(name, partition, profile)
        if not raw:
            self.problem("accounts", "needs at least one account")
        return result

    def dns(self, raw: Any, accounts: Mapping[str, Account] | None) -> Dns | None:
        spec = self.mapping(raw, "dns", ("zone", "account", "ttl"), required=("zone", "account"))
        if spec is None:
            return None
        zone = self.string(spec.get("zone", _MISSING), "dns.zone", fmt.DNS_NAME, "DNS zone name")
        account = self.string(spec.get("account", _MISSING), "dns.account")
        if account and accounts is not None and account not in accounts:
            self.problem(
                "dns.account", f"unknown account {account!r}{did_you_mean(account, accounts)}"
            )
        ttl = self.given(spec, "dns", {"ttl": lambda v, k: self.integer(v, k, 1, 86400)})
        if zone and account:
            return Dns(zone.rstrip("."), account, **ttl)
        return None

    def addressing(self, raw: Any) -> Addressing | None:
        spec = self.mapping(
            raw,
            "addressing",
            (
                "pool",
                "vpc_prefix",
                "routing_prefix",
                "gateway_prefix",
                "tunnel_pool",
                "reserved",
                "summarise",
                "route_quota",
            ),
            required=("pool",),
        )
        if spec is None:
            return None
        pool = self.network(spec.get("pool", _MISSING), "addressing.pool")

        def sizes(v: Any, k: str) -> int | None:
            return self.integer(v, k, 16, 28)

        given = self.given(
            spec,
            "addressing",
            {
                "vpc_prefix": self.vpc_size,
                "routing_prefix": sizes,
                "gateway_prefix": sizes,
                "tunnel_pool": self.network,
                "reserved": lambda v, k: self.listing(v, k, self.network),
                "summarise": self.boolean,
                "route_quota": lambda v, k: self.integer(v, k, 1, 1000),
            },
        )
        # the pool stands in for itself below when it is missing; the result is then dropped
        result = Addressing(pool or IPv4Network("0.0.0.0/32"), **given)
        self.check_addressing(result, pool is not None)
        return result if pool is not None else None

    def check_addressing(self, a: Addressing, has_pool: bool) -> None:
        tunnel_pool = a.tunnel_pool
        if tunnel_pool.prefixlen > 30:
            self.problem(
                "addressing.tunnel_pool",
                f"{tunnel_pool} has no room for a /30 (make it /30 or larger)",
            )
        if has_pool and a.pool.overlaps(tunnel_pool):
            self.problem(
                "addressing.tunnel_pool",
                f"{tunnel_pool} overlaps addressing.pool {a.pool}; keep them apart",
            )
        for i, net in enumerate(a.reserved):
            if net.overlaps(tunnel_pool):
                self.problem(
                    f"addressing.reserved[{i}]",
                    f"{net} overlaps addressing.tunnel_pool {tunnel_pool}",
                )
        if max(a.routing_prefix, a.gateway_prefix) <= a.vpc_prefix:
            self.problem(
                "addressing.routing_prefix",
                f"/{a.routing_prefix} routing and /{a.gateway_prefix} gateway subnets must be"
                f" smaller than the /{a.vpc_prefix} VPCs they are carved from",
            )

    def vpc_size(self, value: Any, key: str) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool) and not 16 <= value <= 28:
            self.problem(key, f"/{value} is not a VPC size AWS allows (/16 to /28)")
            return None
        return self.integer(value, key, 16, 28)

    def vpcs(
        self, raw: Any, accounts: Mapping[str, Account] | None, default_prefix: int
    ) -> dict[str, Vpc] | None:
        if self.mapping(raw, "vpcs", raw if isinstance(raw, dict) else ()) is None:
            return None
        if not raw:
            self.problem("vpcs", "needs at least one VPC")
        self.declared = set(raw)
        result = {}
        for name, body in raw.items():
            vpc = self.vpc(name, body, accounts, default_prefix)
            if vpc is not None:
                result[name] = vpc
        return result

    def vpc(
        self, name: str, raw: Any, accounts: Mapping[str, Account] | None, default_prefix: int
    ) -> Vpc | None:
        key = f"vpcs.{name}"
        if not fmt.valid(fmt.NAME, name):
            self.problem(key, f"{name!r} is not a valid VPC name ({fmt.NAME_RULE})")
        spec = self.mapping(
            raw,
            key,
            ("account", "region", "azs", "cidr", "vpc_id", "prefix", "image"),
            required=("account", "region", "azs"),
        )
        if spec is None:
            return None
        account = self.string(spec.get("account", _MISSING), f"{key}.account")
        region = self.string(
            spec.get("region", _MISSING), f"{key}.region", fmt.REGION, "region name"
        )
        azs = self.listing(spec.get("azs", _MISSING), f"{key}.azs", self.string, min_items=1)
        cidr = self.optional(spec, "cidr", key, self.network, None)
        if cidr is not None and not 16 <= cidr.prefixlen <= 28:
            self.problem(
                f"{key}.cidr", f"/{cidr.prefixlen} is not a VPC size AWS allows (/16 to /28)"
            )
        prefix = (
            cidr.prefixlen
            if cidr
            else self.optional(spec, "prefix", key, self.vpc_size, default_prefix)
        )
        vpc_id = self.optional(
            spec,
            "vpc_id",
            key,
            lambda v, k: self.string(v, k, fmt.VPC_ID, "VPC id (vpc-...)"),
            None,
        )
        if vpc_id and cidr is None and "cidr" not in spec:
            self.problem(f"{key}.vpc_id", "an adopted VPC needs its CIDR pinned too (add cidr:)")
        image = self.optional(
            spec, "image", key, lambda v, k: self.string(v, k, fmt.AMI, "AMI id (ami-...)"), None
        )
        partition = None
        if account and accounts is not None:
            if account not in accounts:
                self.problem(
                    f"{key}.account",
                    f"unknown account {account!r}{did_you_mean(account, accounts)}",
                )
            else:
                partition = accounts[account].partition
        if region and partition:
            self.check_region(region, partition, f"{key}.region")
        if region and azs is not None:
            self.check_azs(azs, region, f"{key}.azs")
        if account and region and azs:
            return Vpc(name, account, region, azs, prefix, cidr, vpc_id, image)
        return None

    def check_region(self, region: str, partition: str, key: str) -> None:
        if region in PARTITIONS[partition].regions:
            return
        home = partition_of_region(region)
        if home:
            self.problem(
                key,
                f"{region} is in partition {home}, but its account is in {partition}"
                f" (use an account with partition: {home})",
            )
        else:
            hint = did_you_mean(region, PARTITIONS[partition].regions)
            self.problem(key, f"{region} is not a region of partition {partition}{hint}")

    def check_azs(self, azs: tuple[str, ...], region: str, key: str) -> None:
        seen: set[str] = set()
        for i, az in enumerate(azs):
            if not (az.startswith(region) and fmt.valid(fmt.AZ_SUFFIX, az[len(region) :])):
                self.problem(
                    f"{key}[{i}]",
                    f"{az} is not an availability zone of {region}"
                    f" (AZs of {region} look like {region}a)",
                )
            elif az in seen:
                self.problem(f"{key}[{i}]", f"{az} is listed twice")
            seen.add(az)

    def tunnel_options(self, raw: Any, key: str) -> TunnelOptions | None:
        spec = self.mapping(raw, key, ("mode", "keepalive", "ping_restart"))
        if spec is None:
            return None
        options = TunnelOptions(
            **self.given(
                spec,
                key,
                {
                    "mode": lambda v, k: self.choice(v, k, TUNNEL_MODES),
                    "keepalive": lambda v, k: self.integer(v, k, 1, 600),
                    "ping_restart": lambda v, k: self.integer(v, k, 2, 3600),
                },
            )
        )
        if options.ping_restart <= options.keepalive:
            self.problem(
                f"{key}.ping_restart",
                f"{options.ping_restart}s must be longer than keepalive ({options.keepalive}s)",
            )
        return options

    def links(
        self, raw: Any, vpcs: Mapping[str, Vpc] | None, tunnel: TunnelOptions
    ) -> tuple[tuple[Link, ...], str | None]:
        names = sorted(self.declared)
        if raw == "mesh":
            return tuple(
                Link(a, b, None, tunnel) for i, a in enumerate(names) for b in names[i + 1 :]
            ), None
        if isinstance(raw, dict):
            spec = self.mapping(raw, "links", ("hub",), required=("hub",))
            hub = spec and self.string(spec.get("hub", _MISSING), "links.hub")
            if not hub or vpcs is None:
                return (), None
            if hub not in self.declared:
                hint = did_you_mean(hub, self.declared)
                self.problem("links.hub", f"unknown VPC {hub!r}{hint}")
                return (), None
            spokes = (sorted((hub, v)) for v in names if v != hub)
            return tuple(Link(a, b, None, tunnel, "links.hub") for a, b in spokes), hub
        if not isinstance(raw, list):
            self.problem("links", "must be a list of links, 'mesh', or {hub: VPC}")
            return (), None
        links: dict[str, Link] = {}
        for i, item in enumerate(raw):
            link = self.link(item, f"links[{i}]", vpcs, tunnel)
            if link is None:
                continue
            if link.name in links:
                self.problem(f"links[{i}].between", f"{link.a} and {link.b} are already linked")
                continue
            links[link.name] = link
        return tuple(links.values()), None

    def link(
        self, raw: Any, key: str, vpcs: Mapping[str, Vpc] | None, tunnel: TunnelOptions
    ) -> Link | None:
        spec = self.mapping(raw, key, ("between", "port", "tunnel"), required=("between",))
        if spec is None:
            return None
        pair = self.pair(spec.get("between", _MISSING), f"{key}.between", vpcs)
        port = self.optional(spec, "port", key, lambda v, k: self.integer(v, k, 1, 65535), None)
        options = self.optional(spec, "tunnel", key, self.tunnel_options, tunnel)
        return Link(pair[0], pair[1], port, options, key) if pair else None

    def pair(self, raw: Any, key: str, vpcs: Mapping[str, Vpc] | None) -> tuple[str, str] | None:
        if raw is _MISSING:
            return None
        if not isinstance(raw, list) or len(raw) != 2:
            self.problem(key, "must name exactly two VPCs, e.g. [us-west-2, ap-southeast-1]")
            return None
        ok = True
        for i, name in enumerate(raw):
            ok &= self.known_vpc(name, f"{key}[{i}]", vpcs)
        if ok and raw[0] == raw[1]:
            self.problem(key, f"a VPC cannot be linked to itself ({raw[0]})")
            return None
        return (min(raw), max(raw)) if ok else None

    def known_vpc(self, name: Any, key: str, vpcs: Mapping[str, Vpc] | None) -> bool:
        if name is _MISSING:
            return False
        if not isinstance(name, str):
            self.problem(key, f"must be a VPC name, not {_kind(name)}")
            return False
        if vpcs is not None and name not in self.declared:
            self.problem(key, f"unknown VPC {name!r}{did_you_mean(name, self.declared)}")
            return False
        return True

    def transits(
        self, raw: Any, key: str, vpcs: Mapping[str, Vpc] | None, links: tuple[Link, ...]
    ) -> tuple[Transit, ...] | None:
        linked = {link.name for link in links}

        def one(item: Any, k: str) -> Transit | None:
            spec = self.mapping(item, k, ("between", "via"), required=("between", "via"))
            if spec is None:
                return None
            pair = self.pair(spec.get("between", _MISSING), f"{k}.between", vpcs)
            via = spec.get("via", _MISSING)
            if not pair or not self.known_vpc(via, f"{k}.via", vpcs):
                return None
            for end in pair:
                if "--".join(sorted((end, via))) not in linked:
                    self.problem(
                        f"{k}.via",
                        f"{end} and {via} are not linked, so {via} cannot"
                        f" carry traffic for {end} (add a link)",
                    )
            if via in pair:
                self.problem(
                    f"{k}.via", f"{via} is one of the ends; transit goes through a third VPC"
                )
            return Transit(pair[0], pair[1], via)

        return self.listing(raw, key, one)

    def gateways(self, raw: Any, key: str) -> Gateways | None:
        spec = self.mapping(raw, key, ("instance_type", "image", "mirrors", *REMOVED_GATEWAY_KEYS))
        if spec is None:
            return None
        for name in REMOVED_GATEWAY_KEYS.keys() & spec.keys():
            why = REMOVED_GATEWAY_KEYS[name]
            self.problem(f"{key}.{name}", f"no longer supported: {why}; remove this key")
        given = self.given(
            spec,
            key,
            {
                "instance_type": lambda v, k: self.string(v, k, fmt.INSTANCE_TYPE, "instance type"),
                "image": self.image,
            },
        )
        return Gateways(**given, mirrors=self.urls(spec.get("mirrors", {}), f"{key}.mirrors"))

    def image(self, raw: Any, key: str) -> str | None:
        """An image key (``vpnctl.images`` says which exist, with a hint) or an AMI id."""
        value = self.string(raw, key)
        if value is None or fmt.valid(fmt.IMAGE_KEY, value) or fmt.valid(fmt.AMI, value):
            return value
        self.problem(key, f"{value!r} is not an AMI id or an image key like ubuntu-24.04")
        return None

    def urls(self, raw: Any, key: str) -> dict[str, str]:
        """A URL per partition (apt mirrors)."""
        found: dict[str, str] = {}
        if self.mapping(raw, key, PARTITIONS) is not None:
            for part, url in raw.items():
                url = self.string(url, f"{key}.{part}", fmt.URL, "http(s) URL")
                if url and part in PARTITIONS:
                    found[part] = url.rstrip("/")
        return found

    def flows(
        self, raw: Any, key: str, vpcs: Mapping[str, Vpc] | None, reach: Callable[[str, str], bool]
    ) -> tuple[Flow, ...] | None:
        def one(item: Any, k: str) -> Flow | None:
            spec = self.mapping(
                item, k, ("from", "to", "proto", "ports"), required=("from", "to", "proto")
            )
            if spec is None:
                return None
            ends = [self.known_vpc(spec.get(e), f"{k}.{e}", vpcs) for e in ("from", "to")]
            proto = self.choice(spec.get("proto", _MISSING), f"{k}.proto", PROTOCOLS)
            ports: tuple[tuple[int, int], ...] = ()
            if "ports" in spec:
                if proto in ("icmp", "all"):
                    self.problem(f"{k}.ports", f"{proto} has no ports; remove them")
                else:
                    ports = self.listing(spec["ports"], f"{k}.ports", self.port_range, 1) or ()
            if not all(ends) or proto is None:
                return None
            src, dst = spec["from"], spec["to"]
            if src == dst:
                self.problem(f"{k}.to", f"a flow from {src} to itself never crosses a link")
            elif not reach(src, dst):
                self.problem(
                    f"{k}.to",
                    f"no link or transit joins {src} and {dst}, so this flow"
                    " can never pass (add a link or a transit entry)",
                )
            return Flow(src, dst, proto, tuple(sorted(ports)))

        return self.listing(raw, key, one)

    def port_range(self, raw: Any, key: str) -> tuple[int, int] | None:
        if isinstance(raw, int) and not isinstance(raw, bool):
            port = self.integer(raw, key, 1, 65535)
            return (port, port) if port else None
        match = re.fullmatch(r"(\d+)-(\d+)", raw) if isinstance(raw, str) else None
        if match is None:
            self.problem(key, f'{raw!r} is not a port or a range like "8300-8302"')
            return None
        lo, hi = int(match[1]), int(match[2])
        if not 1 <= lo <= hi <= 65535:
            self.problem(key, f"{raw} is not a range of ports (1-65535, low-high)")
            return None
        return lo, hi

    def probe(self, raw: Any, key: str, vpcs: Mapping[str, Vpc] | None) -> Probe | None:
        spec = self.mapping(raw, key, ("count", "interval_ms", "warn", "crit", "targets"))
        if spec is None:
            return None
        given = self.given(
            spec,
            key,
            {
                "count": lambda v, k: self.integer(v, k, 1, 10000),
                "interval_ms": lambda v, k: self.integer(v, k, 1, 60000),
                "warn": self.thresholds,
                "crit": self.thresholds,
            },
        )
        settings = Probe(**given)
        disorder = thresholds_disorder(settings.warn, settings.crit)
        if disorder is not None:
            self.problem(f"{key}.warn", disorder)
        targets: dict[str, tuple[IPv4Address, ...]] = {}
        raw_targets = spec.get("targets", {})
        if (
            self.mapping(
                raw_targets, f"{key}.targets", raw_targets if isinstance(raw_targets, dict) else ()
            )
            is not None
        ):
            for vpc, hosts in raw_targets.items():
                if self.known_vpc(vpc, f"{key}.targets.{vpc}", vpcs):
                    targets[vpc] = self.listing(hosts, f"{key}.targets.{vpc}", self.address) or ()
        return Probe(**given, targets=targets)

    def thresholds(self, raw: Any, key: str) -> Thresholds | None:
        spec = self.mapping(raw, key, ("loss_pct", "rtt_ms"), required=("loss_pct", "rtt_ms"))
        if spec is None:
            return None
        loss = self.number(spec.get("loss_pct", _MISSING), f"{key}.loss_pct", 0, 100)
        rtt = self.number(spec.get("rtt_ms", _MISSING), f"{key}.rtt_ms", 0, 600000)
        return Thresholds(loss, rtt) if loss is not None and rtt is not None else None

    def failover(self, raw: Any, key: str) -> Failover | None:
        spec = self.mapping(
            raw, key, ("consecutive_failures", "recovery_successes", "failback", "hold_down_s")
        )
        if spec is None:
            return None
        given = self.given(
            spec,
            key,
            {
                "consecutive_failures": lambda v, k: self.integer(v, k, 1, 100),
                "recovery_successes": lambda v, k: self.integer(v, k, 1, 1000),
                "failback": self.boolean,
                "hold_down_s": lambda v, k: self.integer(v, k, 0, 86400),
            },
        )
        return Failover(**given)


def _reachability(
    links: tuple[Link, ...],
    transit: tuple[Transit, ...],
    hub: str | None,
    vpcs: Mapping[str, Vpc] | None,
) -> Callable[[str, str], bool]:
    pairs = {(link.a, link.b) for link in links} | {(t.a, t.b) for t in transit}

    def reach(x: str, y: str) -> bool:
        if hub is not None and vpcs is not None and x in vpcs and y in vpcs:
            return True
        return (min(x, y), max(x, y)) in pairs

    return reach


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: f"the text {value!r}", bool: f"{value}"}.get(
        type(value), f"{value!r}"
    )
