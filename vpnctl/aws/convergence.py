"""Whether each gateway runs the configuration of the design, and apply's wait until it does.

A gateway has converged when its current instance carries ``READY_TAG`` (set by its own agent,
``vpnctl.health_contract``) equal to the digest the design gives its configuration
(``artifacts.designed``). ``judge`` says that per gateway, with the reason when not (pure);
``read`` takes the instances' tags with one DescribeInstances per account and region; ``wait``
polls ``read`` until every gateway has converged or its time is up, showing progress, and
returns what is still pending. No agent runs under an emulator: there the wait is short and
ends with the list of gateways that have not converged and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vpnctl.aws import live as lv
from vpnctl.aws import names
from vpnctl.aws.door import Door
from vpnctl.aws.intent import Intent
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions
from vpnctl.design import Gateway
from vpnctl.health_contract import READY_TAG


@dataclass(frozen=True)
class State:
    gateway: str
    account: str
    region: str
    instance: str | None
    designed: str
    running: str | None  # READY_TAG of the current instance: the digest its agent runs

    @property
    def ready(self) -> bool:
        """Its agent has reported ready (converged, every tunnel up) on some configuration."""
        return self.running is not None

    @property
    def converged(self) -> bool:
        return self.running is not None and self.running == self.designed

    def why(self) -> str:
        """Why it has not converged ("" when it has)."""
        if self.converged:
            return ""
        if self.instance is None:
            return "no live instance yet (its Auto Scaling group launches one)"
        if self.running is None:
            return (
                f"instance {self.instance} has not reported {READY_TAG} yet (its agent has not "
                "converged, or no agent runs there: none does under an emulator)"
            )
        return (
            f"instance {self.instance} runs configuration {self.running[:12]}, not the designed "
            f"{self.designed[:12]} (its agent follows the pointer, or the instance is replaced)"
        )


def current(gateway: Gateway, instances: Iterable[lv.Instance]) -> lv.Instance | None:
    """The gateway's instance: a running one first, else any live one."""
    mine = [i for i in instances if i.name == gateway.name and i.state in names.LIVE_STATES]
    running = [i for i in mine if i.state == names.RUNNING]
    found = running or mine
    return found[0] if found else None


def judge(
    gateways: Iterable[Gateway],
    designed: Mapping[str, str],
    instances: Mapping[tuple[str, str], Iterable[lv.Instance]],
) -> tuple[State, ...]:
    """Per gateway of the design, its state. Pure."""
    found = []
    for gateway in gateways:
        here = list(instances.get((gateway.account, gateway.region), ()))
        instance = current(gateway, here)
        found.append(
            State(
                gateway.name,
                gateway.account,
                gateway.region,
                instance.id if instance else None,
                designed.get(gateway.name, ""),
                instance.ready if instance else None,
            )
        )
    return tuple(found)


def of_live(live: lv.Live) -> dict[tuple[str, str], tuple[lv.Instance, ...]]:
    return {k: r.instances for k, r in live.regions.items()}


def read(
    sessions: Sessions, intent: Intent, retry: Retry
) -> dict[tuple[str, str], tuple[lv.Instance, ...]]:
    """The topology's live instances with their tags, per account and region of a gateway."""
    found: dict[tuple[str, str], tuple[lv.Instance, ...]] = {}
    door = Door.of(sessions, retry)
    for account, region in sorted({(g.account, g.region) for g in intent.design.gateways}):
        filters = [
            {"Name": f"tag:{names.TOPOLOGY_TAG}", "Values": [intent.topology]},
            {"Name": "instance-state-name", "Values": list(names.LIVE_STATES)},
        ]
        ec2 = door.at(account, region, f"instances of topology {intent.topology}").ec2
        found[(account, region)] = tuple(_instance(i) for i in ec2.instances(filters))
    return found


def _instance(item: Mapping[str, Any]) -> lv.Instance:
    tags = {t["Key"]: t["Value"] for t in item.get("Tags", []) or []}
    state = item["State"]["Name"]
    return lv.Instance(
        str(item["InstanceId"]),
        tags.get(names.NAME_TAG),
        str(state),
        None,
        True,
        None,
        tags.get(READY_TAG),
    )


Say = Callable[[str], None]
PHASE = "wait for convergence"  # the call log's name for the wait's polls (``CallLog.phase``)


def wait(
    poll: Callable[[], tuple[State, ...]],
    timeout_s: float,
    interval_s: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    say: Say,
) -> tuple[State, ...]:
    """Poll until every gateway has converged or ``timeout_s`` has passed (at most
    ``timeout_s / interval_s`` waits, so a clock that stands still ends it too). Says each
    change of the count; returns the states of the gateways still pending."""
    deadline = clock() + timeout_s
    polls = max(0, int(timeout_s / interval_s))
    last = -1
    for attempt in range(polls + 1):
        states = poll()
        pending = tuple(s for s in states if not s.converged)
        done = len(states) - len(pending)
        if done != last:
            names_ = ", ".join(s.gateway for s in pending[:6]) + (
                ", ..." if len(pending) > 6 else ""
            )
            say(
                f"converged: {done}/{len(states)} gateways"
                + (f" (waiting for {names_})" if pending else "")
            )
            last = done
        if not pending or attempt == polls or clock() >= deadline:
            return pending
        sleep(interval_s)
    return ()
