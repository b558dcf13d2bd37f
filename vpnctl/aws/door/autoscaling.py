"""EC2 Auto Scaling through the door: the gateways' groups and their lifecycle hook."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vpnctl.aws.door.base import Service


def group_tags(group: str, tags: Mapping[str, str], propagate: bool) -> list[dict[str, Any]]:
    where = {"ResourceId": group, "ResourceType": "auto-scaling-group"}
    return [
        {"Key": k, "Value": v, "PropagateAtLaunch": propagate, **where} for k, v in tags.items()
    ]


@dataclass(frozen=True)
class AutoScaling(Service):
    NAME = "autoscaling"

    def create_group(self, group: str, tags: Sequence[dict[str, Any]], **params: Any) -> None:
        """A group of that name that exists already is taken as made."""
        self.call(
            "create_auto_scaling_group",
            ok=("AlreadyExists",),
            AutoScalingGroupName=group,
            Tags=list(tags),
            **params,
        )

    def put_lifecycle_hook(
        self, group: str, hook: Mapping[str, Any], tags: Mapping[str, str]
    ) -> None:
        """The hook, then the group's tags that record it."""
        self.reply("put_lifecycle_hook", AutoScalingGroupName=group, **hook)
        self.reply("create_or_update_tags", Tags=group_tags(group, tags, False))

    def delete_group(self, group: str) -> None:
        """With its instance (ForceDelete); a group gone already is ValidationError."""
        self.call(
            "delete_auto_scaling_group",
            ok=("ValidationError",),
            AutoScalingGroupName=group,
            ForceDelete=True,
        )

    def complete_lifecycle_action(
        self, group: str, hook: str, token: str, instance_id: str
    ) -> None:
        """A second run finds no action waiting: AWS answers ValidationError, done already."""
        self.call(
            "complete_lifecycle_action",
            ok=("ValidationError",),
            LifecycleHookName=hook,
            AutoScalingGroupName=group,
            LifecycleActionToken=token,
            LifecycleActionResult="CONTINUE",
            InstanceId=instance_id,
        )

    def terminate_instance(self, instance_id: str) -> None:
        """Replace the instance: the group keeps its desired capacity and launches another
        from its launch template's current version (TerminateInstanceInAutoScalingGroup,
        ShouldDecrementDesiredCapacity false)."""
        self.reply(
            "terminate_instance_in_auto_scaling_group",
            InstanceId=instance_id,
            ShouldDecrementDesiredCapacity=False,
        )

    def groups(self, filters: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.items(
            "describe_auto_scaling_groups", "AutoScalingGroups", Filters=list(filters)
        )
