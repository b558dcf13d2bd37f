"""Which handler carries out each change class: one explicit table, read by the executor.

A new change class gets its row here (``tests/unit/aws/test_handlers.py`` fails until it has
one); ``on`` makes mypy check that the handler takes the class it is filed under.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TypeVar

from vpnctl.aws import actions, hookactions, hooks
from vpnctl.aws import changes as c
from vpnctl.aws.context import Executor, Handler

C = TypeVar("C", bound=c.Change)


def on(kind: type[C], handler: Callable[[Executor, C], None]) -> tuple[type[c.Change], Handler]:
    return kind, handler


HANDLERS: Mapping[type[c.Change], Handler] = MappingProxyType(
    dict(
        [
            on(c.CreateVpc, actions.create_vpc),
            on(c.CreateHostedZone, actions.create_zone),
            on(c.CreateRole, actions.create_role),
            on(c.UnfinishedRotation, actions.unfinished_rotation),
            on(c.PutKeys, actions.put_keys),
            on(c.AllocateAddress, actions.allocate_address),
            on(c.PutArtifactStore, actions.put_store),
            on(c.PutArtifact, actions.put_artifact),
            on(c.PutPointer, actions.put_pointer),
            on(c.CreateInternetGateway, actions.create_igw),
            on(c.AttachInternetGateway, actions.attach_igw),
            on(c.CreateSubnet, actions.create_subnet),
            on(c.CreateSecurityGroup, actions.create_group),
            on(c.CreateRouteTable, actions.create_table),
            on(c.CreateInstanceProfile, actions.create_profile),
            on(c.PutRolePolicy, actions.put_policy),
            on(c.AssociateRouteTable, actions.associate_table),
            on(c.RouteToInternet, actions.route_to_internet),
            on(c.AuthorizeIngress, actions.authorize),
            on(c.RevokeIngress, actions.revoke),
            on(c.CreateLaunchTemplate, actions.create_template),
            on(c.UpdateLaunchTemplate, actions.update_template),
            on(c.CreateAutoScalingGroup, actions.create_scaling_group),
            on(c.RouteToGateway, actions.route_to_gateway),
            on(c.UpsertRecord, actions.upsert_record),
            on(c.DeleteRecord, actions.delete_record),
            on(c.DeleteRotationJournal, actions.delete_rotation_journal),
            on(c.DeleteAutoScalingGroup, actions.delete_scaling_group),
            on(c.DeleteRoute, actions.delete_route),
            on(c.DeleteLaunchTemplate, actions.delete_template),
            on(c.DeleteRole, actions.delete_role),
            on(c.DeleteParameters, actions.delete_parameters),
            on(c.DeleteArtifacts, actions.delete_artifacts),
            on(c.DeleteArtifactStore, actions.delete_store),
            on(c.ReleaseAddress, actions.release_address),
            on(c.DeleteSecurityGroup, actions.delete_group),
            on(c.DeleteRouteTable, actions.delete_table),
            on(c.DeleteSubnet, actions.delete_subnet),
            on(c.DeleteInternetGateway, actions.delete_igw),
            on(c.DeleteVpc, actions.delete_vpc),
            on(c.DeleteHostedZone, actions.delete_zone),
            on(hooks.PutHookRole, hookactions.put_role),
            on(hooks.PutHookFunction, hookactions.put_function),
            on(hooks.PutHookRule, hookactions.put_rule),
            on(hooks.PutProbeAlarm, hookactions.put_alarm),
            on(hooks.PutLifecycleHook, hookactions.put_lifecycle_hook),
            on(hooks.DeleteHookFunction, hookactions.delete_function),
            on(hooks.DeleteHookRule, hookactions.delete_rule),
            on(hooks.DeleteProbeAlarm, hookactions.delete_alarm),
        ]
    )
)
