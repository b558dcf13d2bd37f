"""Carry out an ``Assessment``: no decisions here, only the calls, in a safe order.

1. A new instance's fixes (source/destination check off, its Elastic IP), so it forwards
   before anything routes to it.
2. The route moves, regions in parallel: ``ReplaceRoute`` (``CreateRoute`` where the route is
   missing), then one ``DescribeRouteTables`` per region reads them back; a route not on its
   new target is an error, not a hope.
3. DNS records, in the zone's account.
4. Last, the terminate lifecycle action: the instance may go only once routes are off it.

Each call is idempotent in effect; answers meaning "done already" count as success.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from vpnctl.aws.door import BotoWire, Door, Wire
from vpnctl.aws.door.route53 import RecordChange
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions
from vpnctl.errors import AwsError
from vpnctl.failover import observe as ob
from vpnctl.failover.assess import Assessment, Complete, FixInstance, FixRecord, Move

Done = dict[str, Any]


@dataclass(frozen=True)
class Actor:
    sessions: Sessions
    retry: Retry
    wire: Wire | None = None  # AWS in memory (``fakedoor``), else boto3 through ``sessions``

    @property
    def door(self) -> Door:
        return Door(self.wire or BotoWire(self.sessions, self.retry))

    def run(self, work: Assessment) -> list[Done]:
        done = [self.fix(f) for f in work.fixes]
        done += self.moves(work.moves)
        done += [self.record(r) for r in work.records]
        if work.complete is not None:
            done.append(self.complete(work.complete))
        return done

    # ------------------------------------------------------------------ instances

    def fix(self, f: FixInstance) -> Done:
        ec2 = self.door.at(f.account, f.region, f.describe()).ec2
        if f.disable_check:
            ec2.disable_source_dest_check(f.instance_id)
        if f.allocation_id:
            ec2.associate_address(f.allocation_id, f.instance_id)
        return {"kind": "instance", "what": f.describe()}

    # ------------------------------------------------------------------ routes

    def moves(self, moves: tuple[Move, ...]) -> list[Done]:
        by_region: dict[tuple[str, str], list[Move]] = {}
        for m in moves:
            by_region.setdefault((m.account, m.region), []).append(m)
        if not by_region:
            return []
        with ThreadPoolExecutor(max_workers=len(by_region)) as pool:
            futures = [pool.submit(self.region, at, work) for at, work in by_region.items()]
        return [d for f in futures for d in f.result()]

    def region(self, at: tuple[str, str], moves: list[Move]) -> list[Done]:
        for m in moves:
            ec2 = self.door.at(*at, m.describe()).ec2
            exists = m.was is not None
            ec2.put_route(m.table_id, m.destination, exists=exists, NetworkInterfaceId=m.eni)
        self.read_back(at, moves)
        return [
            {"kind": "route", "what": m.describe(), "table": m.table, "was": m.was} for m in moves
        ]

    def read_back(self, at: tuple[str, str], moves: list[Move]) -> None:
        ids = sorted({m.table_id for m in moves})
        ec2 = self.door.at(*at, f"route tables {', '.join(ids)} (reading back)").ec2
        tables = {t["RouteTableId"]: ob.table(t, at) for t in ec2.route_tables_by_id(ids)}
        for m in moves:
            now = tables[m.table_id].routes.get(m.destination) if m.table_id in tables else None
            if now != m.eni:
                raise AwsError(
                    *at,
                    f"route table {m.table} ({m.table_id})",
                    f"{m.destination} reads back as {now or 'missing'}, not {m.eni} "
                    f"({m.gateway}); the hook will try again on its next run",
                )

    # ------------------------------------------------------------------ names and lifecycle

    def record(self, r: FixRecord) -> Done:
        route53 = self.door.at(r.account, r.region, r.describe()).route53
        route53.change_records(r.zone_id, [RecordChange("UPSERT", r.fqdn, r.ttl, (r.ip,))])
        return {"kind": "record", "what": r.describe(), "was": list(r.was) if r.was else None}

    def complete(self, c: Complete) -> Done:
        asg = self.door.at(c.account, c.region, c.describe()).autoscaling
        asg.complete_lifecycle_action(c.group, c.hook, c.token, c.instance_id)
        return {"kind": "lifecycle", "what": c.describe()}
