"""Apply's replacement of gateways that need a new instance, step by step (``replacement``).

After apply's other changes (the new launch template versions among them), each step of the
plan:

1. drain: the failover decision (the hook's own ``assess``) runs with the step's gateways'
   instances counted as gone, so their route tables and those of the far ends of their
   tunnels move to gateways that stay; the moves are read back (``act``) before anything else;
2. replace: each old instance is terminated in its Auto Scaling group without decrementing
   the desired capacity, so the group launches one from the launch template's new default
   version (the group's terminate lifecycle hook holds the old instance until the failover
   hook, which finds its routes moved already, lets it go). "If you do not specify the option
   to decrement the desired capacity, Amazon EC2 Auto Scaling launches instances to replace
   the ones that are terminated" (Amazon EC2 Auto Scaling API Reference,
   TerminateInstanceInAutoScalingGroup). An instance refresh would pick its own order and
   batch; this way each step is one AZ of the plan, and its gates are ours;
3. gate: wait until each new instance carries ``READY_TAG`` equal to the gateway's designed
   configuration digest and every tunnel of the gateway reads ``TunnelUp`` 1 measured after
   the new instance launched; past the time, the step fails naming the gateway and what it
   waited for, its routes left drained (safe: on gateways that stay);
4. restore: the routes the drain moved go back to the gateway each was on, now its new
   instance (after the new instance's own fixes: source/destination check, Elastic IP, DNS).

Every instance a plan will replace is tagged ``REPLACE_TAG`` first, so an apply that returned
early (``--no-wait``) or died leaves behind what is still to be replaced, and the next apply
picks it up (``pending``). The apply lock is held throughout.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from vpnctl import replacement as rp
from vpnctl.aws import changes as c
from vpnctl.aws import live as lv
from vpnctl.aws import names
from vpnctl.aws.door import BotoWire, Door, Wire
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions
from vpnctl.design import Design, Gateway
from vpnctl.errors import AwsError
from vpnctl.failover import act
from vpnctl.failover import observe as ob
from vpnctl.failover.assess import Assessment, assess, best_instances
from vpnctl.failover.bundle import Bundle
from vpnctl.failover.events import Reconcile
from vpnctl.failover.evidence import says_up
from vpnctl.health_contract import READY_TAG

REPLACE_TAG = names.REPLACE_TAG  # on an instance apply will replace: why, in short
GONE = "shutting-down"  # how a drained instance counts in the decision: on its way out
RECONCILE = Reconcile(None, None, None)
READ = ob.Needs()  # instances, tables, alarms, evidence

Say = Callable[[str], None]
Tables = dict[str, str]  # route table -> the gateway it was on before the drain


def why(changes: c.ChangeSet) -> list[rp.Why]:
    """The gateways whose launch template changed what they boot from. Pure."""
    return [
        rp.Why(ch.name, (_boots(ch.data),))
        for ch in changes.changes
        if isinstance(ch, c.UpdateLaunchTemplate) and ch.replace
    ]


def _boots(data: c.LaunchTemplateData) -> str:
    return f"boots {data.image_id} on {data.instance_type}, boot settings {data.boot[:12]}"


def pending(live: lv.Live) -> list[rp.Why]:
    """Gateways an earlier apply began replacing and did not finish: their live instances
    still carry ``REPLACE_TAG``. Pure."""
    return [
        rp.Why(i.name, (i.replacing,))
        for r in live.regions.values()
        for i in r.instances
        if i.name and i.replacing and i.state in (names.RUNNING, "pending")
    ]


def planned(design: Design, changes: c.ChangeSet, earlier: Iterable[rp.Why]) -> rp.Replacement:
    """This apply's replacement: the changed launch templates' gateways and those pending."""
    merged: dict[str, rp.Why] = {w.gateway: w for w in earlier}
    merged.update({w.gateway: w for w in why(changes)})
    return rp.plan(design, merged.values())


@dataclass(frozen=True)
class Replacer:
    sessions: Sessions
    bundle: Bundle
    designed: Mapping[str, str]  # gateway -> the configuration digest its new instance reports
    retry: Retry
    say: Say
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    wait_s: float = 900.0  # per step, for its new instances to report ready
    poll_s: float = 5.0
    wire: Wire | None = None  # AWS in memory (``fakedoor``), else boto3 through ``sessions``

    @property
    def design(self) -> Design:
        return self.bundle.design

    @property
    def door(self) -> Door:
        return Door(self.wire or BotoWire(self.sessions, self.retry))

    def run(self, plan: rp.Replacement, no_wait: bool = False) -> None:
        self.mark(plan)
        for number, step in enumerate(plan.steps, 1):
            self.say(f"replacing, step {number}/{len(plan.steps)}: {step.describe()}")
            before, old = self.drain(step)
            self.replace(old)
            if no_wait:
                self.left(plan, number)
                return
            self.wait(step, old)
            self.restore(before)
            self.say(f"  step {number}/{len(plan.steps)} done: {', '.join(step.gateways)} "
                     "replaced, routes back")  # fmt: skip

    def left(self, plan: rp.Replacement, number: int) -> None:
        rest = [g for s in plan.steps[number:] for g in s.gateways]
        started = ", ".join(plan.steps[number - 1].gateways)
        self.say(
            f"Not waiting for them: {started} are booting, their routes drained to their "
            f"siblings (the failover hook puts them back with failback on). Left to replace: "
            f"{', '.join(rest) or 'nothing'}; run `vpnctl apply` again to go on."
        )

    # ------------------------------------------------------------------ reading

    def look(self, needs: ob.Needs = READ) -> ob.Seen:
        regions = frozenset((v.account, v.region) for v in self.design.vpcs.values())
        return ob.look(self.sessions, self.bundle, regions, needs, self.retry, self.clock())

    def gateway(self, name: str) -> Gateway:
        return self.design.gateway_by_name[name]

    # ------------------------------------------------------------------ the steps

    def mark(self, plan: rp.Replacement) -> None:
        """Tag every instance the plan replaces, so what is left survives this run
        (``observe`` reads the tag with the instances)."""
        best = best_instances(self.look())
        reasons = {w.gateway: w.reasons[0][:250] for w in plan.why}
        for name in plan.gateways:
            found = best.get(name)
            if found is not None and found.state in (names.RUNNING, "pending"):
                self.tag(self.gateway(name), found.id, reasons.get(name, "replace"))

    def tag(self, gateway: Gateway, instance_id: str, value: str) -> None:
        at = self.door.at(gateway.account, gateway.region, f"instance {instance_id}")
        at.ec2.create_tags([instance_id], {REPLACE_TAG: value})

    def drain(self, step: rp.Step) -> tuple[Tables, dict[str, ob.Instance]]:
        """Routes off the step's gateways and off the tunnels to them; read back."""
        seen = self.look()
        old = {g: i for g, i in best_instances(seen).items() if g in step.gateways}
        out = frozenset(step.gateways)
        gone = tuple(
            dataclasses.replace(i, state=GONE) if i.gateway in out else i for i in seen.instances
        )
        found = assess(self.bundle, dataclasses.replace(seen, instances=gone), RECONCILE,
                       self.clock(), out)  # fmt: skip
        before: Tables = {  # moved, or left on a gateway with no sibling (restored too)
            ch.table: ch.current
            for ch in found.choices
            if ch.current and (ch.changed or ch.current in out)
        }
        self.act(Assessment(moves=found.moves))
        self.check_drained(out, old)
        return before, old

    def check_drained(self, out: frozenset[str], old: Mapping[str, ob.Instance]) -> None:
        """No table of the topology routes to an instance about to go, but those with no
        other gateway (a one-AZ VPC's: the plan warned that its link drops)."""
        enis = {i.eni: g for g, i in old.items() if i.eni}
        alone = {t.name for t in self.design.route_tables if set(t.gateways) <= out}
        for table in (t for t in self.look().tables if t.name not in alone):
            on = sorted({enis[t] for t in table.routes.values() if t in enis})
            if on:
                raise AwsError(table.account, table.region, f"route table {table.name}",
                               f"still routes to {', '.join(on)} after the drain: nothing was "
                               "replaced; run apply again")  # fmt: skip

    def replace(self, old: Mapping[str, ob.Instance]) -> None:
        for name, instance in sorted(old.items()):
            self.terminate(self.gateway(name), instance.id)
            self.say(f"  {name}: instance {instance.id} terminated; its group launches a new one")

    def terminate(self, gateway: Gateway, instance_id: str) -> None:
        where = f"instance {instance_id} of {gateway.name}"
        self.door.at(gateway.account, gateway.region, where).autoscaling.terminate_instance(
            instance_id
        )

    def wait(self, step: rp.Step, old: Mapping[str, ob.Instance]) -> None:
        """Until each gateway of the step has a new instance that passes the gates."""
        deadline = self.clock() + self.wait_s
        while True:
            missing = self.gates(step, old, self.look())
            if not missing:
                return
            if self.clock() >= deadline:
                gateway, what = missing[0]
                g = self.gateway(gateway)
                raise AwsError(g.account, g.region, f"gateway {gateway}",
                               f"its new instance did not pass in {self.wait_s:.0f} s: waited "
                               f"for {what}; its routes stay on the gateways they were drained "
                               "to; see `vpnctl status`, then run apply again (no agent runs under "
                               "an emulator: there, --no-wait)")  # fmt: skip
            self.sleep(self.poll_s)

    def gates(
        self, step: rp.Step, old: Mapping[str, ob.Instance], seen: ob.Seen
    ) -> list[tuple[str, str]]:
        """(gateway, what it still waits for) of the step; empty when every gate is open."""
        best = best_instances(seen)
        found = []
        for name in step.gateways:
            what = gate(self.design, name, best.get(name), old.get(name), self.designed, seen,
                        self.clock())  # fmt: skip
            if what:
                found.append((name, what))
        return found

    def restore(self, before: Tables) -> None:
        """The new instances' fixes, then the drained tables back on the gateway each was on."""
        policy = dataclasses.replace(self.bundle.policy, failback=True, hold_down_s=0)
        bundle = dataclasses.replace(self.bundle, policy=policy)
        seen = self.look(ob.Needs(addresses=True, zone=True))
        found = assess(bundle, seen, RECONCILE, self.clock())
        back = tuple(m for m in found.moves if before.get(m.table) == m.gateway)
        self.act(Assessment(moves=back, fixes=found.fixes, records=found.records))

    def act(self, work: Assessment) -> None:
        for done in act.Actor(self.sessions, self.retry, self.wire).run(work):
            self.say(f"  {done['what']}")


def gate(
    design: Design,
    gateway: str,
    now: ob.Instance | None,
    old: ob.Instance | None,
    designed: Mapping[str, str],
    seen: ob.Seen,
    at: float,
) -> str:
    """What the gateway's new instance still lacks ("" when it passes). Pure."""
    if now is None or (old is not None and now.id == old.id) or now.state != names.RUNNING:
        return "a new running instance from its Auto Scaling group"
    want = designed.get(gateway, "")
    if now.ready != want:
        return f"instance {now.id} to report {READY_TAG} = {want[:12]} (it reports {now.ready})"
    down = [
        t.name
        for t in design.tunnels_by_gateway[gateway]
        if not _up_since(seen, t.name, now.launched, at)
    ]
    if down:
        return f"TunnelUp 1 of {', '.join(down)} measured since instance {now.id} launched"
    return ""


def _up_since(seen: ob.Seen, tunnel: str, launched: float, now: float) -> bool:
    reading = seen.evidence.tunnels.get(tunnel)
    return reading is not None and reading.at >= launched and says_up(reading, now)
