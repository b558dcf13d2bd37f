"""AWS in memory, under the real door: a ``Wire`` answering from dicts of resources.

httpx's ``MockTransport`` is the model: the door (``vpnctl.aws.door``) runs unchanged over it,
so its retries, pages, "done already" codes and tags are exercised as they are against AWS,
and the executors (apply's handlers, the hook's actor, the lock and the lease) get unit tests
that run in milliseconds. ``FakeWire`` answers each request as AWS does, in AWS's shapes, with
AWS's error codes where vpnctl relies on one (a duplicate rule, a route that exists, a delete
of something gone, a condition that fails); ``tests/functional/test_fake_contract.py`` runs the
same door calls on it and on a moto server and compares. An operation it does not know is a
``NotImplementedError``, never a silent success. Every request is counted in its ``CallLog``,
as ``Sessions`` counts real ones. It lives in the tree (not under tests/) so that benchmarks
and the property tests of sweep can build worlds with it too; nothing in vpnctl imports it.

An Auto Scaling group launches its one instance at once (running, with the group's tags
that propagate), so a gateway's instance is there when apply looks for it.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vpnctl.aws.door.wire import Refusal, Reply, Request
from vpnctl.aws.session import Call, CallLog
from vpnctl.partitions import PARTITIONS

Item = dict[str, Any]
ENDPOINT = {"cloudwatch": "monitoring"}  # the CallLog names services by endpoint prefix


def camel(operation: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in operation.split("_"))


def tags_of(item: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


def _tag_specs(params: Mapping[str, Any]) -> list[dict[str, str]]:
    return [t for spec in params.get("TagSpecifications", []) for t in spec.get("Tags", [])]


def _merge_tags(item: Item, tags: list[dict[str, Any]]) -> None:
    merged = tags_of(item) | {t["Key"]: t["Value"] for t in tags}
    item["Tags"] = [{"Key": k, "Value": v} for k, v in merged.items()]


def _field(item: Mapping[str, Any], name: str) -> list[str]:
    """The values of ``item`` a describe filter of that name looks at."""
    if name.startswith("tag:"):
        found = tags_of(item).get(name[4:])
        return [] if found is None else [found]
    if name == "instance-state-name":
        return [item["State"]["Name"]]
    if name == "attachment.vpc-id":
        return [a["VpcId"] for a in item.get("Attachments", [])]
    keys = {"vpc-id": "VpcId", "name": "Name", "Name": "Name", "subnet-id": "SubnetId"}
    if name not in keys:
        raise NotImplementedError(f"fake AWS: filter {name}")
    value = item.get(keys[name])
    return [] if value is None else [str(value)]


def matches(item: Mapping[str, Any], filters: list[Mapping[str, Any]]) -> bool:
    for f in filters:
        name = f.get("Name") or f.get("Key", "")
        have = _field(item, name)
        if not any(fnmatch.fnmatchcase(h, v) for h in have for v in f["Values"]):
            return False
    return True


@dataclass
class FakeWire:
    """One world of accounts and regions. ``account_ids`` maps topology account names to the
    twelve-digit ids STS answers; ``partitions`` names each account's partition (else aws).
    ``refuse`` makes an operation fail once with the code given, before it does anything."""

    account_ids: Mapping[str, str] = field(default_factory=dict)
    partitions: Mapping[str, str] = field(default_factory=dict)
    log: CallLog = field(default_factory=CallLog)
    refuse: dict[str, str] = field(default_factory=dict)
    state: dict[str, dict[tuple[str, ...], Item]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # ------------------------------------------------------------------ the wire

    def send(self, request: Request) -> Reply:
        service = ENDPOINT.get(request.service, request.service)
        call = Call(request.account, request.region, service, camel(request.operation))
        self.log.record(call)
        code = self.refuse.pop(request.operation, None)
        if code is not None:
            raise Refusal(code, f"{call.operation} refused (injected)")
        handler = getattr(self, f"{request.service}_{request.operation}", None)
        if handler is None:
            raise NotImplementedError(f"fake AWS: {request.service} {request.operation}")
        with self._lock:
            answer: Reply = handler(request, **request.params)
        return answer

    def items(self, request: Request, key: str) -> list[dict[str, Any]]:
        return list(self.send(request).get(key, []))

    def global_region(self, account: str) -> str:
        return PARTITIONS[self.partitions.get(account, "aws")].global_region

    # ------------------------------------------------------------------ the world

    def kind(self, name: str) -> dict[tuple[str, ...], Item]:
        return self.state.setdefault(name, {})

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):017x}"

    def here(self, r: Request, kind: str) -> list[Item]:
        return [v for k, v in self.kind(kind).items() if k[:2] == (r.account, r.region)]

    def get(self, r: Request, kind: str, key: str, missing: str) -> Item:
        found = self.kind(kind).get((r.account, r.region, key))
        if found is None:
            raise Refusal(missing, f"{kind} {key} does not exist")
        return found

    def put(self, r: Request, kind: str, key: str, item: Item) -> Item:
        self.kind(kind)[(r.account, r.region, key)] = item
        return item

    def drop(self, r: Request, kind: str, key: str, missing: str) -> Reply:
        self.get(r, kind, key, missing)
        del self.kind(kind)[(r.account, r.region, key)]
        return {}

    def account_id(self, account: str) -> str:
        return self.account_ids.get(account, "123456789012")

    # ------------------------------------------------------------------ EC2: networks

    def ec2_create_vpc(self, r: Request, CidrBlock: str, **kw: Any) -> Reply:
        vpc: Item = {"VpcId": self.new_id("vpc"), "CidrBlock": CidrBlock, "Tags": _tag_specs(kw)}
        return {"Vpc": self.put(r, "vpc", vpc["VpcId"], vpc)}

    def ec2_describe_vpcs(self, r: Request, Filters: Any = (), **_: Any) -> Reply:
        return {"Vpcs": [v for v in self.here(r, "vpc") if matches(v, list(Filters))]}

    def ec2_delete_vpc(self, r: Request, VpcId: str) -> Reply:
        return self.drop(r, "vpc", VpcId, "InvalidVpcID.NotFound")

    def ec2_create_internet_gateway(self, r: Request, **kw: Any) -> Reply:
        igw: Item = {
            "InternetGatewayId": self.new_id("igw"),
            "Attachments": [],
            "Tags": _tag_specs(kw),
        }
        return {"InternetGateway": self.put(r, "igw", igw["InternetGatewayId"], igw)}

    def ec2_attach_internet_gateway(self, r: Request, InternetGatewayId: str, VpcId: str) -> Reply:
        igw = self.get(r, "igw", InternetGatewayId, "InvalidInternetGatewayID.NotFound")
        self.get(r, "vpc", VpcId, "InvalidVpcID.NotFound")
        if igw["Attachments"]:
            raise Refusal("Resource.AlreadyAssociated", f"{InternetGatewayId} is attached")
        igw["Attachments"] = [{"VpcId": VpcId, "State": "available"}]
        return {}

    def ec2_detach_internet_gateway(self, r: Request, InternetGatewayId: str, VpcId: str) -> Reply:
        igw = self.get(r, "igw", InternetGatewayId, "InvalidInternetGatewayID.NotFound")
        if not any(a["VpcId"] == VpcId for a in igw["Attachments"]):
            raise Refusal("Gateway.NotAttached", f"{InternetGatewayId} is not attached")
        igw["Attachments"] = []
        return {}

    def ec2_delete_internet_gateway(self, r: Request, InternetGatewayId: str) -> Reply:
        return self.drop(r, "igw", InternetGatewayId, "InvalidInternetGatewayID.NotFound")

    def ec2_describe_internet_gateways(self, r: Request, Filters: Any = (), **_: Any) -> Reply:
        found = [g for g in self.here(r, "igw") if matches(g, list(Filters))]
        return {"InternetGateways": found}

    def ec2_create_subnet(self, r: Request, VpcId: str, CidrBlock: str, **kw: Any) -> Reply:
        self.get(r, "vpc", VpcId, "InvalidVpcID.NotFound")
        subnet: Item = {
            "SubnetId": self.new_id("subnet"),
            "VpcId": VpcId,
            "CidrBlock": CidrBlock,
            "AvailabilityZone": kw.get("AvailabilityZone", f"{r.region}a"),
            "Tags": _tag_specs(kw),
        }
        return {"Subnet": self.put(r, "subnet", subnet["SubnetId"], subnet)}

    def ec2_describe_subnets(self, r: Request, Filters: Any = (), **_: Any) -> Reply:
        return {"Subnets": [s for s in self.here(r, "subnet") if matches(s, list(Filters))]}

    def ec2_delete_subnet(self, r: Request, SubnetId: str) -> Reply:
        return self.drop(r, "subnet", SubnetId, "InvalidSubnetID.NotFound")

    # ------------------------------------------------------------------ EC2: routes

    def ec2_create_route_table(self, r: Request, VpcId: str, **kw: Any) -> Reply:
        vpc = self.get(r, "vpc", VpcId, "InvalidVpcID.NotFound")
        same = [t for t in self.here(r, "table") if kw.get("ClientToken") == t.get("_token")]
        if same:  # an idempotency token seen before: the same table again
            return {"RouteTable": same[0]}
        table: Item = {
            "RouteTableId": self.new_id("rtb"),
            "VpcId": VpcId,
            "Routes": [{"DestinationCidrBlock": vpc["CidrBlock"], "GatewayId": "local"}],
            "Associations": [],
            "Tags": _tag_specs(kw),
            "_token": kw.get("ClientToken"),
        }
        return {"RouteTable": self.put(r, "table", table["RouteTableId"], table)}

    def ec2_describe_route_tables(
        self, r: Request, Filters: Any = (), RouteTableIds: Any = (), **_: Any
    ) -> Reply:
        found = [t for t in self.here(r, "table") if matches(t, list(Filters))]
        if RouteTableIds:
            found = [t for t in found if t["RouteTableId"] in RouteTableIds]
        return {"RouteTables": found}

    def ec2_delete_route_table(self, r: Request, RouteTableId: str) -> Reply:
        return self.drop(r, "table", RouteTableId, "InvalidRouteTableID.NotFound")

    def _association(self, r: Request, association: str) -> tuple[Item, Item]:
        for table in self.here(r, "table"):
            for a in table["Associations"]:
                if a["RouteTableAssociationId"] == association:
                    return table, a
        raise Refusal("InvalidAssociationID.NotFound", f"{association} does not exist")

    def ec2_associate_route_table(self, r: Request, RouteTableId: str, SubnetId: str) -> Reply:
        table = self.get(r, "table", RouteTableId, "InvalidRouteTableID.NotFound")
        self.get(r, "subnet", SubnetId, "InvalidSubnetID.NotFound")
        if any(a.get("SubnetId") == SubnetId for t in self.here(r, "table") for a in t["Associations"]):  # fmt: skip
            raise Refusal("Resource.AlreadyAssociated", f"{SubnetId} has a route table")
        made = {"RouteTableAssociationId": self.new_id("rtbassoc"), "SubnetId": SubnetId}
        table["Associations"].append(made)
        return {"AssociationId": made["RouteTableAssociationId"]}

    def ec2_replace_route_table_association(
        self, r: Request, AssociationId: str, RouteTableId: str
    ) -> Reply:
        table = self.get(r, "table", RouteTableId, "InvalidRouteTableID.NotFound")
        old, association = self._association(r, AssociationId)
        old["Associations"].remove(association)
        table["Associations"].append(association)
        return {"NewAssociationId": AssociationId}

    def ec2_disassociate_route_table(self, r: Request, AssociationId: str) -> Reply:
        table, association = self._association(r, AssociationId)
        table["Associations"].remove(association)
        return {}

    def _route(self, table: Item, destination: str) -> Item | None:
        return next(
            (x for x in table["Routes"] if x.get("DestinationCidrBlock") == destination), None
        )

    def ec2_create_route(
        self, r: Request, RouteTableId: str, DestinationCidrBlock: str, **target: str
    ) -> Reply:
        table = self.get(r, "table", RouteTableId, "InvalidRouteTableID.NotFound")
        if self._route(table, DestinationCidrBlock) is not None:
            raise Refusal("RouteAlreadyExists", f"{DestinationCidrBlock} exists")
        table["Routes"].append({"DestinationCidrBlock": DestinationCidrBlock, **target})
        return {"Return": True}

    def ec2_replace_route(
        self, r: Request, RouteTableId: str, DestinationCidrBlock: str, **target: str
    ) -> Reply:
        table = self.get(r, "table", RouteTableId, "InvalidRouteTableID.NotFound")
        route = self._route(table, DestinationCidrBlock)
        if route is None:
            raise Refusal(
                "InvalidParameterValue",
                f"There is no route defined for '{DestinationCidrBlock}' in the route table. "
                "Use CreateRoute instead.",
            )
        route.clear()
        route.update({"DestinationCidrBlock": DestinationCidrBlock, **target})
        return {}

    def ec2_delete_route(self, r: Request, RouteTableId: str, DestinationCidrBlock: str) -> Reply:
        table = self.get(r, "table", RouteTableId, "InvalidRouteTableID.NotFound")
        route = self._route(table, DestinationCidrBlock)
        if route is None:
            raise Refusal("InvalidRoute.NotFound", f"no route to {DestinationCidrBlock}")
        table["Routes"].remove(route)
        return {}

    # ------------------------------------------------------------------ EC2: groups

    def ec2_create_security_group(
        self, r: Request, GroupName: str, Description: str, VpcId: str, **kw: Any
    ) -> Reply:
        self.get(r, "vpc", VpcId, "InvalidVpcID.NotFound")
        if any(g["GroupName"] == GroupName and g["VpcId"] == VpcId for g in self.here(r, "sg")):
            raise Refusal("InvalidGroup.Duplicate", f"{GroupName} exists")
        group: Item = {
            "GroupId": self.new_id("sg"),
            "GroupName": GroupName,
            "Description": Description,
            "VpcId": VpcId,
            "IpPermissions": [],
            "Tags": _tag_specs(kw),
        }
        self.put(r, "sg", group["GroupId"], group)
        return {"GroupId": group["GroupId"]}

    def ec2_describe_security_groups(self, r: Request, Filters: Any = (), **_: Any) -> Reply:
        return {"SecurityGroups": [g for g in self.here(r, "sg") if matches(g, list(Filters))]}

    def ec2_delete_security_group(self, r: Request, GroupId: str) -> Reply:
        return self.drop(r, "sg", GroupId, "InvalidGroup.NotFound")

    @staticmethod
    def _rules(permissions: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1), x["CidrIp"])
            for p in permissions
            for x in p.get("IpRanges", [])
        ]

    def ec2_authorize_security_group_ingress(
        self, r: Request, GroupId: str, IpPermissions: list[Item]
    ) -> Reply:
        group = self.get(r, "sg", GroupId, "InvalidGroup.NotFound")
        have = set(self._rules(group["IpPermissions"]))
        if have & set(self._rules(IpPermissions)):  # one there already: none is added
            raise Refusal("InvalidPermission.Duplicate", "the rule already exists")
        group["IpPermissions"] += IpPermissions
        return {"Return": True}

    def ec2_revoke_security_group_ingress(
        self, r: Request, GroupId: str, IpPermissions: list[Item]
    ) -> Reply:
        group = self.get(r, "sg", GroupId, "InvalidGroup.NotFound")
        gone = set(self._rules(IpPermissions))
        if not gone <= set(self._rules(group["IpPermissions"])):
            raise Refusal("InvalidPermission.NotFound", "the rule does not exist")
        kept = [p for p in group["IpPermissions"] if not set(self._rules([p])) & gone]
        group["IpPermissions"] = kept
        return {"Return": True}

    # ------------------------------------------------------------------ EC2: templates

    def ec2_create_launch_template(self, r: Request, LaunchTemplateName: str, **kw: Any) -> Reply:
        if any(t["LaunchTemplateName"] == LaunchTemplateName for t in self.here(r, "lt")):
            raise Refusal(
                "InvalidLaunchTemplateName.AlreadyExistsException", f"{LaunchTemplateName} exists"
            )
        template: Item = {
            "LaunchTemplateId": self.new_id("lt"),
            "LaunchTemplateName": LaunchTemplateName,
            "DefaultVersionNumber": 1,
            "LatestVersionNumber": 1,
            "Tags": _tag_specs(kw),
            "_versions": [kw.get("LaunchTemplateData", {})],
        }
        return {"LaunchTemplate": self.put(r, "lt", template["LaunchTemplateId"], template)}

    def ec2_create_launch_template_version(
        self, r: Request, LaunchTemplateId: str, LaunchTemplateData: Item, **_: Any
    ) -> Reply:
        template = self.get(r, "lt", LaunchTemplateId, "InvalidLaunchTemplateId.NotFound")
        template["_versions"].append(LaunchTemplateData)
        template["LatestVersionNumber"] = len(template["_versions"])
        return {"LaunchTemplateVersion": {"VersionNumber": template["LatestVersionNumber"]}}

    def ec2_modify_launch_template(
        self, r: Request, LaunchTemplateId: str, DefaultVersion: str
    ) -> Reply:
        template = self.get(r, "lt", LaunchTemplateId, "InvalidLaunchTemplateId.NotFound")
        template["DefaultVersionNumber"] = int(DefaultVersion)
        return {"LaunchTemplate": template}

    def ec2_describe_launch_templates(self, r: Request, Filters: Any = (), **_: Any) -> Reply:
        found = [t for t in self.here(r, "lt") if matches(t, list(Filters))]
        return {"LaunchTemplates": found}

    def ec2_delete_launch_template(self, r: Request, LaunchTemplateId: str) -> Reply:
        return self.drop(r, "lt", LaunchTemplateId, "InvalidLaunchTemplateId.NotFound")

    def ec2_create_tags(self, r: Request, Resources: list[str], Tags: list[Item]) -> Reply:
        for resource in Resources:
            kinds = ("vpc", "igw", "subnet", "table", "sg", "lt", "eip", "instance")
            found = [self.kind(k).get((r.account, r.region, resource)) for k in kinds]
            item = next((f for f in found if f is not None), None)
            if item is None:
                raise Refusal("InvalidID", f"{resource} does not exist")
            _merge_tags(item, Tags)
        return {}

    # ------------------------------------------------------------------ EC2: addresses

    def ec2_allocate_address(self, r: Request, **kw: Any) -> Reply:
        n = next(self._ids)
        address: Item = {
            "AllocationId": self.new_id("eipalloc"),
            "PublicIp": f"198.51.{n // 250 % 250}.{n % 250 + 1}",
            "Domain": "vpc",
            "Tags": _tag_specs(kw),
        }
        self.put(r, "eip", address["AllocationId"], address)
        return {k: address[k] for k in ("AllocationId", "PublicIp", "Domain")}

    def ec2_describe_addresses(self, r: Request, Filters: Any = (), **_: Any) -> Reply:
        return {"Addresses": [a for a in self.here(r, "eip") if matches(a, list(Filters))]}

    def ec2_associate_address(
        self, r: Request, AllocationId: str, InstanceId: str, AllowReassociation: bool = False
    ) -> Reply:
        address = self.get(r, "eip", AllocationId, "InvalidAllocationID.NotFound")
        self.get(r, "instance", InstanceId, "InvalidInstanceID.NotFound")
        if address.get("AssociationId") and not AllowReassociation:
            raise Refusal("Resource.AlreadyAssociated", f"{AllocationId} is associated")
        address |= {"AssociationId": self.new_id("eipassoc"), "InstanceId": InstanceId}
        return {"AssociationId": address["AssociationId"]}

    def ec2_disassociate_address(self, r: Request, AssociationId: str) -> Reply:
        for address in self.here(r, "eip"):
            if address.get("AssociationId") == AssociationId:
                address.pop("AssociationId")
                address.pop("InstanceId", None)
                return {}
        raise Refusal("InvalidAssociationID.NotFound", f"{AssociationId} does not exist")

    def ec2_release_address(self, r: Request, AllocationId: str) -> Reply:
        return self.drop(r, "eip", AllocationId, "InvalidAllocationID.NotFound")

    # ------------------------------------------------------------------ EC2: instances

    def launch(self, r: Request, subnet_id: str, tags: list[Item]) -> Item:
        """A running instance in the subnet (what an Auto Scaling group starts)."""
        instance_id = self.new_id("i")
        instance: Item = {
            "InstanceId": instance_id,
            "State": {"Name": "running"},
            "SubnetId": subnet_id,
            "SourceDestCheck": True,
            "NetworkInterfaces": [{"NetworkInterfaceId": self.new_id("eni")}],
            "Tags": tags,
        }
        return self.put(r, "instance", instance_id, instance)

    def ec2_describe_instances(self, r: Request, Filters: Any = (), **_: Any) -> Reply:
        found = [i for i in self.here(r, "instance") if matches(i, list(Filters))]
        return {"Reservations": [{"Instances": found}] if found else []}

    def ec2_modify_instance_attribute(
        self, r: Request, InstanceId: str, SourceDestCheck: Item
    ) -> Reply:
        instance = self.get(r, "instance", InstanceId, "InvalidInstanceID.NotFound")
        instance["SourceDestCheck"] = SourceDestCheck["Value"]
        return {}

    # ------------------------------------------------------------------ Auto Scaling

    def autoscaling_create_auto_scaling_group(
        self, r: Request, AutoScalingGroupName: str, Tags: Any = (), **kw: Any
    ) -> Reply:
        if (r.account, r.region, AutoScalingGroupName) in self.kind("asg"):
            raise Refusal("AlreadyExists", f"{AutoScalingGroupName} exists")
        subnet = str(kw["VPCZoneIdentifier"]).split(",")[0]
        launched = [{"Key": t["Key"], "Value": t["Value"]} for t in Tags if t["PropagateAtLaunch"]]
        instance = self.launch(r, subnet, launched)
        hooks = {h["LifecycleHookName"]: h for h in kw.get("LifecycleHookSpecificationList", [])}
        group: Item = {
            "AutoScalingGroupName": AutoScalingGroupName,
            "LaunchTemplate": kw.get("LaunchTemplate", {}),
            "VPCZoneIdentifier": kw["VPCZoneIdentifier"],
            "Instances": [{"InstanceId": instance["InstanceId"], "LifecycleState": "InService"}],
            "Tags": [{"Key": t["Key"], "Value": t["Value"]} for t in Tags],
            "_hooks": hooks,
            "_launched": launched,  # the tags its instances start with
        }
        self.put(r, "asg", AutoScalingGroupName, group)
        return {}

    def autoscaling_describe_auto_scaling_groups(
        self, r: Request, Filters: Any = (), **_: Any
    ) -> Reply:
        found = [g for g in self.here(r, "asg") if matches(g, list(Filters))]
        return {"AutoScalingGroups": found}

    def autoscaling_put_lifecycle_hook(
        self, r: Request, AutoScalingGroupName: str, **hook: Any
    ) -> Reply:
        group = self.get(r, "asg", AutoScalingGroupName, "ValidationError")
        group["_hooks"][hook["LifecycleHookName"]] = hook
        return {}

    def autoscaling_create_or_update_tags(self, r: Request, Tags: list[Item]) -> Reply:
        for tag in Tags:
            group = self.get(r, "asg", tag["ResourceId"], "ValidationError")
            _merge_tags(group, [tag])
        return {}

    def autoscaling_delete_auto_scaling_group(
        self, r: Request, AutoScalingGroupName: str, ForceDelete: bool = False
    ) -> Reply:
        group = self.get(r, "asg", AutoScalingGroupName, "ValidationError")
        for i in group["Instances"]:
            self.get(r, "instance", i["InstanceId"], "InvalidInstanceID.NotFound")["State"] = {
                "Name": "terminated"
            }
        return self.drop(r, "asg", AutoScalingGroupName, "ValidationError")

    def autoscaling_terminate_instance_in_auto_scaling_group(
        self, r: Request, InstanceId: str, ShouldDecrementDesiredCapacity: bool
    ) -> Reply:
        """The instance goes; with the capacity kept, its group launches another at once."""
        groups = [g for g in self.here(r, "asg")
                  if any(i["InstanceId"] == InstanceId for i in g["Instances"])]  # fmt: skip
        if not groups:
            raise Refusal("ValidationError", f"instance {InstanceId} is in no group")
        group = groups[0]
        old = self.get(r, "instance", InstanceId, "InvalidInstanceID.NotFound")
        old["State"] = {"Name": "terminated"}
        group["Instances"] = [i for i in group["Instances"] if i["InstanceId"] != InstanceId]
        if not ShouldDecrementDesiredCapacity:
            subnet = str(group["VPCZoneIdentifier"]).split(",")[0]
            new = self.launch(r, subnet, list(group["_launched"]))
            group["Instances"].append(
                {"InstanceId": new["InstanceId"], "LifecycleState": "InService"}
            )
        return {"Activity": {"StatusCode": "InProgress"}}

    def autoscaling_complete_lifecycle_action(
        self, r: Request, AutoScalingGroupName: str, InstanceId: str, **_: Any
    ) -> Reply:
        group = self.get(r, "asg", AutoScalingGroupName, "ValidationError")
        waiting = [
            i
            for i in group["Instances"]
            if i["InstanceId"] == InstanceId and i["LifecycleState"] == "Terminating:Wait"
        ]
        if not waiting:
            raise Refusal("ValidationError", f"no active lifecycle action for {InstanceId}")
        waiting[0]["LifecycleState"] = "Terminating:Proceed"
        return {}

    # ------------------------------------------------------------------ Route 53

    def route53_create_hosted_zone(self, r: Request, Name: str, CallerReference: str) -> Reply:
        zone_id = f"Z{next(self._ids):012d}"
        name = Name.rstrip(".") + "."
        zone = {"Id": f"/hostedzone/{zone_id}", "Name": name, "Config": {"PrivateZone": False}}
        ns = {"Name": name, "Type": "NS", "TTL": 172800,
              "ResourceRecords": [{"Value": "ns-1.awsdns-01.org."}]}  # fmt: skip
        self.kind("zone")[(r.account, zone_id)] = zone | {
            "_records": {(name, "NS"): ns},
            "Tags": [],
        }
        return {"HostedZone": zone}

    def zone(self, r: Request, zone_id: str) -> Item:
        found = self.kind("zone").get((r.account, zone_id.split("/")[-1]))
        if found is None:
            raise Refusal("NoSuchHostedZone", f"no hosted zone {zone_id}")
        return found

    def route53_change_tags_for_resource(
        self, r: Request, ResourceType: str, ResourceId: str, AddTags: list[Item]
    ) -> Reply:
        _merge_tags(self.zone(r, ResourceId), AddTags)
        return {}

    def route53_list_tags_for_resource(
        self, r: Request, ResourceType: str, ResourceId: str
    ) -> Reply:
        tags = self.zone(r, ResourceId)["Tags"]
        return {"ResourceTagSet": {"ResourceId": ResourceId, "Tags": tags}}

    def route53_list_hosted_zones_by_name(
        self, r: Request, DNSName: str = "", MaxItems: str = "100"
    ) -> Reply:
        zones = [
            {k: v for k, v in z.items() if not k.startswith("_") and k != "Tags"}
            for (account, _), z in self.kind("zone").items()
            if account == r.account
        ]
        zones.sort(key=lambda z: str(z["Name"]))
        start = DNSName.rstrip(".") + "."
        return {"HostedZones": [z for z in zones if z["Name"] >= start][: int(MaxItems)]}

    def route53_change_resource_record_sets(
        self, r: Request, HostedZoneId: str, ChangeBatch: Item
    ) -> Reply:
        records = self.zone(r, HostedZoneId)["_records"]
        after = dict(records)
        for change in ChangeBatch["Changes"]:  # all or nothing
            record = change["ResourceRecordSet"]
            key = (record["Name"].rstrip(".") + ".", record["Type"])
            if change["Action"] == "DELETE":
                if after.get(key, {}).get("ResourceRecords") != record["ResourceRecords"]:
                    raise Refusal("InvalidChangeBatch", f"{key[0]} {key[1]} not found")
                del after[key]
            else:
                after[key] = record | {"Name": key[0]}
        records.clear()
        records.update(after)
        return {"ChangeInfo": {"Id": self.new_id("change"), "Status": "INSYNC"}}

    def route53_list_resource_record_sets(self, r: Request, HostedZoneId: str, **_: Any) -> Reply:
        return {"ResourceRecordSets": list(self.zone(r, HostedZoneId)["_records"].values())}

    def route53_delete_hosted_zone(self, r: Request, Id: str) -> Reply:
        self.zone(r, Id)
        del self.kind("zone")[(r.account, Id.split("/")[-1])]
        return {}

    # ------------------------------------------------------------------ IAM and STS

    def iam_create_role(self, r: Request, RoleName: str, **kw: Any) -> Reply:
        if (r.account, RoleName) in self.kind("role"):
            raise Refusal("EntityAlreadyExists", f"role {RoleName} exists")
        arn = (
            f"arn:{self.partition(r)}:iam::{self.account_id(r.account)}:role{kw['Path']}{RoleName}"
        )
        role = {"RoleName": RoleName, "Arn": arn, "Path": kw["Path"], "Tags": kw.get("Tags", [])}
        self.kind("role")[(r.account, RoleName)] = role | {"_policies": {}}
        return {"Role": role}

    def partition(self, r: Request) -> str:
        return self.partitions.get(r.account, "aws")

    def role(self, r: Request, name: str) -> Item:
        found = self.kind("role").get((r.account, name))
        if found is None:
            raise Refusal("NoSuchEntity", f"role {name} does not exist")
        return found

    def iam_get_role(self, r: Request, RoleName: str) -> Reply:
        return {"Role": {k: v for k, v in self.role(r, RoleName).items() if k[0] != "_"}}

    def iam_put_role_policy(
        self, r: Request, RoleName: str, PolicyName: str, PolicyDocument: str
    ) -> Reply:
        self.role(r, RoleName)["_policies"][PolicyName] = PolicyDocument
        return {}

    def iam_delete_role_policy(self, r: Request, RoleName: str, PolicyName: str) -> Reply:
        policies = self.role(r, RoleName)["_policies"]
        if PolicyName not in policies:
            raise Refusal("NoSuchEntity", f"policy {PolicyName} does not exist")
        del policies[PolicyName]
        return {}

    def iam_delete_role(self, r: Request, RoleName: str) -> Reply:
        self.role(r, RoleName)
        del self.kind("role")[(r.account, RoleName)]
        return {}

    def profile(self, r: Request, name: str) -> Item:
        found = self.kind("profile").get((r.account, name))
        if found is None:
            raise Refusal("NoSuchEntity", f"instance profile {name} does not exist")
        return found

    def iam_create_instance_profile(
        self, r: Request, InstanceProfileName: str, Path: str, **_: Any
    ) -> Reply:
        if (r.account, InstanceProfileName) in self.kind("profile"):
            raise Refusal("EntityAlreadyExists", f"instance profile {InstanceProfileName} exists")
        profile = {"InstanceProfileName": InstanceProfileName, "Path": Path, "Roles": []}
        self.kind("profile")[(r.account, InstanceProfileName)] = profile
        return {"InstanceProfile": profile}

    def iam_add_role_to_instance_profile(
        self, r: Request, InstanceProfileName: str, RoleName: str
    ) -> Reply:
        profile = self.profile(r, InstanceProfileName)
        self.role(r, RoleName)
        if profile["Roles"]:  # an instance profile holds one role
            raise Refusal("LimitExceeded", f"{InstanceProfileName} holds a role already")
        profile["Roles"].append({"RoleName": RoleName})
        return {}

    def iam_remove_role_from_instance_profile(
        self, r: Request, InstanceProfileName: str, RoleName: str
    ) -> Reply:
        profile = self.profile(r, InstanceProfileName)
        if {"RoleName": RoleName} not in profile["Roles"]:
            raise Refusal("NoSuchEntity", f"{RoleName} is not in {InstanceProfileName}")
        profile["Roles"].remove({"RoleName": RoleName})
        return {}

    def iam_delete_instance_profile(self, r: Request, InstanceProfileName: str) -> Reply:
        self.profile(r, InstanceProfileName)
        del self.kind("profile")[(r.account, InstanceProfileName)]
        return {}

    def iam_get_account_authorization_details(self, r: Request, Filter: list[str]) -> Reply:
        roles = [v for (account, _), v in self.kind("role").items() if account == r.account]
        profiles = [v for (account, _), v in self.kind("profile").items() if account == r.account]
        details = [
            {
                "RoleName": role["RoleName"],
                "Arn": role["Arn"],
                "Path": role["Path"],
                "RolePolicyList": [
                    {"PolicyName": n, "PolicyDocument": d} for n, d in role["_policies"].items()
                ],
                "InstanceProfileList": [
                    p for p in profiles if {"RoleName": role["RoleName"]} in p["Roles"]
                ],
            }
            for role in roles
        ]
        return {"RoleDetailList": details}

    def sts_get_caller_identity(self, r: Request) -> Reply:
        return {"Account": self.account_id(r.account)}

    # ------------------------------------------------------------------ SSM

    def ssm_put_parameter(
        self, r: Request, Name: str, Value: str, Overwrite: bool = False, **kw: Any
    ) -> Reply:
        old = self.kind("parameter").get((r.account, r.region, Name))
        if old is not None and not Overwrite:
            raise Refusal("ParameterAlreadyExists", f"parameter {Name} exists")
        version = 1 if old is None else int(old["Version"]) + 1
        tags = kw.get("Tags", old["Tags"] if old else [])
        item = {"Name": Name, "Value": Value, "Version": version, "Tags": tags}
        item |= {"Description": kw.get("Description", "")}
        self.put(r, "parameter", Name, item)
        return {"Version": version}

    def ssm_add_tags_to_resource(
        self, r: Request, ResourceType: str, ResourceId: str, Tags: list[dict[str, str]]
    ) -> Reply:
        found = self.kind("parameter").get((r.account, r.region, ResourceId))
        if ResourceType != "Parameter" or found is None:
            raise Refusal("InvalidResourceId", f"no parameter {ResourceId}")
        kept = {t["Key"]: t["Value"] for t in found["Tags"]} | {t["Key"]: t["Value"] for t in Tags}
        found["Tags"] = [{"Key": k, "Value": v} for k, v in kept.items()]
        return {}

    def ssm_get_parameters(self, r: Request, Names: list[str], WithDecryption: bool) -> Reply:
        found = [self.kind("parameter").get((r.account, r.region, n)) for n in Names]
        return {"Parameters": [{"Name": p["Name"], "Value": p["Value"]} for p in found if p]}

    def ssm_describe_parameters(self, r: Request, ParameterFilters: Any = (), **_: Any) -> Reply:
        found = [p for p in self.here(r, "parameter") if matches(p, list(ParameterFilters))]
        return {"Parameters": [{"Name": p["Name"], "Description": p["Description"]} for p in found]}

    def ssm_delete_parameters(self, r: Request, Names: list[str]) -> Reply:
        gone = [n for n in Names if self.kind("parameter").pop((r.account, r.region, n), None)]
        return {"DeletedParameters": gone, "InvalidParameters": sorted(set(Names) - set(gone))}

    # ------------------------------------------------------------------ S3

    def bucket(self, r: Request, name: str, owner: str | None = None) -> Item:
        found = self.kind("bucket").get((name,))
        if found is None:
            raise Refusal("NoSuchBucket", f"bucket {name} does not exist")
        if owner is not None and owner != self.account_id(found["_account"]):
            raise Refusal("AccessDenied", "Access Denied")
        return found

    def s3_create_bucket(self, r: Request, Bucket: str, **_: Any) -> Reply:
        found = self.kind("bucket").get((Bucket,))
        if found is not None:
            mine = found["_account"] == r.account
            code = "BucketAlreadyOwnedByYou" if mine else "BucketAlreadyExists"
            raise Refusal(code, f"bucket {Bucket} exists")
        self.kind("bucket")[(Bucket,)] = {"_account": r.account, "_objects": {}, "TagSet": []}
        return {"Location": f"/{Bucket}"}

    def s3_put_bucket_tagging(
        self, r: Request, Bucket: str, Tagging: Item, ExpectedBucketOwner: str | None = None
    ) -> Reply:
        self.bucket(r, Bucket, ExpectedBucketOwner)["TagSet"] = Tagging["TagSet"]
        return {}

    def s3_put_public_access_block(
        self, r: Request, Bucket: str, PublicAccessBlockConfiguration: Item, **kw: Any
    ) -> Reply:
        bucket = self.bucket(r, Bucket, kw.get("ExpectedBucketOwner"))
        bucket["_block"] = PublicAccessBlockConfiguration
        return {}

    def s3_get_public_access_block(self, r: Request, Bucket: str, **kw: Any) -> Reply:
        bucket = self.bucket(r, Bucket, kw.get("ExpectedBucketOwner"))
        if "_block" not in bucket:
            raise Refusal("NoSuchPublicAccessBlockConfiguration", "no public access block")
        return {"PublicAccessBlockConfiguration": bucket["_block"]}

    def s3_put_bucket_policy(self, r: Request, Bucket: str, Policy: str, **kw: Any) -> Reply:
        self.bucket(r, Bucket, kw.get("ExpectedBucketOwner"))["_policy"] = Policy
        return {}

    def s3_get_bucket_policy(self, r: Request, Bucket: str, **kw: Any) -> Reply:
        bucket = self.bucket(r, Bucket, kw.get("ExpectedBucketOwner"))
        if "_policy" not in bucket:
            raise Refusal("NoSuchBucketPolicy", "The bucket policy does not exist")
        return {"Policy": bucket["_policy"]}

    def s3_put_object(self, r: Request, Bucket: str, Key: str, Body: bytes, **kw: Any) -> Reply:
        bucket = self.bucket(r, Bucket, kw.get("ExpectedBucketOwner"))
        bucket["_objects"][Key] = {"Body": Body, "Tagging": kw.get("Tagging", "")}
        return {}

    def s3_get_object(self, r: Request, Bucket: str, Key: str, **kw: Any) -> Reply:
        objects = self.bucket(r, Bucket, kw.get("ExpectedBucketOwner"))["_objects"]
        if Key not in objects:
            raise Refusal("NoSuchKey", f"{Key} does not exist")
        return {"Body": objects[Key]["Body"]}

    def s3_list_objects_v2(self, r: Request, Bucket: str, Prefix: str = "", **kw: Any) -> Reply:
        objects = self.bucket(r, Bucket, kw.get("ExpectedBucketOwner"))["_objects"]
        return {
            "Contents": [
                {"Key": k, "ETag": f'"{hashlib.md5(o["Body"]).hexdigest()}"'}
                for k, o in sorted(objects.items())
                if k.startswith(Prefix)
            ]
        }

    def s3_delete_objects(self, r: Request, Bucket: str, Delete: Item, **kw: Any) -> Reply:
        objects = self.bucket(r, Bucket, kw.get("ExpectedBucketOwner"))["_objects"]
        for o in Delete["Objects"]:
            objects.pop(o["Key"], None)
        return {}

    def s3_delete_bucket(self, r: Request, Bucket: str, **kw: Any) -> Reply:
        if self.bucket(r, Bucket, kw.get("ExpectedBucketOwner"))["_objects"]:
            raise Refusal("BucketNotEmpty", f"bucket {Bucket} is not empty")
        del self.kind("bucket")[(Bucket,)]
        return {}

    # ------------------------------------------------------------------ DynamoDB

    def table(self, r: Request, name: str) -> Item:
        found = self.kind("dynamodb").get((r.account, r.region, name))
        if found is None:
            raise Refusal("ResourceNotFoundException", f"table {name} not found")
        return found

    def dynamodb_describe_table(self, r: Request, TableName: str) -> Reply:
        table = self.table(r, TableName)
        return {"Table": {"TableName": TableName, "TableStatus": table["TableStatus"]}}

    def dynamodb_create_table(
        self, r: Request, TableName: str, KeySchema: list[Item], **_: Any
    ) -> Reply:
        if (r.account, r.region, TableName) in self.kind("dynamodb"):
            raise Refusal("ResourceInUseException", f"table {TableName} exists")
        table: Item = {"TableStatus": "ACTIVE", "_key": KeySchema[0]["AttributeName"], "_items": {}}
        self.put(r, "dynamodb", TableName, table)
        return {"TableDescription": {"TableName": TableName, "TableStatus": "ACTIVE"}}

    def dynamodb_put_item(self, r: Request, TableName: str, Item: Item, **kw: Any) -> Reply:
        table = self.table(r, TableName)
        key = Item[table["_key"]]["S"]
        self._check(table["_items"].get(key), kw)
        table["_items"][key] = Item
        return {}

    def dynamodb_get_item(self, r: Request, TableName: str, Key: Item, **_: Any) -> Reply:
        table = self.table(r, TableName)
        found = table["_items"].get(next(iter(Key.values()))["S"])
        return {"Item": found} if found else {}

    def dynamodb_delete_item(self, r: Request, TableName: str, Key: Item, **kw: Any) -> Reply:
        table = self.table(r, TableName)
        key = next(iter(Key.values()))["S"]
        self._check(table["_items"].get(key), kw)
        table["_items"].pop(key, None)
        return {}

    @staticmethod
    def _check(item: Item | None, kw: Mapping[str, Any]) -> None:
        """The condition expressions vpnctl writes, and no others."""
        condition = str(kw.get("ConditionExpression", ""))
        values = kw.get("ExpressionAttributeValues", {})
        holds: dict[str, Callable[[], bool]] = {
            "": lambda: True,
            "attribute_not_exists(topology)": lambda: item is None,
            "attribute_not_exists(topology) OR expires < :now": lambda: (
                item is None or float(item["expires"]["N"]) < float(values[":now"]["N"])
            ),
            "run = :run": lambda: item is not None and item["run"] == values[":run"],
        }
        if condition not in holds:
            raise NotImplementedError(f"fake AWS: condition {condition}")
        if not holds[condition]():
            raise Refusal("ConditionalCheckFailedException", "The conditional request failed")

    # ------------------------------------------------------------------ Lambda, EventBridge

    def function(self, r: Request, name: str) -> Item:
        found = self.kind("function").get((r.account, r.region, name))
        if found is None:
            raise Refusal("ResourceNotFoundException", f"Function not found: {name}")
        return found

    def lambda_create_function(self, r: Request, FunctionName: str, **kw: Any) -> Reply:
        if (r.account, r.region, FunctionName) in self.kind("function"):
            raise Refusal("ResourceConflictException", f"Function already exist: {FunctionName}")
        arn = f"arn:{self.partition(r)}:lambda:{r.region}:{self.account_id(r.account)}:function:{FunctionName}"  # fmt: skip
        settings = {k: v for k, v in kw.items() if k not in ("Code", "Tags", "Description")}
        digest = base64.b64encode(hashlib.sha256(kw["Code"]["ZipFile"]).digest()).decode()
        config = {"FunctionName": FunctionName, "FunctionArn": arn, "CodeSha256": digest}
        config |= {"Timeout": 3, "MemorySize": 128} | settings
        self.put(r, "function", FunctionName, config | {"_statements": set()})
        return config

    def lambda_get_function(self, r: Request, FunctionName: str) -> Reply:
        found = self.function(r, FunctionName)
        return {"Configuration": {k: v for k, v in found.items() if not k.startswith("_")}}

    def lambda_add_permission(
        self, r: Request, FunctionName: str, StatementId: str, **_: Any
    ) -> Reply:
        statements = self.function(r, FunctionName)["_statements"]
        if StatementId in statements:
            raise Refusal("ResourceConflictException", f"statement {StatementId} exists")
        statements.add(StatementId)
        return {}

    def lambda_update_function_code(self, r: Request, FunctionName: str, ZipFile: bytes) -> Reply:
        found = self.function(r, FunctionName)
        found["CodeSha256"] = base64.b64encode(hashlib.sha256(ZipFile).digest()).decode()
        return {k: v for k, v in found.items() if not k.startswith("_")}

    def lambda_update_function_configuration(
        self, r: Request, FunctionName: str, **kw: Any
    ) -> Reply:
        self.function(r, FunctionName).update(kw)
        return {}

    def lambda_delete_function(self, r: Request, FunctionName: str) -> Reply:
        return self.drop(r, "function", FunctionName, "ResourceNotFoundException")

    def events_put_rule(self, r: Request, Name: str, **kw: Any) -> Reply:
        rule = {"Name": Name, "_targets": {}} | {k: v for k, v in kw.items() if k != "Tags"}
        old = self.kind("rule").get((r.account, r.region, Name))
        self.put(r, "rule", Name, rule | ({"_targets": old["_targets"]} if old else {}))
        return {"RuleArn": f"arn:aws:events:{r.region}:{self.account_id(r.account)}:rule/{Name}"}

    def rule(self, r: Request, name: str) -> Item:
        found = self.kind("rule").get((r.account, r.region, name))
        if found is None:
            raise Refusal("ResourceNotFoundException", f"Rule {name} does not exist")
        return found

    def events_put_targets(self, r: Request, Rule: str, Targets: list[Item]) -> Reply:
        self.rule(r, Rule)["_targets"].update({t["Id"]: t for t in Targets})
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def events_remove_targets(self, r: Request, Rule: str, Ids: list[str]) -> Reply:
        targets = self.rule(r, Rule)["_targets"]
        for i in Ids:
            targets.pop(i, None)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def events_delete_rule(self, r: Request, Name: str) -> Reply:
        if self.rule(r, Name)["_targets"]:
            raise Refusal("ValidationException", "Rule can't be deleted since it has targets")
        return self.drop(r, "rule", Name, "ResourceNotFoundException")

    def events_list_rules(self, r: Request, NamePrefix: str = "", **_: Any) -> Reply:
        found = [x for x in self.here(r, "rule") if str(x["Name"]).startswith(NamePrefix)]
        return {"Rules": [{k: v for k, v in x.items() if k[0] != "_"} for x in found]}

    # ------------------------------------------------------------------ CloudWatch

    def cloudwatch_put_metric_alarm(self, r: Request, AlarmName: str, **kw: Any) -> Reply:
        alarm = {"AlarmName": AlarmName, "StateValue": "INSUFFICIENT_DATA"}
        self.put(r, "alarm", AlarmName, alarm | {k: v for k, v in kw.items() if k != "Tags"})
        return {}

    def cloudwatch_describe_alarms(self, r: Request, AlarmNamePrefix: str = "", **_: Any) -> Reply:
        found = [
            a for a in self.here(r, "alarm") if str(a["AlarmName"]).startswith(AlarmNamePrefix)
        ]
        return {"MetricAlarms": found}

    def cloudwatch_delete_alarms(self, r: Request, AlarmNames: list[str]) -> Reply:
        for name in AlarmNames:  # DeleteAlarms of a name that is not there: no error
            self.kind("alarm").pop((r.account, r.region, name), None)
        return {}
