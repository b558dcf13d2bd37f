"""What exists in AWS, as read once by ``observe``: a frozen snapshot the diff works on.

Only the facts the diff and status need are kept, in plain strings, so tests build a ``Live``
by hand. ``name`` is an object's ``vpnctl:name`` tag and ``owned`` says it carries this
topology's ``vpnctl:topology`` tag; everything else is foreign and left alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

RegionKey = tuple[str, str]  # (account, region)


@dataclass(frozen=True)
class Vpc:
    id: str
    cidr: str
    name: str | None
    owned: bool


@dataclass(frozen=True)
class Subnet:
    id: str
    vpc_id: str
    cidr: str
    az: str
    name: str | None
    owned: bool


@dataclass(frozen=True)
class InternetGateway:
    id: str
    vpc_id: str | None
    name: str | None
    owned: bool


@dataclass(frozen=True)
class Route:
    destination: str
    target: str  # igw-..., eni-..., local, ...
    blackhole: bool = False


@dataclass(frozen=True)
class RouteTable:
    id: str
    vpc_id: str
    name: str | None
    owned: bool
    routes: tuple[Route, ...] = ()
    associations: Mapping[str, str] = field(default_factory=dict)  # subnet id -> assoc id
    main: bool = False

    def route(self, destination: str) -> Route | None:
        return next((r for r in self.routes if r.destination == destination), None)


@dataclass(frozen=True, order=True)
class Rule:
    """One ingress permission: protocol (-1 for all), port range, source CIDR."""

    protocol: str
    from_port: int
    to_port: int
    cidr: str


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    vpc_id: str
    name: str | None
    owned: bool
    ingress: frozenset[Rule] = frozenset()


@dataclass(frozen=True)
class Address:
    allocation_id: str
    public_ip: str
    name: str | None
    association_id: str | None = None
    instance_id: str | None = None

    @property
    def owned(self) -> bool:
        return True  # observe reads only the topology's own (it filters by its tag)


@dataclass(frozen=True)
class LaunchTemplate:
    id: str
    template_name: str
    name: str | None
    digest: str | None
    boot: str | None = None  # BOOT_TAG: what it was made from, its configuration aside

    @property
    def owned(self) -> bool:
        return True  # observe reads only the topology's own (it filters by its tag)


@dataclass(frozen=True)
class Group:
    """An Auto Scaling group vpnctl made (one gateway's)."""

    group_name: str
    name: str | None
    template_name: str | None
    subnet_ids: tuple[str, ...]
    instance_ids: tuple[str, ...]
    drain_hook: bool = False  # carries the failover hook's terminate lifecycle hook (by tag)

    @property
    def owned(self) -> bool:
        return True  # observe reads only the topology's own (it filters by its tag)


@dataclass(frozen=True)
class Instance:
    id: str
    name: str | None  # the gateway it serves
    state: str
    eni_id: str | None
    source_dest_check: bool
    subnet_id: str | None
    ready: str | None = None  # READY_TAG: the configuration digest its agent reports it runs
    replacing: str | None = None  # REPLACE_TAG: an apply began replacing it (why)


@dataclass(frozen=True)
class Region:
    """Everything of one account in one region that the topology touches."""

    account: str
    region: str
    vpcs: tuple[Vpc, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    internet_gateways: tuple[InternetGateway, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    addresses: tuple[Address, ...] = ()
    launch_templates: tuple[LaunchTemplate, ...] = ()
    groups: tuple[Group, ...] = ()
    instances: tuple[Instance, ...] = ()
    parameters: frozenset[str] = frozenset()  # SSM names present (never their values)
    key_versions: Mapping[str, str] = field(default_factory=dict)  # name -> ``keyversions``
    image_id: str | None = None  # the topology's image, resolved in this region


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    owned: bool
    policy: str | None  # the inline policy, canonical JSON
    profiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountLive:
    """IAM is per account (and partition), not per region."""

    account: str
    account_id: str
    roles: tuple[Role, ...] = ()
    profiles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> roles


@dataclass(frozen=True)
class Record:
    name: str  # fully qualified, no trailing dot
    type: str
    ttl: int | None
    values: tuple[str, ...]
    alias: bool = False


@dataclass(frozen=True)
class Zone:
    name: str
    id: str | None  # None: the zone does not exist yet
    owned: bool = False
    name_servers: tuple[str, ...] = ()
    records: tuple[Record, ...] = ()

    def record(self, name: str, type_: str = "A") -> Record | None:
        return next((r for r in self.records if r.name == name and r.type == type_), None)


@dataclass(frozen=True)
class FunctionLive:
    name: str
    code_sha256: str
    settings: str  # digest of role, handler, runtime, environment, timeout (``hooks.settings``)


@dataclass(frozen=True)
class HookLive:
    """The failover hook's objects in one account and region (see ``vpnctl.aws.hooks``)."""

    function: FunctionLive | None = None
    rules: Mapping[str, str] = field(default_factory=dict)  # rule -> digest of its pattern
    alarms: Mapping[str, str] = field(default_factory=dict)  # alarm -> digest of its config


@dataclass(frozen=True)
class StoreLive:
    """The artifact bucket of one account and region (see ``vpnctl.aws.store``)."""

    bucket: str
    exists: bool = False
    policy: str | None = None  # canonical JSON
    public_blocked: bool = False  # every Block Public Access setting on
    keys: frozenset[str] = frozenset()  # the objects under this topology's prefix
    # each gateway pointer's key -> the configuration key it names ("" when unreadable)
    pointers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rotation:
    """A ``keys rotate`` that started and did not finish (its journal, ``vpnctl.aws.journal``)."""

    link: str
    since: str
    tunnels: tuple[str, ...]  # drained by it and not yet restored


@dataclass(frozen=True)
class Live:
    topology: str
    regions: Mapping[RegionKey, Region]
    accounts: Mapping[str, AccountLive]
    zone: Zone
    hooks: Mapping[RegionKey, HookLive] = field(default_factory=dict)
    stores: Mapping[RegionKey, StoreLive] = field(default_factory=dict)
    rotation: Rotation | None = None

    def region(self, account: str, region: str) -> Region:
        return self.regions.get((account, region)) or Region(account, region)

    def fingerprint(self) -> str:
        """A digest of the whole snapshot: a saved change set made against another is stale."""
        document = {
            "regions": {f"{a}/{r}": asdict(v) for (a, r), v in self.regions.items()},
            "accounts": {n: asdict(a) for n, a in self.accounts.items()},
            "zone": asdict(self.zone),
            "hooks": {f"{a}/{r}": asdict(v) for (a, r), v in self.hooks.items()},
            "stores": {f"{a}/{r}": asdict(v) for (a, r), v in self.stores.items()},
            "rotation": asdict(self.rotation) if self.rotation else None,
        }
        text = json.dumps(document, sort_keys=True, default=_jsonable)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _jsonable(value: object) -> object:
    if isinstance(value, frozenset | set):
        return sorted(value, key=repr)
    return str(value)


def canonical_json(document: object) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
