"""EC2 through the door: networks, groups, templates, addresses, instances and routes.

Every create tags its object in the same call (``TagSpecifications``), so nothing vpnctl made
is ever untagged, even if the process dies right after. Creates without an idempotency token
are never retried after a lost connection (``idempotent=False``). Answers that mean "done
already" (a duplicate rule, a route that is there, a delete of something gone) count as done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vpnctl.aws.door.base import Service, Tags, tag_list

Filters = Sequence[dict[str, Any]]
# ReplaceRoute of a route that is not there: EC2 answers InvalidParameterValue, "There is no
# route defined for '10.99.0.0/16' in the route table. Use CreateRoute instead." (moto answers
# so too); the error reference's InvalidRoute.NotFound ("the specified route does not exist")
# is taken as the same, so either way the route is created.
NO_ROUTE = ("InvalidRoute.NotFound", "InvalidParameterValue")


@dataclass(frozen=True)
class Address:
    allocation_id: str
    public_ip: str


def _tagged(resource: str, tags: Tags) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": tag_list(tags)}]


@dataclass(frozen=True)
class Ec2(Service):
    NAME = "ec2"

    # ------------------------------------------------------------------ networks

    def create_vpc(self, cidr: str, tags: Tags) -> str:
        made = self.reply(
            "create_vpc", idempotent=False, CidrBlock=cidr, TagSpecifications=_tagged("vpc", tags)
        )
        return str(made["Vpc"]["VpcId"])

    def create_internet_gateway(self, tags: Tags) -> str:
        made = self.reply(
            "create_internet_gateway",
            idempotent=False,
            TagSpecifications=_tagged("internet-gateway", tags),
        )
        return str(made["InternetGateway"]["InternetGatewayId"])

    def attach_internet_gateway(self, gateway_id: str, vpc_id: str) -> None:
        self.reply("attach_internet_gateway", InternetGatewayId=gateway_id, VpcId=vpc_id)

    def create_subnet(self, vpc_id: str, cidr: str, az: str, tags: Tags) -> str:
        made = self.reply(
            "create_subnet",
            idempotent=False,
            VpcId=vpc_id,
            CidrBlock=cidr,
            AvailabilityZone=az,
            TagSpecifications=_tagged("subnet", tags),
        )
        return str(made["Subnet"]["SubnetId"])

    def create_route_table(self, vpc_id: str, token: str, tags: Tags) -> str:
        made = self.reply(
            "create_route_table",
            VpcId=vpc_id,
            ClientToken=token,
            TagSpecifications=_tagged("route-table", tags),
        )
        return str(made["RouteTable"]["RouteTableId"])

    def associate_route_table(self, table_id: str, subnet_id: str) -> None:
        self.call(
            "associate_route_table",
            ok=("Resource.AlreadyAssociated",),
            RouteTableId=table_id,
            SubnetId=subnet_id,
        )

    def replace_route_table_association(self, association_id: str, table_id: str) -> None:
        self.reply(
            "replace_route_table_association", AssociationId=association_id, RouteTableId=table_id
        )

    def put_route(self, table_id: str, destination: str, *, exists: bool, **target: str) -> None:
        """The route to ``target`` (``GatewayId=`` or ``NetworkInterfaceId=``), whether it is
        there or not: ``exists`` says which to try first, ReplaceRoute or CreateRoute."""
        args: dict[str, Any] = {"RouteTableId": table_id, "DestinationCidrBlock": destination}
        args |= target
        if not exists and self.call("create_route", ok=("RouteAlreadyExists",), **args) is not None:
            return
        replaced = self.attempt("replace_route", ok=NO_ROUTE, **args)
        if isinstance(replaced, dict):
            return
        if replaced.code != "InvalidRoute.NotFound" and "no route" not in replaced.message:
            self.fail(replaced)
        self.reply("create_route", **args)

    def delete_route(self, table_id: str, destination: str) -> None:
        self.call(
            "delete_route",
            ok=("InvalidRoute.NotFound",),
            RouteTableId=table_id,
            DestinationCidrBlock=destination,
        )

    def delete_route_table(self, table_id: str, associations: Sequence[str]) -> None:
        for association in associations:
            self.call(
                "disassociate_route_table",
                ok=("InvalidAssociationID.NotFound",),
                AssociationId=association,
            )
        self.call("delete_route_table", ok=("InvalidRouteTableID.NotFound",), RouteTableId=table_id)

    def delete_subnet(self, subnet_id: str) -> None:
        self.call("delete_subnet", ok=("InvalidSubnetID.NotFound",), SubnetId=subnet_id)

    def delete_internet_gateway(self, gateway_id: str, vpc_id: str | None) -> None:
        if vpc_id:
            self.call(
                "detach_internet_gateway",
                ok=("Gateway.NotAttached", "InvalidInternetGatewayID.NotFound"),
                InternetGatewayId=gateway_id,
                VpcId=vpc_id,
            )
        self.call(
            "delete_internet_gateway",
            ok=("InvalidInternetGatewayID.NotFound",),
            InternetGatewayId=gateway_id,
        )

    def delete_vpc(self, vpc_id: str) -> None:
        self.call("delete_vpc", ok=("InvalidVpcID.NotFound",), VpcId=vpc_id)

    # ------------------------------------------------------------------ security groups

    def create_security_group(self, name: str, description: str, vpc_id: str, tags: Tags) -> str:
        made = self.reply(
            "create_security_group",
            idempotent=False,
            GroupName=name,
            Description=description,
            VpcId=vpc_id,
            TagSpecifications=_tagged("security-group", tags),
        )
        return str(made["GroupId"])

    def authorize_ingress(self, group_id: str, rules: Sequence[dict[str, Any]]) -> None:
        """The rules in one call. A call with a rule that is there already adds none of them
        (InvalidPermission.Duplicate): then each is added on its own."""
        done = self.attempt(
            "authorize_security_group_ingress",
            ok=("InvalidPermission.Duplicate",),
            GroupId=group_id,
            IpPermissions=list(rules),
        )
        if isinstance(done, dict) or len(rules) == 1:
            return
        for rule in rules:
            self.authorize_ingress(group_id, [rule])

    def revoke_ingress(self, group_id: str, rule: dict[str, Any]) -> None:
        self.call(
            "revoke_security_group_ingress",
            ok=("InvalidPermission.NotFound",),
            GroupId=group_id,
            IpPermissions=[rule],
        )

    def delete_security_group(self, group_id: str) -> None:
        self.call("delete_security_group", ok=("InvalidGroup.NotFound",), GroupId=group_id)

    # ------------------------------------------------------------------ launch templates

    def create_launch_template(
        self, name: str, token: str, data: dict[str, Any], tags: Tags
    ) -> None:
        self.call(
            "create_launch_template",
            ok=("InvalidLaunchTemplateName.AlreadyExistsException",),
            LaunchTemplateName=name,
            ClientToken=token,
            LaunchTemplateData=data,
            TagSpecifications=_tagged("launch-template", tags),
        )

    def update_launch_template(
        self, template_id: str, token: str, data: dict[str, Any], tags: Tags
    ) -> None:
        """A new version, made the default, and the template's tags updated to say so."""
        made = self.reply(
            "create_launch_template_version",
            LaunchTemplateId=template_id,
            ClientToken=token,
            LaunchTemplateData=data,
        )
        version = str(made["LaunchTemplateVersion"]["VersionNumber"])
        self.reply("modify_launch_template", LaunchTemplateId=template_id, DefaultVersion=version)
        self.create_tags([template_id], tags)

    def delete_launch_template(self, template_id: str) -> None:
        self.call(
            "delete_launch_template",
            ok=("InvalidLaunchTemplateId.NotFound",),
            LaunchTemplateId=template_id,
        )

    def create_tags(self, resources: Sequence[str], tags: Tags) -> None:
        self.reply("create_tags", Resources=list(resources), Tags=tag_list(tags))

    # ------------------------------------------------------------------ addresses, instances

    def allocate_address(self, tags: Tags) -> Address:
        made = self.reply(
            "allocate_address",
            idempotent=False,
            Domain="vpc",
            TagSpecifications=_tagged("elastic-ip", tags),
        )
        return Address(str(made["AllocationId"]), str(made["PublicIp"]))

    def associate_address(self, allocation_id: str, instance_id: str) -> None:
        self.reply(
            "associate_address",
            AllocationId=allocation_id,
            InstanceId=instance_id,
            AllowReassociation=True,
        )

    def release_address(self, allocation_id: str, association_id: str | None) -> None:
        if association_id:
            self.call(
                "disassociate_address",
                ok=("InvalidAssociationID.NotFound",),
                AssociationId=association_id,
            )
        self.call(
            "release_address", ok=("InvalidAllocationID.NotFound",), AllocationId=allocation_id
        )

    def disable_source_dest_check(self, instance_id: str) -> None:
        self.reply(
            "modify_instance_attribute", InstanceId=instance_id, SourceDestCheck={"Value": False}
        )

    def instances(self, filters: Filters) -> list[dict[str, Any]]:
        """Every instance the filters match, out of their reservations."""
        found = self.items("describe_instances", "Reservations", Filters=list(filters))
        return [i for r in found for i in r.get("Instances", [])]

    # ------------------------------------------------------------------ reads

    def route_tables_by_id(self, table_ids: Sequence[str]) -> list[dict[str, Any]]:
        found = self.reply("describe_route_tables", RouteTableIds=list(table_ids))
        return list(found.get("RouteTables", []))

    def vpcs(self, filters: Filters) -> list[dict[str, Any]]:
        return self.items("describe_vpcs", "Vpcs", Filters=list(filters))

    def subnets(self, filters: Filters) -> list[dict[str, Any]]:
        return self.items("describe_subnets", "Subnets", Filters=list(filters))

    def internet_gateways(self, filters: Filters) -> list[dict[str, Any]]:
        return self.items("describe_internet_gateways", "InternetGateways", Filters=list(filters))

    def route_tables(self, filters: Filters) -> list[dict[str, Any]]:
        return self.items("describe_route_tables", "RouteTables", Filters=list(filters))

    def security_groups(self, filters: Filters) -> list[dict[str, Any]]:
        return self.items("describe_security_groups", "SecurityGroups", Filters=list(filters))

    def addresses(self, filters: Filters) -> list[dict[str, Any]]:
        """DescribeAddresses has no pages: one call answers every address."""
        return self.items("describe_addresses", "Addresses", Filters=list(filters))

    def launch_templates(self, filters: Filters) -> list[dict[str, Any]]:
        return self.items("describe_launch_templates", "LaunchTemplates", Filters=list(filters))

    def images(self, filters: Filters, owners: Sequence[str] = ()) -> list[dict[str, Any]]:
        by_owner: dict[str, Any] = {"Owners": list(owners)} if owners else {}
        return self.items("describe_images", "Images", Filters=list(filters), **by_owner)
