"""``diff(intent, live) -> ChangeSet``: what must change for AWS to match the design. Pure.

It reads the snapshot ``observe`` took and decides everything; the executor only carries the
changes out. Per VPC it walks the network in the order it must be built (VPC, internet gateway,
subnets, route tables, security groups, Elastic IPs, IAM, keys, launch template, group, routes,
DNS), after the artifact store of each account and region with gateways, and emits a change
wherever the live object is missing or differs. It finds each tagged object through its kind's
declaration in ``kinds``, the one that ``sweep`` keeps by. Removals of what vpnctl owns but the
design no longer has come from ``sweep`` (a separate pass), appended at the end.

What a gateway's instance does to itself is not apply's: its boot associates its Elastic IP and
turns its source/destination check off (``userdata/gateway_aws.py``), and the failover hook
does both again for any instance that lacks them, on launch and at every scheduled reconcile
(``vpnctl.failover.assess``). Apply waits for an instance only where a route needs its
interface.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from vpnctl.aws import changes as c
from vpnctl.aws import hooks, keyversions, kinds, names, store
from vpnctl.aws import live as lv
from vpnctl.aws.intent import (
    Intent,
    trust_policy,
)
from vpnctl.aws.policy import gateway_policy
from vpnctl.aws.rules import gateway_permits, routing_permits, unresolved
from vpnctl.aws.sweep import sweep
from vpnctl.design import Gateway, RouteTable, Tunnel, VpcDesign
from vpnctl.errors import AwsError
from vpnctl.partitions import PARTITIONS

INTERNET = "0.0.0.0/0"
Obj = TypeVar("Obj", bound=kinds.Tagged)


def diff(intent: Intent, live: lv.Live) -> c.ChangeSet:
    found = list(_Differ(intent, live).changes()) + list(hooks.changes(intent, live))
    found.sort(key=lambda change: change.stage)  # stable: each stage keeps the walk's order
    found += sweep(intent, live)
    return c.ChangeSet(intent.topology, tuple(found), live.fingerprint())


@dataclass(frozen=True)
class _Differ:
    intent: Intent
    live: lv.Live

    def changes(self) -> Iterator[c.Change]:
        design = self.intent.design
        yield from self.rotation()
        yield from self.zone()
        for account, region in sorted({(g.account, g.region) for g in design.gateways}):
            yield from self.store(account, region)
        for vpc in design.vpcs.values():
            yield from self.vpc(vpc)
        for gateway in design.gateways:
            yield from self.gateway(gateway)
        for tunnel in design.tunnels:
            yield from self.keys(tunnel.name)
        for table in design.route_tables:
            yield from self.routing_table(table)
        for gateway in design.gateways:
            yield from self.record(gateway)

    # ------------------------------------------------------------------ lookups

    def region(self, vpc: VpcDesign | Gateway) -> lv.Region:
        return self.live.region(vpc.account, vpc.region)

    @cached_property
    def wanted(self) -> dict[str, frozenset[kinds.Want]]:
        return {k.noun: frozenset(k.wanted(self.intent.design)) for k in kinds.KINDS}

    def find(self, kind: kinds.Kind[Obj], owner: VpcDesign | Gateway, name: str) -> Obj | None:
        """The live object of ``kind`` named ``name`` where ``owner`` is. Diff looks up (and
        so makes) only what the kind declares wanted, which is what sweep keeps."""
        want = kinds.Want(owner.account, owner.region, name)
        if want not in self.wanted[kind.noun]:
            raise AssertionError(f"{kind.noun} {name} is not in kinds: sweep would remove it")
        return kind.find(self.live, want)

    def vpc_of(self, vpc: VpcDesign) -> lv.Vpc | None:
        region = self.region(vpc)
        if vpc.vpc_id is None:
            return self.find(kinds.VPC, vpc, vpc.name)
        adopted = next((v for v in region.vpcs if v.id == vpc.vpc_id), None)
        if adopted is None:
            raise AwsError(
                vpc.account,
                vpc.region,
                f"vpc {vpc.name} ({vpc.vpc_id})",
                "the adopted vpc_id does not exist in this account and region "
                f"(fix vpcs.{vpc.name}.vpc_id, or drop it to let vpnctl create the VPC)",
            )
        return adopted

    def vpc_ref(self, vpc: VpcDesign) -> c.Ref:
        found = self.vpc_of(vpc)
        return c.Ref("vpc", vpc.account, vpc.region, vpc.name, found.id if found else None)

    def ref(self, kind: str, owner: VpcDesign | Gateway, name: str, id_: str | None) -> c.Ref:
        return c.Ref(kind, owner.account, owner.region, name, id_)

    def where(self, vpc: VpcDesign | Gateway) -> c.Where:
        name = vpc.name if isinstance(vpc, VpcDesign) else vpc.vpc
        return c.Where(vpc.account, vpc.region, name)

    @cached_property
    def gateway_enis(self) -> dict[str, str]:
        """ENI id -> gateway name, for every live gateway instance."""
        return {
            i.eni_id: i.name
            for r in self.live.regions.values()
            for i in r.instances
            if i.eni_id and i.name and i.state in names.LIVE_STATES
        }

    def instance(self, gateway: Gateway) -> lv.Instance | None:
        return next(
            (
                i
                for i in self.region(gateway).instances
                if i.name == gateway.name and i.state in names.LIVE_STATES
            ),
            None,
        )

    def address(self, gateway: Gateway) -> lv.Address | None:
        return self.find(kinds.ADDRESS, gateway, gateway.name)

    def address_ip(self, gateway: Gateway) -> c.Ref:
        found = self.address(gateway)
        ip = found.public_ip if found else None
        return self.ref("eip-ip", gateway, gateway.name, ip)

    # ------------------------------------------------------------------ the zone

    def zone(self) -> Iterator[c.Change]:
        if self.live.zone.id is None:
            design = self.intent.design
            yield c.CreateHostedZone(self.zone_where(), design.zone)

    def zone_where(self) -> c.Where:
        account = self.intent.dns_account
        region = PARTITIONS[self.intent.partitions[account]].global_region
        return c.Where(account, region)

    # ------------------------------------------------------------------ the artifact store

    def store(self, account: str, region: str) -> Iterator[c.Change]:
        """The bucket as ``store`` says, and every object of the region's gateways in it:
        compared by key, which holds the digest, so an unchanged object costs no call."""
        found = self.live.accounts.get(account)
        account_id = found.account_id if found else ""
        bucket = store.bucket_name(account_id, region)
        have = self.live.stores.get((account, region)) or lv.StoreLive(bucket)
        here = c.Where(account, region)
        policy = store.bucket_policy(self.intent.partitions[account], bucket, account_id)
        if not have.exists or have.policy != policy or not have.public_blocked:
            yield c.PutArtifactStore(here, bucket, policy, create=not have.exists)
        names = {b.key: g for g, b in self.intent.configs.items()}
        for blob in self.intent.blobs(account, region):
            if blob.key not in have.keys:
                what = (
                    f"configuration of {names[blob.key]}"
                    if blob.key in names
                    else "vpnctl software"
                )
                yield c.PutArtifact(here, bucket, blob.key, blob.sha256, len(blob.data), what)
        yield from self.pointers(account, region, bucket, have)

    def pointers(
        self, account: str, region: str, bucket: str, have: lv.StoreLive
    ) -> Iterator[c.Change]:
        """Each gateway's pointer names its designed configuration; one that names another is
        rewritten (after the configuration it names is put: same region, later in the walk)."""
        here = c.Where(account, region)
        for gateway in self.intent.design.gateways:
            config = self.intent.configs.get(gateway.name)
            if (gateway.account, gateway.region) != (account, region) or config is None:
                continue
            blob = store.pointer(self.intent.topology, gateway.name, config)
            named = have.pointers.get(blob.key) if blob.key in have.keys else None
            if named == config.key:
                continue
            running = self.instance(gateway) is not None
            data = blob.data.decode()
            yield c.PutPointer(
                here, bucket, blob.key, gateway.name, config.sha256, data, named, running
            )

    # ------------------------------------------------------------------ per VPC

    def vpc(self, vpc: VpcDesign) -> Iterator[c.Change]:
        found = self.vpc_of(vpc)
        here = self.where(vpc)
        if found is None:
            yield c.CreateVpc(here, vpc.name, str(vpc.cidr))
        elif found.cidr != str(vpc.cidr):
            raise AwsError(
                vpc.account,
                vpc.region,
                f"vpc {vpc.name} ({found.id})",
                f"its CIDR is {found.cidr} but the design says {vpc.cidr} (pin vpcs."
                f"{vpc.name}.cidr to the live CIDR, or adopt another VPC)",
            )
        vpc_ref = self.vpc_ref(vpc)
        yield from self.internet_gateway(vpc, vpc_ref)
        yield from self.subnets(vpc, vpc_ref)
        yield from self.public_table(vpc, vpc_ref)
        yield from self.group(vpc, names.routing_group(vpc.name), vpc_ref, "routing subnets")

    def internet_gateway(self, vpc: VpcDesign, vpc_ref: c.Ref) -> Iterator[c.Change]:
        if self.igw_of(vpc, vpc_ref) is not None:
            return
        stray = next(
            (
                g
                for g in self.region(vpc).internet_gateways
                if g.owned and g.name == vpc.name and g.vpc_id is None
            ),
            None,
        )
        if stray is not None:
            yield c.AttachInternetGateway(self.where(vpc), stray.id, vpc_ref)
        else:
            yield c.CreateInternetGateway(self.where(vpc), vpc_ref)

    def igw_of(self, vpc: VpcDesign, vpc_ref: c.Ref) -> lv.InternetGateway | None:
        if vpc_ref.id is None:
            return None
        gateways = self.region(vpc).internet_gateways
        return next((g for g in gateways if g.vpc_id == vpc_ref.id), None)

    def igw_ref(self, vpc: VpcDesign) -> c.Ref:
        vpc_ref = self.vpc_ref(vpc)
        found = self.igw_of(vpc, vpc_ref)
        return self.ref("igw", vpc, vpc.name, found.id if found else None)

    def subnet_of(self, vpc: VpcDesign, name: str) -> lv.Subnet | None:
        return self.find(kinds.SUBNET, vpc, name)

    def subnet_ref(self, vpc: VpcDesign, role: str, az: str) -> c.Ref:
        name = names.subnet(vpc.name, role, az)
        found = self.subnet_of(vpc, name)
        return self.ref("subnet", vpc, name, found.id if found else None)

    def subnets(self, vpc: VpcDesign, vpc_ref: c.Ref) -> Iterator[c.Change]:
        wanted = [("routing", s) for s in vpc.routing_subnets]
        wanted += [("gateway", s) for s in vpc.gateway_subnets]
        for role, subnet in wanted:
            name = names.subnet(vpc.name, role, subnet.az)
            found = self.subnet_of(vpc, name)
            if found is None:
                yield c.CreateSubnet(self.where(vpc), name, vpc_ref, subnet.az, str(subnet.cidr))
            elif found.cidr != str(subnet.cidr):
                raise AwsError(
                    vpc.account,
                    vpc.region,
                    f"subnet {name} ({found.id})",
                    f"its CIDR is {found.cidr} but the design says {subnet.cidr} "
                    "(delete the subnet, or restore the lock file that allocated it)",
                )

    def table_of(self, vpc: VpcDesign, name: str) -> lv.RouteTable | None:
        return self.find(kinds.ROUTE_TABLE, vpc, name)

    def table_ref(self, vpc: VpcDesign, name: str) -> c.Ref:
        found = self.table_of(vpc, name)
        return self.ref("route-table", vpc, name, found.id if found else None)

    def table(self, vpc: VpcDesign, name: str, subnets: list[c.Ref]) -> Iterator[c.Change]:
        found = self.table_of(vpc, name)
        table = self.table_ref(vpc, name)
        if found is None:
            yield c.CreateRouteTable(self.where(vpc), name, self.vpc_ref(vpc))
        for subnet in subnets:
            if found is not None and subnet.id in found.associations:
                continue
            replaces = self.association_elsewhere(vpc, subnet.id)
            yield c.AssociateRouteTable(self.where(vpc), table, subnet, replaces)

    def association_elsewhere(self, vpc: VpcDesign, subnet_id: str | None) -> str | None:
        for table in self.region(vpc).route_tables:
            if subnet_id is not None and subnet_id in table.associations:
                return table.associations[subnet_id]
        return None

    def public_table(self, vpc: VpcDesign, vpc_ref: c.Ref) -> Iterator[c.Change]:
        name = names.public_table(vpc.name)
        subnets = [self.subnet_ref(vpc, "gateway", s.az) for s in vpc.gateway_subnets]
        yield from self.table(vpc, name, subnets)
        found = self.table_of(vpc, name)
        route = found.route(INTERNET) if found else None
        igw = self.igw_ref(vpc)
        if route is None or route.target != igw.id or route.blackhole:
            replaces = route.target if route else None
            yield c.RouteToInternet(
                self.where(vpc), self.table_ref(vpc, name), INTERNET, igw, replaces
            )

    # ------------------------------------------------------------------ security groups

    def group_of(self, owner: VpcDesign | Gateway, name: str) -> lv.SecurityGroup | None:
        return self.find(kinds.SECURITY_GROUP, owner, name)

    def group(self, vpc: VpcDesign, name: str, vpc_ref: c.Ref, what: str) -> Iterator[c.Change]:
        found = self.group_of(vpc, name)
        ref = self.ref("sg", vpc, name, found.id if found else None)
        if found is None:
            description = f"vpnctl {self.intent.topology}: {what}"
            yield c.CreateSecurityGroup(
                self.where(vpc), name, self.intent.aws_name(name), vpc_ref, description
            )
        wanted = (
            routing_permits(self.intent.design, vpc.name)
            if name == names.routing_group(vpc.name)
            else gateway_permits(self.intent.design, name.removeprefix("sg-"), self.address_ip)
        )
        yield from self.rules(vpc, ref, found, wanted)

    def rules(
        self,
        owner: VpcDesign,
        ref: c.Ref,
        found: lv.SecurityGroup | None,
        wanted: tuple[c.Permit, ...],
    ) -> Iterator[c.Change]:
        have = found.ingress if found else frozenset()
        resolved = {
            lv.Rule(p.protocol, p.from_port, p.to_port, p.source): p
            for p in wanted
            if isinstance(p.source, str)
        }
        missing = [p for r, p in resolved.items() if r not in have] + unresolved(wanted)
        for permit in missing:
            yield c.AuthorizeIngress(self.where(owner), ref, permit)
        for rule in sorted(have - set(resolved)):
            yield c.RevokeIngress(self.where(owner), ref, rule)

    # ------------------------------------------------------------------ per gateway

    def gateway(self, gateway: Gateway) -> Iterator[c.Change]:
        vpc = self.intent.design.vpcs[gateway.vpc]
        here = self.where(gateway)
        yield from self.group(
            vpc, names.gateway_group(gateway.name), self.vpc_ref(vpc), f"gateway {gateway.name}"
        )
        if self.address(gateway) is None:
            yield c.AllocateAddress(here, gateway.name)
        yield from self.role(gateway)
        yield from self.template(gateway, vpc)
        yield from self.scaling_group(gateway, vpc)

    def role(self, gateway: Gateway) -> Iterator[c.Change]:
        intent = self.intent
        account = self.live.accounts.get(gateway.account)
        role_name = intent.aws_name(gateway.name)
        region = PARTITIONS[gateway.partition].global_region
        here = c.Where(gateway.account, region, gateway.vpc)
        found = next((r for r in account.roles if r.name == role_name), None) if account else None
        if found is None:
            trust = trust_policy(gateway.partition)
            yield c.CreateRole(here, gateway.name, role_name, intent.iam_path, trust)
        account_id = account.account_id if account else ""
        policy = gateway_policy(intent, gateway, account_id)
        if found is None or found.policy != policy:
            yield c.PutRolePolicy(here, gateway.name, role_name, policy, found is not None)
        profiles = account.profiles if account else {}
        if role_name not in profiles or role_name not in profiles[role_name]:
            yield c.CreateInstanceProfile(here, gateway.name, role_name, intent.iam_path, role_name)

    def image(self, gateway: Gateway, vpc: VpcDesign) -> str:
        image = self.intent.images[vpc.name]
        if image.startswith("ami-"):
            return image
        resolved = self.region(gateway).image_id
        if resolved is None:
            raise AwsError(
                gateway.account,
                gateway.region,
                f"image {image}",
                f"no such image found in this region (set vpcs.{vpc.name}.image to an ami- id)",
            )
        return resolved

    def template(self, gateway: Gateway, vpc: VpcDesign) -> Iterator[c.Change]:
        image = self.image(gateway, vpc)
        group_name = names.gateway_group(gateway.name)
        found_group = self.group_of(gateway, group_name)
        data = c.LaunchTemplateData(
            image,
            self.intent.instance_type,
            self.intent.aws_name(gateway.name),
            self.ref("sg", gateway, group_name, found_group.id if found_group else None),
            self.intent.template_digest(gateway, image),
            boot_digest(self.intent, gateway, image),
        )
        name = self.intent.aws_name(gateway.name)
        found = self.find(kinds.LAUNCH_TEMPLATE, gateway, gateway.name)
        if found is None:
            yield c.CreateLaunchTemplate(self.where(gateway), gateway.name, name, data)
        elif found.digest != data.digest:
            replace = found.boot != data.boot  # unknown (no tag yet) counts as changed
            yield c.UpdateLaunchTemplate(
                self.where(gateway), gateway.name, found.id, name, data, replace
            )

    def scaling_group(self, gateway: Gateway, vpc: VpcDesign) -> Iterator[c.Change]:
        if self.find(kinds.SCALING_GROUP, gateway, gateway.name) is not None:
            return
        name = self.intent.aws_name(gateway.name)
        subnet = self.subnet_ref(vpc, "gateway", gateway.az)
        yield c.CreateAutoScalingGroup(self.where(gateway), gateway.name, name, name, subnet)

    # ------------------------------------------------------------------ keys

    def keys(self, tunnel_name: str) -> Iterator[c.Change]:
        """Each region stores its own gateways' pieces of the tunnel's keys (``vpnctl.keys``).

        Apply never overwrites a key a gateway may have loaded (``keys rotate`` does that, with
        a drain and restarts). A write that stopped halfway (an interrupted apply) is finished:
        while none of the tunnel's gateways has an instance, nothing can have read a key, so the
        tunnel gets a fresh set everywhere; once one runs, a psk tunnel's missing pieces are the
        one static key, copied from the region that has it, and anything else is refused.
        """
        tunnel = next(t for t in self.intent.design.tunnels if t.name == tunnel_name)
        gateways = [self.intent.design.gateway_by_name[e.gateway] for e in tunnel.ends()]
        places = sorted({c.Where(g.account, g.region) for g in gateways})
        wanted = {p: self.intent.parameters_at(tunnel, p.account, p.region) for p in places}
        have = {
            p: self.live.region(p.account, p.region).parameters & set(wanted[p]) for p in places
        }
        short = [p for p in places if len(have[p]) < len(wanted[p])]
        if not short:
            yield from self.key_versions(tunnel)
        elif not any(have.values()) or not any(self.instance(g) for g in gateways):
            for place in places:
                overwrite = tuple(n for n in wanted[place] if n in have[place])
                yield c.PutKeys(place, tunnel.name, wanted[place], overwrite=overwrite)
        else:
            whole = [p for p in places if p not in short]
            for place in short:
                if have[place] or tunnel.mode != "psk" or not whole:
                    raise AwsError(
                        place.account,
                        place.region,
                        f"ssm keys of tunnel {tunnel.name}",
                        "only some of this tunnel's keys exist (an interrupted write) and its "
                        "gateways run; apply never overwrites a key a gateway may have loaded: "
                        f"run `vpnctl keys rotate --link {tunnel.link}`",
                    )
                yield c.PutKeys(place, tunnel.name, wanted[place], whole[0])

    def key_versions(self, tunnel: Tunnel) -> Iterator[c.Change]:
        """Both ends' regions must hold one version of the tunnel's keys (``keyversions``)."""
        found = keyversions.of_tunnel(self.intent, self.live, tunnel)
        if found.consistent:
            return
        account, region = min(found.by_place)
        detail = f"tunnel {tunnel.name} holds different keys at its ends ({found.describe()})"
        yield c.UnfinishedRotation(c.Where(account, region), tunnel.link, detail)

    def rotation(self) -> Iterator[c.Change]:
        """A rotation's journal says it drained tables and did not put them back."""
        pending = self.live.rotation
        if pending is None:
            return
        tunnels = ", ".join(pending.tunnels) or "none yet"
        detail = f"the rotation begun {pending.since} has not restored the tables of: {tunnels}"
        yield c.UnfinishedRotation(self.zone_where(), pending.link, detail)

    # ------------------------------------------------------------------ routes and names

    def routing_table(self, table: RouteTable) -> Iterator[c.Change]:
        vpc = self.intent.design.vpcs[table.vpc]
        subnet = self.subnet_ref(vpc, "routing", table.az)
        yield from self.table(vpc, table.name, [subnet])
        found = self.table_of(vpc, table.name)
        via = self.intent.design.gateway_by_name[table.via]
        current = self.instance(via)
        eni = self.ref("gateway-eni", via, via.name, current.eni_id if current else None)
        ref = self.table_ref(vpc, table.name)
        for destination in map(str, table.destinations):
            route = found.route(destination) if found else None
            if route is None:
                yield c.RouteToGateway(self.where(vpc), ref, destination, eni)
            elif route.blackhole or self.gateway_enis.get(route.target) not in table.gateways:
                yield c.RouteToGateway(self.where(vpc), ref, destination, eni, route.target)

    def record(self, gateway: Gateway) -> Iterator[c.Change]:
        ttl = self.intent.design.ttl
        ip = self.address_ip(gateway)
        found = self.live.zone.record(gateway.fqdn)
        if found is not None and not found.alias and found.values == (ip.id,) and found.ttl == ttl:
            return
        was = None if found is None else found.values
        yield c.UpsertRecord(self.zone_where(), gateway.fqdn, ip, ttl, was)


def boot_digest(intent: Intent, gateway: Gateway, image_id: str) -> str:
    """What the launch template is made from, its configuration pin aside: the image, the
    instance type, the profile and the user-data with the configuration's digest (and so its
    key) blanked. When only the configuration changed this stays the same, and the running
    gateway takes the change in place; when it differs the gateway needs a new instance."""
    data = intent.userdata.get(gateway.name, b"")
    if data[:2] == GZIP_MAGIC:  # render gzips user-data that would not fit EC2's 16 KB
        data = gzip.decompress(data)
    config = intent.configs.get(gateway.name)
    if config is not None:
        data = data.replace(config.sha256.encode(), store.STAND_IN.encode())
    text = "\n".join([image_id, intent.instance_type, intent.aws_name(gateway.name)])
    return hashlib.sha256(text.encode() + b"\n" + data).hexdigest()[:16]


GZIP_MAGIC = b"\x1f\x8b"
