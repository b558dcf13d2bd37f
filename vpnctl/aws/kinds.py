"""One declaration per kind of tagged object vpnctl makes in a region; diff and sweep read it.

A kind says which objects the design wants (``wanted``: where, and the ``vpnctl:name`` each is
known by), where ``live`` shows them (``objects``), which change classes make, change and remove
them, and how a removal is written. ``diff`` finds each object through ``find``; ``sweep``
removes every owned object whose place and name ``wanted`` does not list. Both go through the
same two functions, so an object that diff makes is one that sweep keeps: a kind cannot be
made by one apply and removed by the next. Pure.

The objects of other shapes (routes and rules inside a table or group, keys, artifacts, roles,
records, the failover hook's objects, the zone) are claimed in ``OTHERS`` by the module that
diffs and sweeps them. ``tests/unit/aws/test_sweep_properties.py`` checks that every change
class belongs to exactly one kind, that sweep keeps all that diff makes from nothing (and a new
diff is empty), and that an owned object nothing wants gets its kind's removal and no other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from vpnctl.aws import changes as c
from vpnctl.aws import hooks
from vpnctl.aws import live as lv
from vpnctl.aws import names as nm
from vpnctl.design import Design


class Tagged(Protocol):
    @property
    def name(self) -> str | None: ...  # its vpnctl:name tag
    @property
    def owned(self) -> bool: ...  # it carries this topology's tag


@dataclass(frozen=True, order=True)
class Want:
    """One object the design wants: its account, region and ``vpnctl:name``."""

    account: str
    region: str
    name: str


Obj = TypeVar("Obj", bound=Tagged)


@dataclass(frozen=True)
class Kind(Generic[Obj]):
    noun: str
    wanted: Callable[[Design], Iterator[Want]]
    objects: Callable[[lv.Region], tuple[Obj, ...]]
    vpc_id: Callable[[Obj], str | None]  # the VPC it is in (named in its removal's ``Where``)
    removal: Callable[[c.Where, Obj], c.Change]
    creates: tuple[type[c.Change], ...]
    deletes: type[c.Change]
    updates: tuple[type[c.Change], ...] = ()

    def find(self, live: lv.Live, want: Want) -> Obj | None:
        """The live object ``want`` names: owned, in its account and region, by its name."""
        region = live.region(want.account, want.region)
        return next((o for o in self.objects(region) if o.owned and o.name == want.name), None)

    def stale(self, design: Design | None, region: lv.Region) -> Iterator[Obj]:
        """The owned objects of ``region`` that ``design`` does not want (None: every one)."""
        kept = frozenset(self.wanted(design)) if design is not None else frozenset()
        for found in self.objects(region):
            if not found.owned or found.name is None:
                continue
            if Want(region.account, region.region, found.name) not in kept:
                yield found

    @property
    def changes(self) -> tuple[type[c.Change], ...]:
        return (*self.creates, *self.updates, self.deletes)


# ------------------------------------------------------------------ what the design wants


def _vpcs(design: Design) -> Iterator[Want]:
    for vpc in design.vpcs.values():
        yield Want(vpc.account, vpc.region, vpc.name)


def _subnets(design: Design) -> Iterator[Want]:
    for vpc in design.vpcs.values():
        for role, subnets in (("routing", vpc.routing_subnets), ("gateway", vpc.gateway_subnets)):
            for subnet in subnets:
                yield Want(vpc.account, vpc.region, nm.subnet(vpc.name, role, subnet.az))


def _route_tables(design: Design) -> Iterator[Want]:
    for vpc in design.vpcs.values():
        yield Want(vpc.account, vpc.region, nm.public_table(vpc.name))
    for table in design.route_tables:
        vpc = design.vpcs[table.vpc]
        yield Want(vpc.account, vpc.region, table.name)


def _security_groups(design: Design) -> Iterator[Want]:
    for vpc in design.vpcs.values():
        yield Want(vpc.account, vpc.region, nm.routing_group(vpc.name))
    for gateway in design.gateways:
        yield Want(gateway.account, gateway.region, nm.gateway_group(gateway.name))


def _gateways(design: Design) -> Iterator[Want]:
    """Elastic IPs, launch templates and Auto Scaling groups: one each per gateway, known by
    the gateway's name."""
    for gateway in design.gateways:
        yield Want(gateway.account, gateway.region, gateway.name)


# ------------------------------------------------------------------ the kinds

VPC: Kind[lv.Vpc] = Kind(
    "vpc",
    _vpcs,
    lambda r: r.vpcs,
    lambda o: o.id,
    lambda at, o: c.DeleteVpc(at, o.name or "", o.id, o.cidr),
    (c.CreateVpc,),
    c.DeleteVpc,
)
INTERNET_GATEWAY: Kind[lv.InternetGateway] = Kind(
    "internet gateway",
    _vpcs,  # one per VPC, named as its VPC
    lambda r: r.internet_gateways,
    lambda o: o.vpc_id,
    lambda at, o: c.DeleteInternetGateway(at, o.id, o.vpc_id),
    (c.CreateInternetGateway,),
    c.DeleteInternetGateway,
    (c.AttachInternetGateway,),
)
SUBNET: Kind[lv.Subnet] = Kind(
    "subnet",
    _subnets,
    lambda r: r.subnets,
    lambda o: o.vpc_id,
    lambda at, o: c.DeleteSubnet(at, o.name or "", o.id, o.cidr),
    (c.CreateSubnet,),
    c.DeleteSubnet,
)
ROUTE_TABLE: Kind[lv.RouteTable] = Kind(
    "route table",
    _route_tables,
    lambda r: r.route_tables,
    lambda o: o.vpc_id,
    lambda at, o: c.DeleteRouteTable(at, o.name or "", o.id, tuple(o.associations.values())),
    (c.CreateRouteTable,),
    c.DeleteRouteTable,
    (c.AssociateRouteTable,),
)
SECURITY_GROUP: Kind[lv.SecurityGroup] = Kind(
    "security group",
    _security_groups,
    lambda r: r.security_groups,
    lambda o: o.vpc_id,
    lambda at, o: c.DeleteSecurityGroup(at, o.name or "", o.id),
    (c.CreateSecurityGroup,),
    c.DeleteSecurityGroup,
    (c.AuthorizeIngress, c.RevokeIngress),
)
ADDRESS: Kind[lv.Address] = Kind(
    "elastic ip",
    _gateways,
    lambda r: r.addresses,
    lambda o: None,
    lambda at, o: c.ReleaseAddress(
        at, o.name or "", o.allocation_id, o.public_ip, o.association_id
    ),
    (c.AllocateAddress,),
    c.ReleaseAddress,
)
LAUNCH_TEMPLATE: Kind[lv.LaunchTemplate] = Kind(
    "launch template",
    _gateways,
    lambda r: r.launch_templates,
    lambda o: None,
    lambda at, o: c.DeleteLaunchTemplate(at, o.name or "", o.id, o.template_name),
    (c.CreateLaunchTemplate,),
    c.DeleteLaunchTemplate,
    (c.UpdateLaunchTemplate,),
)
SCALING_GROUP: Kind[lv.Group] = Kind(
    "auto scaling group",
    _gateways,
    lambda r: r.groups,
    lambda o: None,
    lambda at, o: c.DeleteAutoScalingGroup(at, o.name or "", o.group_name),
    (c.CreateAutoScalingGroup,),
    c.DeleteAutoScalingGroup,
)

# In the order sweep lists a region's removals (stages then sort them, stably).
KINDS: tuple[Kind[Any], ...] = (
    SCALING_GROUP,
    LAUNCH_TEMPLATE,
    ADDRESS,
    ROUTE_TABLE,
    SECURITY_GROUP,
    SUBNET,
    INTERNET_GATEWAY,
    VPC,
)

# Change classes of objects that are not one tagged object per name in a region, by the
# module whose diff and sweep handle them.
OTHERS: dict[str, tuple[type[c.Change], ...]] = {
    "refusal (diff)": (c.UnfinishedRotation,),
    "routes (diff, sweep)": (c.RouteToInternet, c.RouteToGateway, c.DeleteRoute),
    "keys (diff, sweep)": (c.PutKeys, c.DeleteParameters),
    "iam (diff, sweep)": (
        c.CreateRole,
        c.PutRolePolicy,
        c.CreateInstanceProfile,
        c.DeleteRole,
    ),
    "artifacts (diff, sweep)": (
        c.PutArtifactStore,
        c.PutArtifact,
        c.PutPointer,
        c.DeleteArtifacts,
        c.DeleteArtifactStore,
    ),
    "names (diff, sweep)": (c.CreateHostedZone, c.UpsertRecord, c.DeleteRecord, c.DeleteHostedZone),
    "rotation journal (sweep)": (c.DeleteRotationJournal,),
    "failover hook (hooks)": (
        hooks.PutHookRole,
        hooks.PutHookFunction,
        hooks.PutHookRule,
        hooks.PutProbeAlarm,
        hooks.PutLifecycleHook,
        hooks.DeleteHookFunction,
        hooks.DeleteHookRule,
        hooks.DeleteProbeAlarm,
    ),
}
