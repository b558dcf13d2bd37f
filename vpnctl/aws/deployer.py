"""Apply and destroy, end to end, as one short pipeline each.

    plan -> intent -> lock -> observe -> diff (+ sweep) -> show -> confirm -> execute
         -> replace what needs a new instance, AZ by AZ (``replace``) -> unlock
         -> wait for the gateways to converge (``convergence.wait``; not with ``wait_s`` None)

Everything before ``execute`` only reads; ``--dry-run`` stops after ``show`` and takes no lock.
A change set saved from ``--dry-run --format json`` is applied only if, under the lock, apply
would make exactly those changes against exactly that state of AWS.
``destroy`` is the same pipeline with ``sweep(everything=True)`` in place of the diff.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from vpnctl import replacement as rp
from vpnctl.aws import artifacts, convergence, replace, view
from vpnctl.aws.applylock import ApplyLock
from vpnctl.aws.changes import ChangeSet
from vpnctl.aws.diff import diff
from vpnctl.aws.execute import Executor
from vpnctl.aws.factory import Factory
from vpnctl.aws.intent import Intent
from vpnctl.aws.live import Live
from vpnctl.aws.observe import observe
from vpnctl.aws.progress import Progress
from vpnctl.aws.registry import Registry
from vpnctl.aws.scope import Scope
from vpnctl.aws.session import Sessions
from vpnctl.aws.sweep import sweep
from vpnctl.failover.bundle import Bundle
from vpnctl.pipeline import Plan

Confirm = Callable[[], bool]


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    yes: bool = False
    fmt: str = "text"  # text | json
    saved: Mapping[str, Any] | None = None  # a change set saved earlier: apply only that
    purpose: str = "apply"  # apply | destroy: how an empty change set is worded
    # after making changes, wait this long for every gateway to converge: None does not look,
    # 0 looks once (the sandbox, where no agent can ever run), more polls until then
    wait_s: float | None = None
    wait_every_s: float = 5.0  # between looks at the gateways' READY_TAG


@dataclass
class Deployer:
    factory: Factory
    sessions: Sessions
    out: TextIO
    progress: Progress
    confirm: Confirm
    say: Callable[[str], None] = print  # the wait's progress and notes (stderr, from the CLI)
    executed: bool = False  # the last run made its changes
    pending: tuple[convergence.State, ...] = ()  # gateways not converged when the wait ended
    replacer: replace.Replacer | None = None  # apply's, for what needs a new instance

    def apply(self, planned: Plan, options: Options) -> ChangeSet:
        intent = artifacts.intent(planned)
        self.replacer = self.make_replacer(planned, intent, options)
        changes = self.run(intent, options, lambda live: diff(intent, live))
        if self.executed and options.wait_s is not None:
            self.pending = self.converge(planned, intent, options.wait_s, options.wait_every_s)
        return changes

    def converge(
        self, planned: Plan, intent: Intent, wait_s: float, every_s: float
    ) -> tuple[convergence.State, ...]:
        """Until each gateway's current instance reports the designed configuration digest."""
        designed = artifacts.designed(planned, intent)
        retry = self.factory.retry()

        def poll() -> tuple[convergence.State, ...]:
            found = convergence.read(self.sessions, intent, retry)
            return convergence.judge(intent.design.gateways, designed, found)

        if wait_s > 0:
            self.say(f"waiting up to {wait_s:.0f} s for the gateways to converge")
        with self.sessions.log.phase(convergence.PHASE):
            return convergence.wait(poll, wait_s, every_s, self.factory.sleep,
                                    self.factory.clock, self.say)  # fmt: skip

    def make_replacer(self, planned: Plan, intent: Intent, options: Options) -> replace.Replacer:
        return replace.Replacer(
            self.sessions, Bundle.from_plan(planned), artifacts.designed(planned, intent),
            self.factory.retry(), self.say, self.factory.clock, self.factory.sleep,
            wait_s=options.wait_s or 0.0, poll_s=options.wait_every_s,
        )  # fmt: skip

    def replacing(self, intent: Intent, live: Live, changes: ChangeSet) -> rp.Replacement:
        """What this apply replaces after its changes (nothing for destroy)."""
        if self.replacer is None:
            return rp.NOTHING
        return replace.planned(intent.design, changes, replace.pending(live))

    def destroy(self, planned: Plan, options: Options) -> ChangeSet:
        intent = artifacts.intent(planned)
        self.replacer = None

        def removals(live: Live) -> ChangeSet:
            found = sweep(intent, live, everything=True)
            return ChangeSet(intent.topology, tuple(found), live.fingerprint())

        return self.run(intent, dataclasses.replace(options, purpose="destroy"), removals)

    def run(
        self, intent: Intent, options: Options, decide: Callable[[Live], ChangeSet]
    ) -> ChangeSet:
        if options.dry_run:
            live = self.observe(intent)
            changes = decide(live)
            self.show(changes, options, self.replacing(intent, live, changes), intent)
            return changes
        lock = ApplyLock(
            self.sessions,
            intent.dns_account,
            intent.topology,
            self.factory.retry(),
            self.factory.sleep,
            self.factory.clock,
            self.factory.lock_wait_s,
        )
        with lock.held():
            live = self.observe(intent)
            changes = decide(live)
            if options.saved is not None:
                view.check_saved(options.saved, changes)
            plan = self.replacing(intent, live, changes)
            self.show(changes, options, plan, intent)
            if (changes or plan) and (options.yes or self.confirm()):
                if changes:
                    self.executor(intent, live).run(changes)
                self.executed = True
                if plan and self.replacer is not None:
                    # no wait, or the sandbox's single look (no agent there ever reports ready)
                    self.replacer.run(plan, no_wait=not options.wait_s)
        return changes

    def observe(self, intent: Intent) -> Live:
        return observe(self.sessions, Scope.of(intent), self.factory.retry())

    def show(
        self,
        changes: ChangeSet,
        options: Options,
        plan: rp.Replacement = rp.NOTHING,
        intent: Intent | None = None,
    ) -> None:
        warnings = list(plan.warnings(intent.design)) if plan and intent else []
        if options.fmt == "json":
            self.out.write(view.to_json(changes, (plan, warnings)))
        else:
            self.out.write(view.to_text(changes, options.purpose, (plan, warnings)))

    def executor(self, intent: Intent, live: Live) -> Executor:
        return Executor(
            self.sessions,
            intent,
            Registry.seeded(live),
            artifacts.KeyMaker(intent.design),
            self.factory.retry(),
            self.progress,
            self.factory.sleep,
            self.factory.clock,
            zone_id=live.zone.id,
        )
