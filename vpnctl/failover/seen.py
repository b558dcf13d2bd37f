"""What the hook's read pass saw, as plain frozen values: the input of the pure middle.

``observe`` fills these from AWS; ``assess``, ``signals`` and ``decision`` read them and import
nothing that talks to AWS (no boto3 on the pure side: a unit test imports ``assess`` and checks).
The names apply gives the hook's objects come from ``vpnctl.aws.names`` (pure), the one table
apply uses too: a copy here once cut group names at 64 characters where apply hashes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vpnctl.aws import names
from vpnctl.aws.names import NAME_TAG, TOPOLOGY_TAG
from vpnctl.failover.evidence import Evidence

__all__ = ["NAME_TAG", "TOPOLOGY_TAG"]  # re-exported for observe's callers

DONE = ("Terminating:Proceed", "Terminated")  # a lifecycle action completed already

RegionKey = tuple[str, str]  # (account, region)

alarm_prefix = names.alarm_prefix
alarm_name = names.alarm
group_name = names.aws_name  # a gateway's Auto Scaling group, as apply names it


@dataclass(frozen=True)
class Instance:
    id: str
    gateway: str
    state: str
    eni: str | None
    source_dest_check: bool
    launched: float  # unix time
    account: str
    region: str
    ready: str | None = None  # the agent's READY_TAG (the config digest it runs), once booted


@dataclass(frozen=True)
class Table:
    id: str
    name: str
    account: str
    region: str
    routes: Mapping[str, str]  # destination -> target (ENI, gateway id, ...)


@dataclass(frozen=True)
class Alarm:
    state: str
    since: float  # when it entered that state


@dataclass(frozen=True)
class Address:
    allocation_id: str
    public_ip: str
    instance_id: str | None


@dataclass(frozen=True)
class Record:
    ttl: int | None
    values: tuple[str, ...]


@dataclass(frozen=True)
class Zone:
    id: str
    account: str
    region: str
    records: Mapping[str, Record]  # fqdn (no trailing dot) -> its A record


@dataclass(frozen=True)
class Needs:
    addresses: bool = False
    lifecycle: bool = False
    zone: bool = False


@dataclass(frozen=True)
class Seen:
    regions: frozenset[RegionKey]
    instances: tuple[Instance, ...] = ()
    tables: tuple[Table, ...] = ()
    alarms: Mapping[str, Alarm] = field(default_factory=dict)  # gateway -> alarm
    addresses: Mapping[str, Address] = field(default_factory=dict)  # gateway -> EIP
    lifecycle: Mapping[str, str] = field(default_factory=dict)  # instance id -> ASG state
    zone: Zone | None = None
    evidence: Evidence = field(default_factory=Evidence)  # the agents' recent datapoints

    def terminating(self) -> frozenset[str]:
        return frozenset(i for i, s in self.lifecycle.items() if s.startswith("Terminating"))
