"""``vpnctl keys rotate``: new keys for one link, rolled out without dropping the link.

A link has one tunnel per AZ pair, and each VPC's route tables can use any of its gateways.
So the tunnels are rotated one at a time, each in four steps:

1. drain: the failover decision (the hook's own) runs with the tunnel's two gateways treated
   as terminating; the route tables on them move to their VPCs' other gateways, whose tunnels
   carry the link meanwhile, and are read back;
2. new keys (``vpnctl.keys``) overwrite the tunnel's SSM parameters in both ends' regions;
3. both gateways fetch them and restart that tunnel's OpenVPN unit, through SSM Run Command;
   the rotation waits until both report success;
4. undrain: the decision runs with failback on, and of the moves it makes only those that put
   a table the drain moved back on the gateway it was on before the rotation began are carried
   out (so that gateway is healthy and the table's preferred one); no other table moves, so a
   failover that happened meanwhile is never undone, and a table that was already failed over
   before the rotation stays on the healthy gateway the drain chose for it.

A VPC with one AZ has no other gateway to drain to: its traffic on that link stops while the
tunnel restarts (seconds), and the rotation says so before it starts. The apply lock is held
throughout, so an apply cannot run in the middle.

A rotation can die anywhere (killed, a lost connection, a gateway that never restarts). Two
things make that safe to pick up:

- the journal (``journal``): before its first route move, each tunnel's drained tables and the
  gateway each was on are written to DynamoDB; the next ``keys rotate`` of the link restores
  the tables to those gateways, not to where it finds them (drained). While a journal exists,
  apply refuses and status reports it; a rotation of another link refuses too.
- key versions (``keyversions``): every parameter records the version of its tunnel's key set,
  so ends that hold different keys show in apply and status. The next rotation does not try to
  tell which half is newer: it gives the tunnel fresh keys in both regions and restarts both
  ends, which finishes the rotation whichever write was lost (the ends still run the keys they
  loaded at their last restart until then).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

from vpnctl import keys
from vpnctl.aws import keyversions, names
from vpnctl.aws.applylock import ApplyLock, owner
from vpnctl.aws.door import At, Door
from vpnctl.aws.journal import Entry, Journal, Tables
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions
from vpnctl.design import Gateway, Tunnel
from vpnctl.errors import AwsError, Diagnostic, InputError
from vpnctl.failover import act
from vpnctl.failover import observe as ob
from vpnctl.failover.assess import Assessment, Move, assess, best_instances
from vpnctl.failover.bundle import Bundle
from vpnctl.failover.events import Reconcile

RUN_DOCUMENT = "AWS-RunShellScript"
FINISHED = ("Success", "Cancelled", "TimedOut", "Failed", "Cancelling")
LIB = "/usr/local/lib/vpnctl"


def tunnels_of(bundle: Bundle, link: str, file: str) -> tuple[Tunnel, ...]:
    found = tuple(t for t in bundle.design.tunnels if t.link == link)
    if not found:
        links = ", ".join(sorted({t.link for t in bundle.design.tunnels}))
        raise InputError([Diagnostic(file, 1, "--link", f"no link {link!r} (links: {links})")])
    return found


def single_az_warnings(bundle: Bundle, tunnels: tuple[Tunnel, ...]) -> list[str]:
    """VPCs of the link that have nowhere to drain to."""
    vpcs = sorted({e.vpc for t in tunnels for e in t.ends()})
    return [
        f"{v} has one gateway: its traffic on this link stops while each tunnel restarts"
        for v in vpcs
        if len(bundle.design.vpcs[v].gateways) < 2
    ]


def restart_commands(tunnel: str) -> list[str]:
    """What a gateway runs: fetch its keys from SSM again, restart one tunnel."""
    return [
        "set -eu",
        "set -a; . /etc/vpnctl/gateway.env; set +a",
        f"python3 {LIB}/gateway_aws.py keys",
        f"systemctl restart vpnctl-openvpn@{tunnel}.service",
    ]


@dataclass(frozen=True)
class Rotation:
    sessions: Sessions
    bundle: Bundle
    retry: Retry
    say: Callable[[str], None]
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    wait_s: float = 600.0  # for a gateway to fetch and restart
    poll_s: float = 2.0

    def rotate(self, tunnels: tuple[Tunnel, ...]) -> None:
        lock = ApplyLock(self.sessions, self.bundle.dns_account, self.bundle.topology, self.retry)
        with lock.held(owner()):
            link = tunnels[0].link
            entry = self.begin(link)
            for tunnel in tunnels:
                entry = self.one(tunnel, entry)
            self.journal().finish()

    def journal(self) -> Journal:
        return Journal(
            self.sessions, self.bundle.dns_account, self.bundle.topology, self.retry, self.clock
        )

    def begin(self, link: str) -> Entry:
        entry = self.journal().begin(link)
        if entry.link != link:
            raise AwsError(
                self.journal().account,
                self.journal().region,
                f"key rotation journal of {self.bundle.topology}",
                f"the rotation of link {entry.link} begun {entry.since} did not finish; finish "
                f"it first: `vpnctl keys rotate --link {entry.link}`",
            )
        if entry.tunnels:
            self.say(
                f"resuming the rotation of {link} begun {entry.since}: tables of "
                f"{', '.join(sorted(entry.tunnels))} go back where they were before it"
            )
        return entry

    def one(self, tunnel: Tunnel, entry: Entry) -> Entry:
        ends = frozenset(e.gateway for e in tunnel.ends())
        self.say(f"{tunnel.name}: draining {', '.join(sorted(ends))}")
        entry = self.drain(tunnel, ends, entry)
        self.put_keys(tunnel)
        self.say(f"{tunnel.name}: new keys stored; restarting the tunnel on both gateways")
        self.restart(tunnel)
        self.undrain(entry.tunnels.get(tunnel.name, {}))
        self.say(f"{tunnel.name}: rotated; routes back where they were before the rotation")
        return self.journal().restored(entry, tunnel.name)

    # ------------------------------------------------------------------ routes

    def look(self) -> ob.Seen:
        regions = frozenset((v.account, v.region) for v in self.bundle.design.vpcs.values())
        return ob.look(self.sessions, self.bundle, regions, ob.Needs(), self.retry)

    def drain(self, tunnel: Tunnel, ends: frozenset[str], entry: Entry) -> Entry:
        """Move tables off ``ends``, having first recorded where each of them was."""
        found = assess(self.bundle, self.look(), Reconcile(None, None, None), self.clock(), ends)
        moved: Tables = {c.table: c.current for c in found.choices if c.changed and c.current}
        entry = self.journal().drained(entry, tunnel.name, moved)
        self.move(found.moves)
        return entry

    def undrain(self, before: Tables) -> None:
        """Drained tables back on the gateway each was on before, where failback would put them."""
        policy = dataclasses.replace(self.bundle.policy, failback=True, hold_down_s=0)
        bundle = dataclasses.replace(self.bundle, policy=policy)
        found = assess(bundle, self.look(), Reconcile(None, None, None), self.clock())
        self.move(tuple(m for m in found.moves if before.get(m.table) == m.gateway))

    def move(self, moves: tuple[Move, ...]) -> None:
        work = Assessment(moves=moves)  # routes only: fixes are the boot's and the hook's
        for done in act.Actor(self.sessions, self.retry).run(work):
            self.say(f"  {done['what']}")

    # ------------------------------------------------------------------ keys

    def put_keys(self, tunnel: Tunnel) -> None:
        """Each region gets its own gateways' pieces, all with the new set's version."""
        values = keys.generate(self.bundle.design, tunnel).parameters()
        described = keyversions.description(values)
        for gateway, here in self.places(tunnel):
            for name in keys.parameter_names(self.bundle.topology, tunnel, here):
                self.put(gateway, name, values[name], described, tunnel.name)

    def put(self, gateway: Gateway, name: str, value: str, described: str, tunnel: str) -> None:
        """A piece apply never wrote (a region that lost it) is made with apply's tags."""
        ssm = self.door(gateway, f"ssm parameter {name}").ssm
        tags = names.tags(self.bundle.topology, name, **{"vpnctl:tunnel": tunnel})
        ssm.overwrite_secret(name, value, described, tags)

    def door(self, gateway: Gateway, what: str) -> At:
        return Door.of(self.sessions, self.retry).at(gateway.account, gateway.region, what)

    def places(self, tunnel: Tunnel) -> list[tuple[Gateway, frozenset[str]]]:
        """Per region the tunnel's keys live in (SSM is regional): one of its gateways there,
        to address the region by, and the names of all of its gateways there."""
        design = self.bundle.design
        by_region: dict[tuple[str, str], list[Gateway]] = {}
        for end in tunnel.ends():
            gateway = design.gateway_by_name[end.gateway]
            by_region.setdefault((gateway.account, gateway.region), []).append(gateway)
        return [(here[0], frozenset(g.name for g in here)) for here in by_region.values()]

    # ------------------------------------------------------------------ restart

    def restart(self, tunnel: Tunnel) -> None:
        best = best_instances(self.look())
        sent = []
        for end in tunnel.ends():
            gateway = self.bundle.design.gateway_by_name[end.gateway]
            instance = best.get(gateway.name)
            if instance is None or instance.state != names.RUNNING:
                self.say(f"  {gateway.name} has no running instance: it gets the keys at boot")
                continue
            sent.append((gateway, instance.id, self.send(gateway, instance.id, tunnel.name)))
        for gateway, instance_id, command_id in sent:
            self.wait(gateway, instance_id, command_id)

    def send(self, gateway: Gateway, instance_id: str, tunnel: str) -> str:
        sent = self.door(gateway, f"run command on {instance_id}").ssm.send_command(
            InstanceIds=[instance_id],
            DocumentName=RUN_DOCUMENT,
            Comment=f"vpnctl keys rotate: {tunnel}",
            Parameters={"commands": restart_commands(tunnel)},
        )
        return str(sent["CommandId"])

    def wait(self, gateway: Gateway, instance_id: str, command_id: str) -> None:
        ssm = self.door(gateway, f"run command on {instance_id}").ssm
        deadline = self.clock() + self.wait_s
        status = "Pending"
        while self.clock() < deadline:
            found = ssm.invocation(command_id, instance_id)  # None: not known to SSM yet
            status = str(found.get("Status")) if found is not None else "Pending"
            if status in FINISHED:
                break
            self.sleep(self.poll_s)
        if status != "Success":
            raise AwsError(
                gateway.account,
                gateway.region,
                f"{gateway.name} ({instance_id})",
                f"fetching its new keys and restarting the tunnel ended {status}; its routes "
                "stay drained: look at the instance, then run the rotation again",
            )
        self.say(f"  {gateway.name} ({instance_id}): new keys in use")
