"""A pure model of AWS for the diff and sweep: ``built(intent, live, changes) -> Live``.

What ``observe`` would read after the executor carried ``changes`` out with ``intent``: each
change becomes the objects its handler makes, tagged, with made-up ids. Every change class has
its rule (the refusal of an unfinished rotation aside); a change it has no rule for fails the
test that asked, so a new kind of change cannot slip past the sweep properties unmodelled.
AWS's own objects come with each VPC as they do in AWS: its main route table and its default
security group, both foreign to vpnctl (untagged).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from vpnctl.aws import changes as c
from vpnctl.aws import hooks
from vpnctl.aws import live as lv
from vpnctl.aws.intent import Intent
from vpnctl.aws.registry import Registry

MADE = itertools.count(1)


@dataclass
class World:
    intent: Intent
    live: lv.Live
    registry: Registry = field(default_factory=Registry)

    # ------------------------------------------------------------------ helpers

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(MADE):08x}"  # unique across worlds: one grows from another

    def put(self, kind: str, where: c.Where, name: str, value: str) -> None:
        self.registry.put(kind, where.account, where.region, name, value)

    def resolve(self, ref: c.Ref) -> str:
        found = self.registry.get(ref)
        assert found is not None, f"{ref} is made by no earlier change"
        return found

    def region(self, where: c.Where) -> lv.Region:
        return self.live.region(where.account, where.region)

    def set_region(self, where: c.Where, **fields: Any) -> None:
        changed = replace(self.region(where), **fields)
        self.live = replace(
            self.live, regions={**self.live.regions, (changed.account, changed.region): changed}
        )

    def account(self, where: c.Where) -> lv.AccountLive:
        return self.live.accounts[where.account]

    def set_account(self, where: c.Where, **fields: Any) -> None:
        changed = replace(self.account(where), **fields)
        self.live = replace(self.live, accounts={**self.live.accounts, where.account: changed})

    def store(self, where: c.Where) -> lv.StoreLive:
        return self.live.stores[(where.account, where.region)]

    def set_store(self, where: c.Where, found: lv.StoreLive) -> None:
        self.live = replace(
            self.live, stores={**self.live.stores, (where.account, where.region): found}
        )

    def hook(self, where: c.Where) -> lv.HookLive:
        return self.live.hooks.get((where.account, where.region), lv.HookLive())

    def set_hook(self, where: c.Where, **fields: Any) -> None:
        changed = replace(self.hook(where), **fields)
        self.live = replace(
            self.live, hooks={**self.live.hooks, (where.account, where.region): changed}
        )

    def replaced(self, items: Iterable[Any], old: Any, new: Any) -> tuple[Any, ...]:
        return tuple(new if i is old else i for i in items)

    def table(self, where: c.Where, ref: c.Ref) -> lv.RouteTable:
        table_id = self.resolve(ref)
        return next(t for t in self.region(where).route_tables if t.id == table_id)

    def set_table(self, where: c.Where, old: lv.RouteTable, new: lv.RouteTable) -> None:
        tables = self.replaced(self.region(where).route_tables, old, new)
        self.set_region(where, route_tables=tables)

    def route(self, where: c.Where, ref: c.Ref, destination: str, target: str) -> None:
        table = self.table(where, ref)
        routes = tuple(r for r in table.routes if r.destination != destination)
        self.set_table(
            where, table, replace(table, routes=(*routes, lv.Route(destination, target)))
        )

    def group(self, where: c.Where, ref: c.Ref) -> lv.SecurityGroup:
        group_id = self.resolve(ref)
        return next(g for g in self.region(where).security_groups if g.id == group_id)

    def set_group(self, where: c.Where, old: lv.SecurityGroup, new: lv.SecurityGroup) -> None:
        self.set_region(
            where, security_groups=self.replaced(self.region(where).security_groups, old, new)
        )

    def role(self, where: c.Where, name: str, found: lv.Role) -> None:
        roles = tuple(r for r in self.account(where).roles if r.name != name)
        self.set_account(where, roles=(*roles, found))

    # ------------------------------------------------------------------ stage INDEPENDENT

    def create_vpc(self, ch: c.CreateVpc) -> None:
        vpc = lv.Vpc(self.new_id("vpc"), ch.cidr, ch.name, owned=True)
        main = lv.RouteTable(
            self.new_id("rtb"), vpc.id, None, False, (lv.Route(ch.cidr, "local"),), main=True
        )
        default = lv.SecurityGroup(self.new_id("sg"), vpc.id, None, False)
        r = self.region(ch.where)
        self.set_region(
            ch.where,
            vpcs=(*r.vpcs, vpc),
            route_tables=(*r.route_tables, main),
            security_groups=(*r.security_groups, default),
        )
        self.put("vpc", ch.where, ch.name, vpc.id)

    def create_zone(self, ch: c.CreateHostedZone) -> None:
        self.live = replace(
            self.live, zone=lv.Zone(ch.zone.rstrip("."), self.new_id("Z"), owned=True)
        )

    def create_role(self, ch: c.CreateRole) -> None:
        self.role(
            ch.where, ch.role_name, lv.Role(ch.role_name, f"arn:role/{ch.role_name}", True, None)
        )

    def put_keys(self, ch: c.PutKeys) -> None:
        r = self.region(ch.where)
        versions = {**r.key_versions, **dict.fromkeys(ch.names, f"v-{ch.tunnel}")}
        self.set_region(ch.where, parameters=r.parameters | set(ch.names), key_versions=versions)

    def put_store(self, ch: c.PutArtifactStore) -> None:
        have = self.live.stores.get((ch.where.account, ch.where.region)) or lv.StoreLive(ch.bucket)
        self.set_store(ch.where, replace(have, exists=True, policy=ch.policy, public_blocked=True))

    def allocate_address(self, ch: c.AllocateAddress) -> None:
        n = next(MADE)
        ip = f"100.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        address = lv.Address(self.new_id("eipalloc"), ip, ch.name)
        self.set_region(ch.where, addresses=(*self.region(ch.where).addresses, address))
        self.put("eip-ip", ch.where, ch.name, address.public_ip)

    # ------------------------------------------------------------------ stage INSIDE_VPC

    def create_igw(self, ch: c.CreateInternetGateway) -> None:
        igw = lv.InternetGateway(self.new_id("igw"), self.resolve(ch.vpc), ch.vpc.name, True)
        self.set_region(ch.where, internet_gateways=(*self.region(ch.where).internet_gateways, igw))
        self.put("igw", ch.where, ch.vpc.name, igw.id)

    def attach_igw(self, ch: c.AttachInternetGateway) -> None:
        found = next(g for g in self.region(ch.where).internet_gateways if g.id == ch.gateway_id)
        attached = replace(found, vpc_id=self.resolve(ch.vpc))
        self.set_region(
            ch.where,
            internet_gateways=self.replaced(
                self.region(ch.where).internet_gateways, found, attached
            ),
        )
        self.put("igw", ch.where, ch.vpc.name, ch.gateway_id)

    def create_subnet(self, ch: c.CreateSubnet) -> None:
        subnet = lv.Subnet(
            self.new_id("subnet"), self.resolve(ch.vpc), ch.cidr, ch.az, ch.name, True
        )
        self.set_region(ch.where, subnets=(*self.region(ch.where).subnets, subnet))
        self.put("subnet", ch.where, ch.name, subnet.id)

    def create_group(self, ch: c.CreateSecurityGroup) -> None:
        group = lv.SecurityGroup(self.new_id("sg"), self.resolve(ch.vpc), ch.name, True)
        self.set_region(ch.where, security_groups=(*self.region(ch.where).security_groups, group))
        self.put("sg", ch.where, ch.name, group.id)

    def create_table(self, ch: c.CreateRouteTable) -> None:
        vpc_id = self.resolve(ch.vpc)
        cidr = next(v.cidr for v in self.region(ch.where).vpcs if v.id == vpc_id)
        table = lv.RouteTable(self.new_id("rtb"), vpc_id, ch.name, True, (lv.Route(cidr, "local"),))
        self.set_region(ch.where, route_tables=(*self.region(ch.where).route_tables, table))
        self.put("route-table", ch.where, ch.name, table.id)

    def create_profile(self, ch: c.CreateInstanceProfile) -> None:
        account = self.account(ch.where)
        self.set_account(ch.where, profiles={**account.profiles, ch.profile_name: (ch.role_name,)})
        role = next(r for r in self.account(ch.where).roles if r.name == ch.role_name)
        self.role(ch.where, ch.role_name, replace(role, profiles=(*role.profiles, ch.profile_name)))

    def put_policy(self, ch: c.PutRolePolicy) -> None:
        role = next(r for r in self.account(ch.where).roles if r.name == ch.role_name)
        self.role(ch.where, ch.role_name, replace(role, policy=ch.policy))

    def put_artifact(self, ch: c.PutArtifact) -> None:
        have = self.store(ch.where)
        self.set_store(ch.where, replace(have, keys=have.keys | {ch.key}))

    def put_pointer(self, ch: c.PutPointer) -> None:
        have = self.store(ch.where)
        named = json.loads(ch.data)["key"]
        self.set_store(
            ch.where,
            replace(have, keys=have.keys | {ch.key}, pointers={**have.pointers, ch.key: named}),
        )

    # ------------------------------------------------------------------ stage WIRING

    def associate_table(self, ch: c.AssociateRouteTable) -> None:
        subnet = self.resolve(ch.subnet)
        for table in self.region(ch.where).route_tables:
            if subnet in table.associations:
                rest = {s: a for s, a in table.associations.items() if s != subnet}
                self.set_table(ch.where, table, replace(table, associations=rest))
        table = self.table(ch.where, ch.table)
        associations = {**table.associations, subnet: self.new_id("rtbassoc")}
        self.set_table(ch.where, table, replace(table, associations=associations))

    def route_to_internet(self, ch: c.RouteToInternet) -> None:
        self.route(ch.where, ch.table, ch.destination, self.resolve(ch.internet_gateway))

    def authorize(self, ch: c.AuthorizeIngress) -> None:
        p = ch.permit
        cidr = p.source if isinstance(p.source, str) else f"{self.resolve(p.source)}/32"
        group = self.group(ch.where, ch.group)
        rule = lv.Rule(p.protocol, p.from_port, p.to_port, cidr)
        self.set_group(ch.where, group, replace(group, ingress=group.ingress | {rule}))

    def revoke(self, ch: c.RevokeIngress) -> None:
        group = self.group(ch.where, ch.group)
        self.set_group(ch.where, group, replace(group, ingress=group.ingress - {ch.rule}))

    def create_template(self, ch: c.CreateLaunchTemplate) -> None:
        template = lv.LaunchTemplate(
            self.new_id("lt"), ch.template_name, ch.name, ch.data.digest, ch.data.boot
        )
        self.set_region(
            ch.where, launch_templates=(*self.region(ch.where).launch_templates, template)
        )

    def update_template(self, ch: c.UpdateLaunchTemplate) -> None:
        templates = self.region(ch.where).launch_templates
        found = next(t for t in templates if t.id == ch.template_id)
        updated = replace(found, digest=ch.data.digest, boot=ch.data.boot)
        self.set_region(ch.where, launch_templates=self.replaced(templates, found, updated))

    # ------------------------------------------------------------------ stage INSTANCES

    def create_scaling_group(self, ch: c.CreateAutoScalingGroup) -> None:
        """The group launches its one instance at once (the executor waits for it)."""
        subnet = self.resolve(ch.subnet)
        instance = lv.Instance(
            self.new_id("i"), ch.name, "running", self.new_id("eni"), True, subnet
        )
        group = lv.Group(
            ch.group_name,
            ch.name,
            ch.template_name,
            (subnet,),
            (instance.id,),
            self.intent.hook is not None,
        )
        r = self.region(ch.where)
        self.set_region(ch.where, groups=(*r.groups, group), instances=(*r.instances, instance))
        self.put("gateway-eni", ch.where, ch.name, instance.eni_id or "")

    # ------------------------------------------------------------------ stage LIVE_GATEWAYS

    def route_to_gateway(self, ch: c.RouteToGateway) -> None:
        self.route(ch.where, ch.table, ch.destination, self.resolve(ch.gateway))

    def upsert_record(self, ch: c.UpsertRecord) -> None:
        zone = self.live.zone
        kept = tuple(r for r in zone.records if (r.name, r.type) != (ch.fqdn, "A"))
        record = lv.Record(ch.fqdn, "A", ch.ttl, (self.resolve(ch.address),))
        self.live = replace(self.live, zone=replace(zone, records=(*kept, record)))

    # ------------------------------------------------------------------ the failover hook

    def put_hook_role(self, ch: hooks.PutHookRole) -> None:
        self.role(
            ch.where,
            ch.role_name,
            lv.Role(ch.role_name, f"arn:role/{ch.role_name}", True, ch.policy),
        )

    def put_hook_function(self, ch: hooks.PutHookFunction) -> None:
        package = self.intent.hook
        assert package is not None
        arn = hooks.role_arn(self.intent, self.live, ch.where.account)
        settings = hooks.digest(hooks.settings(arn, ch.where.account, package))
        self.set_hook(ch.where, function=lv.FunctionLive(ch.function, package.sha256, settings))

    def put_hook_rule(self, ch: hooks.PutHookRule) -> None:
        args = hooks.rules(self.intent.topology)[ch.rule]
        self.set_hook(ch.where, rules={**self.hook(ch.where).rules, ch.rule: hooks.digest(args)})

    def put_alarm(self, ch: hooks.PutProbeAlarm) -> None:
        i = self.intent
        args = hooks.alarm(i, ch.gateway, i.alarm_threshold, i.alarm_periods)
        self.set_hook(
            ch.where, alarms={**self.hook(ch.where).alarms, ch.alarm: hooks.alarm_digest(args)}
        )

    def put_lifecycle_hook(self, ch: hooks.PutLifecycleHook) -> None:
        groups = self.region(ch.where).groups
        found = next(g for g in groups if g.group_name == ch.group_name)
        self.set_region(
            ch.where, groups=self.replaced(groups, found, replace(found, drain_hook=True))
        )

    # ------------------------------------------------------------------ removals

    def without(self, where: c.Where, field_name: str, gone: Callable[[Any], bool]) -> None:
        kept = tuple(o for o in getattr(self.region(where), field_name) if not gone(o))
        self.set_region(where, **{field_name: kept})

    def delete_record(self, ch: c.DeleteRecord) -> None:
        zone = self.live.zone
        kept = tuple(r for r in zone.records if (r.name, r.type) != (ch.fqdn, "A"))
        self.live = replace(self.live, zone=replace(zone, records=kept))

    def delete_scaling_group(self, ch: c.DeleteAutoScalingGroup) -> None:
        group = next(g for g in self.region(ch.where).groups if g.group_name == ch.group_name)
        self.without(ch.where, "groups", lambda g: g is group)
        self.without(ch.where, "instances", lambda i: i.id in group.instance_ids)

    def delete_route(self, ch: c.DeleteRoute) -> None:
        table = next(t for t in self.region(ch.where).route_tables if t.id == ch.table_id)
        routes = tuple(r for r in table.routes if r.destination != ch.destination)
        self.set_table(ch.where, table, replace(table, routes=routes))

    def delete_template(self, ch: c.DeleteLaunchTemplate) -> None:
        self.without(ch.where, "launch_templates", lambda t: t.id == ch.template_id)

    def delete_role(self, ch: c.DeleteRole) -> None:
        account = self.account(ch.where)
        profiles = {p: r for p, r in account.profiles.items() if p not in ch.profiles}
        roles = tuple(r for r in account.roles if r.name != ch.role_name)
        self.set_account(ch.where, roles=roles, profiles=profiles)

    def delete_parameters(self, ch: c.DeleteParameters) -> None:
        r = self.region(ch.where)
        versions = {n: v for n, v in r.key_versions.items() if n not in ch.names}
        self.set_region(ch.where, parameters=r.parameters - set(ch.names), key_versions=versions)

    def delete_artifacts(self, ch: c.DeleteArtifacts) -> None:
        have = self.store(ch.where)
        pointers = {k: v for k, v in have.pointers.items() if k not in ch.keys}
        self.set_store(ch.where, replace(have, keys=have.keys - set(ch.keys), pointers=pointers))

    def release_address(self, ch: c.ReleaseAddress) -> None:
        self.without(ch.where, "addresses", lambda a: a.allocation_id == ch.allocation_id)

    def delete_group(self, ch: c.DeleteSecurityGroup) -> None:
        self.without(ch.where, "security_groups", lambda g: g.id == ch.group_id)

    def delete_table(self, ch: c.DeleteRouteTable) -> None:
        self.without(ch.where, "route_tables", lambda t: t.id == ch.table_id)

    def delete_subnet(self, ch: c.DeleteSubnet) -> None:
        self.without(ch.where, "subnets", lambda s: s.id == ch.subnet_id)

    def delete_igw(self, ch: c.DeleteInternetGateway) -> None:
        self.without(ch.where, "internet_gateways", lambda g: g.id == ch.gateway_id)

    def delete_vpc(self, ch: c.DeleteVpc) -> None:
        """With AWS's own main table and default group, which go with it."""
        for field_name in ("vpcs", "route_tables", "security_groups"):
            self.without(
                ch.where, field_name, lambda o: ch.vpc_id in (o.id, getattr(o, "vpc_id", None))
            )

    def delete_journal(self, ch: c.DeleteRotationJournal) -> None:
        self.live = replace(self.live, rotation=None)

    def delete_zone(self, ch: c.DeleteHostedZone) -> None:
        self.live = replace(self.live, zone=lv.Zone(self.live.zone.name, None))

    def delete_store(self, ch: c.DeleteArtifactStore) -> None:
        stores = {
            k: v for k, v in self.live.stores.items() if k != (ch.where.account, ch.where.region)
        }
        self.live = replace(self.live, stores=stores)

    def delete_hook_function(self, ch: hooks.DeleteHookFunction) -> None:
        self.set_hook(ch.where, function=None)

    def delete_hook_rule(self, ch: hooks.DeleteHookRule) -> None:
        rules = {k: v for k, v in self.hook(ch.where).rules.items() if k != ch.rule}
        self.set_hook(ch.where, rules=rules)

    def delete_alarm(self, ch: hooks.DeleteProbeAlarm) -> None:
        alarms = {k: v for k, v in self.hook(ch.where).alarms.items() if k != ch.alarm}
        self.set_hook(ch.where, alarms=alarms)


RULES: dict[type[c.Change], Callable[[World, Any], None]] = {
    c.CreateVpc: World.create_vpc,
    c.CreateHostedZone: World.create_zone,
    c.CreateRole: World.create_role,
    c.PutKeys: World.put_keys,
    c.PutArtifactStore: World.put_store,
    c.AllocateAddress: World.allocate_address,
    c.CreateInternetGateway: World.create_igw,
    c.AttachInternetGateway: World.attach_igw,
    c.CreateSubnet: World.create_subnet,
    c.CreateSecurityGroup: World.create_group,
    c.CreateRouteTable: World.create_table,
    c.CreateInstanceProfile: World.create_profile,
    c.PutRolePolicy: World.put_policy,
    c.PutArtifact: World.put_artifact,
    c.PutPointer: World.put_pointer,
    c.AssociateRouteTable: World.associate_table,
    c.RouteToInternet: World.route_to_internet,
    c.AuthorizeIngress: World.authorize,
    c.RevokeIngress: World.revoke,
    c.CreateLaunchTemplate: World.create_template,
    c.UpdateLaunchTemplate: World.update_template,
    c.CreateAutoScalingGroup: World.create_scaling_group,
    c.RouteToGateway: World.route_to_gateway,
    c.UpsertRecord: World.upsert_record,
    hooks.PutHookRole: World.put_hook_role,
    hooks.PutHookFunction: World.put_hook_function,
    hooks.PutHookRule: World.put_hook_rule,
    hooks.PutProbeAlarm: World.put_alarm,
    hooks.PutLifecycleHook: World.put_lifecycle_hook,
    c.DeleteRecord: World.delete_record,
    c.DeleteAutoScalingGroup: World.delete_scaling_group,
    c.DeleteRoute: World.delete_route,
    c.DeleteLaunchTemplate: World.delete_template,
    c.DeleteRole: World.delete_role,
    c.DeleteParameters: World.delete_parameters,
    c.DeleteArtifacts: World.delete_artifacts,
    c.ReleaseAddress: World.release_address,
    c.DeleteSecurityGroup: World.delete_group,
    c.DeleteRouteTable: World.delete_table,
    c.DeleteSubnet: World.delete_subnet,
    c.DeleteInternetGateway: World.delete_igw,
    c.DeleteVpc: World.delete_vpc,
    c.DeleteRotationJournal: World.delete_journal,
    c.DeleteHostedZone: World.delete_zone,
    c.DeleteArtifactStore: World.delete_store,
    hooks.DeleteHookFunction: World.delete_hook_function,
    hooks.DeleteHookRule: World.delete_hook_rule,
    hooks.DeleteProbeAlarm: World.delete_alarm,
}


def built(intent: Intent, live: lv.Live, changes: Iterable[c.Change]) -> lv.Live:
    """``live`` after ``changes``, in their order (the change set's: stage by stage)."""
    world = World(intent, live, Registry.seeded(live))
    for change in changes:
        assert type(change) in RULES, f"the world has no rule for {type(change).__name__}"
        RULES[type(change)](world, change)
    return world.live


def objects(live: lv.Live) -> Iterable[tuple[lv.RegionKey, str, Any]]:
    """Every object of every region, with the name of the ``Region`` field holding it."""
    for key, region in live.regions.items():
        for f in dataclasses.fields(region):
            value = getattr(region, f.name)
            if isinstance(value, tuple):
                for item in value:
                    yield key, f.name, item
