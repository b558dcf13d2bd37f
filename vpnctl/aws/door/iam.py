"""IAM and STS through the door: roles, their policy and instance profiles; who we are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vpnctl.aws.door.base import Service, Tags, tag_list

GONE = ("NoSuchEntity",)


@dataclass(frozen=True)
class Iam(Service):
    NAME = "iam"

    def create_role(
        self, role: str, path: str, trust: str, description: str, tags: Tags
    ) -> str | None:
        """A role that exists already is taken as made. The new role's ARN (None: it existed)."""
        made = self.call(
            "create_role",
            ok=("EntityAlreadyExists",),
            RoleName=role,
            Path=path,
            AssumeRolePolicyDocument=trust,
            Description=description,
            Tags=tag_list(tags),
        )
        return None if made is None else str(made["Role"]["Arn"])

    def put_role_policy(self, role: str, policy_name: str, document: str) -> None:
        self.reply(
            "put_role_policy", RoleName=role, PolicyName=policy_name, PolicyDocument=document
        )

    def create_instance_profile(self, profile: str, path: str, role: str, tags: Tags) -> None:
        """The profile, holding ``role`` (an instance profile holds one role: a second add is
        LimitExceeded, which here means the role is in it already)."""
        self.call(
            "create_instance_profile",
            ok=("EntityAlreadyExists",),
            InstanceProfileName=profile,
            Path=path,
            Tags=tag_list(tags),
        )
        self.call(
            "add_role_to_instance_profile",
            ok=("LimitExceeded", "EntityAlreadyExists"),
            InstanceProfileName=profile,
            RoleName=role,
        )

    def role_arn(self, role: str) -> str:
        return str(self.reply("get_role", RoleName=role)["Role"]["Arn"])

    def role_details(self) -> list[dict[str, Any]]:
        """Every role of the account with its inline policies and instance profiles, in one
        paged read (GetAccountAuthorizationDetails, Filter=Role)."""
        return self.items("get_account_authorization_details", "RoleDetailList", Filter=["Role"])

    def delete_role(self, role: str, profiles: Sequence[str], policy_name: str) -> None:
        """The role, its inline policy and its instance profiles; what is gone is done."""
        for profile in profiles:
            self.call(
                "remove_role_from_instance_profile",
                ok=GONE,
                InstanceProfileName=profile,
                RoleName=role,
            )
            self.call("delete_instance_profile", ok=GONE, InstanceProfileName=profile)
        self.call("delete_role_policy", ok=GONE, RoleName=role, PolicyName=policy_name)
        self.call("delete_role", ok=GONE, RoleName=role)


@dataclass(frozen=True)
class Sts(Service):
    NAME = "sts"

    def account_id(self) -> str:
        return str(self.reply("get_caller_identity")["Account"])
