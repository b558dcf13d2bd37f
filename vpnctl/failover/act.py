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

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions, aws_errors, error_code
from vpnctl.errors import AwsError
from vpnctl.failover import observe as ob
from vpnctl.failover.assess import Assessment, Complete, FixInstance, FixRecord, Move

Done = dict[str, Any]


@dataclass(frozen=True)
class Actor:
    sessions: Sessions
    retry: Retry

    def run(self, work: Assessment) -> list[Done]:
        done = [self.fix(f) for f in work.fixes]
        done += self.moves(work.moves)
        done += [self.record(r) for r in work.records]
        if work.complete is not None:
            done.append(self.complete(work.complete))
        return done

    def call(self, fn: Callable[..., Any], ok: tuple[str, ...] = (), **kw: Any) -> Any:
        try:
            return self.retry.call(lambda: fn(**kw))
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ok:
                return None
            raise

    # ------------------------------------------------------------------ instances

    def fix(self, f: FixInstance) -> Done:
        ec2 = self.sessions.client(f.account, f.region, "ec2")
        with aws_errors(f.account, f.region, f.describe()):
            if f.disable_check:
                self.call(
                    ec2.modify_instance_attribute,
                    InstanceId=f.instance_id,
                    SourceDestCheck={"Value": False},
                )
            if f.allocation_id:
                self.call(
                    ec2.associate_address,
                    AllocationId=f.allocation_id,
                    InstanceId=f.instance_id,
                    AllowReassociation=True,
                )
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
        ec2 = self.sessions.client(*at, "ec2")
        for m in moves:
            with aws_errors(*at, m.describe()):
                self.route(ec2, m)
        self.read_back(at, moves)
        return [
            {"kind": "route", "what": m.describe(), "table": m.table, "was": m.was} for m in moves
        ]

    def route(self, ec2: Any, m: Move) -> None:
        args: dict[str, Any] = {
            "RouteTableId": m.table_id,
            "DestinationCidrBlock": m.destination,
            "NetworkInterfaceId": m.eni,
        }
        if m.was is None:
            made = self.call(ec2.create_route, ok=("RouteAlreadyExists",), **args)
            if made is not None:
                return
        replaced = self.call(ec2.replace_route, ok=("InvalidRoute.NotFound",), **args)
        if replaced is None:
            self.call(ec2.create_route, **args)

    def read_back(self, at: tuple[str, str], moves: list[Move]) -> None:
        ec2 = self.sessions.client(*at, "ec2")
        ids = sorted({m.table_id for m in moves})
        with aws_errors(*at, f"route tables {', '.join(ids)} (reading back)"):
            found = self.retry.call(lambda: ec2.describe_route_tables(RouteTableIds=ids))
        tables = {t["RouteTableId"]: ob.table(t, at) for t in found["RouteTables"]}
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
        r53 = self.sessions.client(r.account, r.region, "route53")
        record = {
            "Name": r.fqdn,
            "Type": "A",
            "TTL": r.ttl,
            "ResourceRecords": [{"Value": r.ip}],
        }
        with aws_errors(r.account, r.region, r.describe()):
            self.call(
                r53.change_resource_record_sets,
                HostedZoneId=r.zone_id,
                ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},
            )
        return {"kind": "record", "what": r.describe(), "was": list(r.was) if r.was else None}

    def complete(self, c: Complete) -> Done:
        asg = self.sessions.client(c.account, c.region, "autoscaling")
        with aws_errors(c.account, c.region, c.describe()):
            # A second run finds no action waiting: AWS answers ValidationError, done already.
            self.call(
                asg.complete_lifecycle_action,
                ok=("ValidationError",),
                LifecycleHookName=c.hook,
                AutoScalingGroupName=c.group,
                LifecycleActionToken=c.token,
                LifecycleActionResult="CONTINUE",
                InstanceId=c.instance_id,
            )
        return {"kind": "lifecycle", "what": c.describe()}
