"""Removals: what vpnctl owns that the design no longer has. Pure; a pass of its own.

``sweep(intent, live)`` finds owned objects the design does not name (a VPC dropped from the
topology, a gateway of an AZ removed); ``sweep(intent, live, everything=True)`` is ``destroy``:
every owned object goes, adopted VPCs and foreign objects stay. What the design wants of each
kind of tagged object, and how live shows it, is declared once in ``kinds``, which ``diff``
finds its objects by: what diff makes, sweep keeps. Routes are vpnctl's when their
table is, or when they point at a vpnctl gateway. Records cannot carry tags, so a record is
vpnctl's by its name alone: ``<gateway>.<zone>`` for a gateway of the design, or for a gateway
this topology's tagged objects (Elastic IP, group, template, instance) still name. Where a
record points never makes it vpnctl's: a record someone added that points at a gateway's Elastic
IP stays. Stages order the removals (see ``changes``); records go first, so a removed gateway's
objects still name its record until the record is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from vpnctl.aws import changes as c
from vpnctl.aws import hooks, kinds, store
from vpnctl.aws import live as lv
from vpnctl.aws.intent import Intent
from vpnctl.design import Design
from vpnctl.partitions import PARTITIONS

ZONE_OWN_TYPES = ("NS", "SOA")


def sweep(intent: Intent, live: lv.Live, *, everything: bool = False) -> list[c.Change]:
    sweeper = _Sweeper(intent, live, everything)
    found: list[c.Change] = list(sweeper.records())
    for region in live.regions.values():
        found += sweeper.region(region)
    found += sweeper.roles()
    found += sweeper.artifacts()
    found += hooks.removals(intent, live, everything)
    found += sweeper.zone()
    found += sweeper.journal()
    return sorted(found, key=lambda ch: ch.stage)


@dataclass(frozen=True)
class _Sweeper:
    intent: Intent
    live: lv.Live
    everything: bool

    @cached_property
    def design(self) -> Design | None:
        """What is kept: the design, or nothing at all (destroy)."""
        return None if self.everything else self.intent.design

    @cached_property
    def gateways(self) -> frozenset[str]:
        return frozenset(g.name for g in self.design.gateways) if self.design else frozenset()

    def keep_parameters(self, region: lv.Region) -> frozenset[str]:
        """The keys this region stores: its own gateways' pieces. The far ends' pieces, which
        each region used to hold as well, go (a private key lives only where it is used)."""
        if self.everything:
            return frozenset()
        at = (region.account, region.region)
        tunnels = self.intent.design.tunnels
        return frozenset(n for t in tunnels for n in self.intent.parameters_at(t, *at))

    @cached_property
    def record_names(self) -> frozenset[str]:
        """The names in the zone that vpnctl writes: one per gateway, designed or left over."""
        return own_record_names(self.intent, self.live)

    @cached_property
    def gateway_enis(self) -> dict[str, str]:
        """ENI id -> the gateway whose instance it belongs to."""
        return {
            i.eni_id: i.name or ""
            for r in self.live.regions.values()
            for i in r.instances
            if i.eni_id
        }

    # ------------------------------------------------------------------ per region

    def region(self, region: lv.Region) -> Iterator[c.Change]:
        """Each kind's objects the design does not want (``kinds``), then keys and routes."""
        here = c.Where(region.account, region.region)
        vpc_names = {v.id: v.name or v.id for v in region.vpcs}

        def at(vpc_id: str | None) -> c.Where:
            return c.Where(here.account, here.region, vpc_names.get(vpc_id or "", ""))

        for kind in kinds.KINDS:
            for found in kind.stale(self.design, region):
                yield kind.removal(at(kind.vpc_id(found)), found)
        stale = sorted(region.parameters - self.keep_parameters(region))
        if stale:
            yield c.DeleteParameters(here, tuple(stale))
        dropped = {t.id for t in kinds.ROUTE_TABLE.stale(self.design, region)}  # routes and all
        for table in region.route_tables:
            if table.id not in dropped:
                yield from self.routes(table, at(table.vpc_id))

    def routes(self, table: lv.RouteTable, where: c.Where) -> Iterator[c.Change]:
        """Routes to vpnctl gateways that nothing wants any more."""
        wanted = self.wanted_routes(table)
        for route in table.routes:
            gateway = self.gateway_enis.get(route.target)
            if not table.owned:  # someone's own route to a gateway: only when it goes away
                if gateway and gateway not in self.gateways:
                    yield c.DeleteRoute(where, table.id, table.id, route.destination, route.target)
                continue
            ours = gateway is not None or (route.blackhole and route.target.startswith("eni-"))
            if ours and route.destination not in wanted:
                name = table.name or table.id
                yield c.DeleteRoute(where, table.id, name, route.destination, route.target)

    def wanted_routes(self, table: lv.RouteTable) -> frozenset[str]:
        if self.everything or not table.owned:
            return frozenset()
        design = self.intent.design.route_table_by_name.get(table.name or "")
        return frozenset(map(str, design.destinations)) if design else frozenset()

    def artifacts(self) -> Iterator[c.Change]:
        """Objects under the topology's prefix that diff does not want (observe lists only
        that prefix: other topologies' objects in a shared bucket are never seen here)."""
        for (account, region), have in sorted(self.live.stores.items()):
            if not have.exists:
                continue
            here = c.Where(account, region)
            stale = sorted(have.keys - self.kept_artifacts(account, region))
            if stale:
                yield c.DeleteArtifacts(here, have.bucket, tuple(stale))
            if self.everything:
                yield c.DeleteArtifactStore(here, have.bucket)

    def kept_artifacts(self, account: str, region: str) -> frozenset[str]:
        """The designed objects and each designed gateway's pointer, which this apply makes
        name its designed configuration (a pointer naming an older one is rewritten first, in
        Stage.INSIDE_VPC: the older one is no longer anyone's to fetch, and a running gateway has the
        copy it runs on its disk)."""
        if self.everything:
            return frozenset()
        kept = {b.key for b in self.intent.blobs(account, region)}
        kept |= {
            store.pointer_key(self.intent.topology, g.name)
            for g in self.intent.design.gateways
            if (g.account, g.region) == (account, region)
        }
        return frozenset(kept)

    # ------------------------------------------------------------------ account-wide

    def roles(self) -> Iterator[c.Change]:
        wanted = {self.intent.aws_name(g.name) for g in self.intent.design.gateways}
        if self.intent.hook is not None:
            wanted.add(hooks.role_name(self.intent.topology))
        for account in self.live.accounts.values():
            partition = PARTITIONS[self.intent.partitions[account.account]]
            here = c.Where(account.account, partition.global_region)
            for role in account.roles:
                if role.owned and (self.everything or role.name not in wanted):
                    yield c.DeleteRole(here, role.name, role.name, role.profiles)

    def records(self) -> Iterator[c.DeleteRecord]:
        zone = self.live.zone
        if zone.id is None:
            return
        here = self.zone_where()
        wanted = frozenset() if self.everything else {g.fqdn for g in self.intent.design.gateways}
        for record in zone.records:
            if record.type != "A" or record.alias or not record.values:
                continue
            if record.name in self.record_names and record.name not in wanted:
                yield c.DeleteRecord(here, record.name, record.ttl or 0, record.values)

    def zone(self) -> Iterator[c.Change]:
        zone = self.live.zone
        if not (self.everything and zone.owned and zone.id):
            return
        removed = {ch.fqdn for ch in self.records()}
        left = [r for r in zone.records if r.type not in ZONE_OWN_TYPES and r.name not in removed]
        if not left:
            yield c.DeleteHostedZone(self.zone_where(), zone.name, zone.id)

    def journal(self) -> Iterator[c.Change]:
        rotation = self.live.rotation
        if self.everything and rotation is not None:
            here = self.zone_where()  # the lock table's: the DNS account's home region
            yield c.DeleteRotationJournal(here, self.intent.topology, rotation.link)

    def zone_where(self) -> c.Where:
        account = self.intent.dns_account
        return c.Where(account, PARTITIONS[self.intent.partitions[account]].global_region)


def own_record_names(intent: Intent, live: lv.Live) -> frozenset[str]:
    """``<gateway>.<zone>`` for every gateway of the design, and for every gateway name this
    topology's own tagged objects carry (a gateway being removed: its record goes with it)."""
    zone = intent.design.zone.rstrip(".")
    gateways = {g.name for g in intent.design.gateways}
    for region in live.regions.values():
        gateways |= {a.name for a in region.addresses if a.name}
        gateways |= {g.name for g in region.groups if g.name}
        gateways |= {t.name for t in region.launch_templates if t.name}
        gateways |= {i.name for i in region.instances if i.name}
    return frozenset(f"{name}.{zone}" for name in gateways)
