"""The failover hook, end to end, as one short pipeline:

    parse -> look -> assess -> (lease -> look -> assess -> act) -> log -> summary

``parse`` refuses a foreign event before anything is read. ``look`` reads only what the
decision needs, once per account and region in reach; ``assess`` is pure. Nothing to change:
the run ends there, having written nothing (not even the lease). Something to change: the
lease of each account involved is taken, AWS read again under it (another hook may just have
acted), and the work done. Every decision is logged as one JSON line; the same facts come
back as the run's summary.

``handler`` is the Lambda shell (the design embedded, credentials from the function's role,
only its own account in reach); ``vpnctl failover`` is the CLI shell (the topology's design,
every account's profile).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, assert_never

from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions
from vpnctl.errors import VpnctlError
from vpnctl.failover import act, lease
from vpnctl.failover import observe as ob
from vpnctl.failover.assess import Assessment, assess
from vpnctl.failover.bundle import EMBEDDED, Bundle, embedded
from vpnctl.failover.events import (
    AlarmChanged,
    AnyEvent,
    GatewayHealth,
    InstanceLaunched,
    InstanceStateChanged,
    InstanceTerminating,
    Reconcile,
    parse,
    subject,
)
from vpnctl.topology import Account

Say = Callable[[str], None]


def _print(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


@dataclass(frozen=True)
class Env:
    """Where and how a run works: sessions, the accounts it may touch, time, the log."""

    sessions: Sessions
    reach: frozenset[str]  # topology account names whose credentials this run holds
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    retry: Retry = field(default_factory=lambda: Retry(attempts=4, base_s=0.2, cap_s=2.0))
    say: Say = _print
    lease_wait_s: float = 30.0


def run(event: AnyEvent, bundle: Bundle, env: Env) -> dict[str, Any]:
    started = env.clock()
    regions = _regions(bundle, env.reach)
    needs = _needs(event)
    seen = ob.look(env.sessions, bundle, regions, needs, env.retry, started)
    found = assess(bundle, seen, event, started)
    done: list[act.Done] = []
    if found.mutating:
        with lease.leases(lambda a: _lease(bundle, env, a), found.accounts()):
            now = env.clock()
            seen = ob.look(env.sessions, bundle, regions, needs, env.retry, now)
            found = assess(bundle, seen, event, now)
            done = act.Actor(env.sessions, env.retry).run(found)
    _log(env.say, bundle, event, found, started)
    return summary(bundle, event, found, done, regions)


def _regions(bundle: Bundle, reach: frozenset[str]) -> frozenset[ob.RegionKey]:
    return frozenset(
        (v.account, v.region) for v in bundle.design.vpcs.values() if v.account in reach
    )


def _needs(event: AnyEvent) -> ob.Needs:
    """What the read adds to instances, tables, alarms and evidence (always read)."""
    match event:
        case Reconcile():
            return ob.Needs(addresses=True, lifecycle=True, zone=True)
        case InstanceLaunched():
            return ob.Needs(addresses=True, zone=True)
        case InstanceTerminating():
            return ob.Needs(lifecycle=True)
        case InstanceStateChanged() | AlarmChanged() | GatewayHealth():
            return ob.Needs()
        case _:
            assert_never(event)


def _lease(bundle: Bundle, env: Env, account: str) -> lease.Lease:
    return lease.Lease(
        env.sessions,
        account,
        bundle.topology,
        env.retry,
        env.sleep,
        env.clock,
        wait_s=env.lease_wait_s,
    )


# ------------------------------------------------------------------ what it says


def describe_event(event: AnyEvent) -> dict[str, Any]:
    fields = {k: v for k, v in dataclasses.asdict(event).items() if k != "token"}
    return {"kind": type(event).__name__, **fields}


def _log(say: Say, bundle: Bundle, event: AnyEvent, found: Assessment, at: float) -> None:
    kind = type(event).__name__
    if found.ignored:
        say(
            json.dumps(
                {"at": at, "topology": bundle.topology, "event": kind, "ignored": found.ignored}
            )
        )
        return
    for choice in found.choices:
        table = bundle.design.route_table_by_name[choice.table]
        seen = {g: found.states[g].describe() for g in table.gateways if g in found.states}
        line = {"at": at, "topology": bundle.topology, "event": kind, "about": subject(event),
                "seen": seen}  # fmt: skip
        say(json.dumps({**line, **dataclasses.asdict(choice), "changed": choice.changed}))


def summary(
    bundle: Bundle,
    event: AnyEvent,
    found: Assessment,
    done: list[act.Done],
    regions: frozenset[ob.RegionKey],
) -> dict[str, Any]:
    return {
        "topology": bundle.topology,
        "event": describe_event(event),
        "ignored": found.ignored,
        "scope": [f"{a}/{r}" for a, r in sorted(regions)],
        "gateways": {g: s.describe() for g, s in sorted(found.states.items())},
        "unobserved": list(found.unobserved),
        "decisions": [{**dataclasses.asdict(c), "changed": c.changed} for c in found.choices],
        "changes": done,
        "notes": list(found.notes),
    }


# ------------------------------------------------------------------ the Lambda shell


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point: ``vpnctl.failover.handler``.

    Environment: ``VPNCTL_ACCOUNT`` (the topology account this function runs in, set by
    apply), optionally ``VPNCTL_BUNDLE`` (another design file) and ``VPNCTL_ENDPOINT_URL``.
    """
    parsed = parse(event)  # refused events raise EventError before anything is read
    bundle = _bundle(Path(os.environ.get("VPNCTL_BUNDLE") or EMBEDDED))
    account = os.environ.get("VPNCTL_ACCOUNT", "")
    if account not in bundle.accounts:
        raise VpnctlError(
            f"VPNCTL_ACCOUNT={account!r} names no account of {bundle.topology} "
            f"({', '.join(sorted(bundle.accounts))}); apply sets it on the function"
        )
    return run(parsed, bundle, Env(_sessions(bundle), frozenset({account})))


_WARM: dict[tuple[str, str | None], Sessions] = {}  # clients kept between warm invocations
_DESIGNS: dict[Path, Bundle] = {}  # decoded once per cold start (~60 ms for 50 VPCs)


def _bundle(path: Path) -> Bundle:
    if path not in _DESIGNS:
        _DESIGNS[path] = embedded(path)
    return _DESIGNS[path]


def _sessions(bundle: Bundle) -> Sessions:
    """The function's own role, not the topology's profiles: only its account is in reach."""
    endpoint = os.environ.get("VPNCTL_ENDPOINT_URL") or None
    key = (bundle.topology, endpoint)
    if key not in _WARM:
        accounts = {n: Account(n, a.partition, None) for n, a in bundle.accounts.items()}
        _WARM[key] = Sessions(accounts, endpoint)
    return _WARM[key]
