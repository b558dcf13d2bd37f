"""IDs known while applying: what observe saw, plus what this apply has made so far.

Changes refer to each other with ``Ref``s; the executor looks them up here. It is the only
mutable state of an apply, shared by the threads working regions in parallel.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from vpnctl.aws import live as lv
from vpnctl.aws.changes import Ref

Key = tuple[str, str, str, str]  # kind, account, region, name


@dataclass
class Registry:
    ids: dict[Key, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def put(self, kind: str, account: str, region: str, name: str, value: str) -> None:
        with self._lock:
            self.ids[(kind, account, region, name)] = value

    def get(self, ref: Ref) -> str | None:
        if ref.id is not None:
            return ref.id
        with self._lock:
            return self.ids.get((ref.kind, ref.account, ref.region, ref.name))

    @classmethod
    def seeded(cls, live: lv.Live) -> Registry:
        registry = cls()
        for (account, region), r in live.regions.items():
            for vpc in r.vpcs:
                if vpc.name:
                    registry.put("vpc", account, region, vpc.name, vpc.id)
            for subnet in r.subnets:
                if subnet.name:
                    registry.put("subnet", account, region, subnet.name, subnet.id)
            for table in r.route_tables:
                if table.name:
                    registry.put("route-table", account, region, table.name, table.id)
            for group in r.security_groups:
                if group.name:
                    registry.put("sg", account, region, group.name, group.id)
            names = {v.id: v.name for v in r.vpcs if v.name}
            for igw in r.internet_gateways:
                if igw.vpc_id in names:
                    registry.put("igw", account, region, names[igw.vpc_id], igw.id)
            for address in r.addresses:
                if address.name:
                    registry.put("eip-ip", account, region, address.name, address.public_ip)
        return registry
