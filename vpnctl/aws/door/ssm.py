"""Systems Manager through the door: the tunnels' key parameters, and Run Command.

A key's value is sent to AWS and nowhere else: it is never part of an error (``AwsError``
shows AWS's code and message, and the parameter's name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vpnctl.aws.door.base import Service, Tags, tag_list
from vpnctl.aws.door.wire import Refusal
from vpnctl.errors import AwsError

DELETE_BATCH = 10  # DeleteParameters takes up to 10 names


@dataclass(frozen=True)
class Ssm(Service):
    NAME = "ssm"

    def put_new_secret(self, name: str, value: str, description: str, tags: Tags) -> None:
        """A SecureString that exists already is left as it is (Overwrite=False), when it is
        this write's own (a retried call whose first try landed: it carries ``description``,
        the key set's version). Any other parameter under the name is an error: a gateway would
        read its value as a key."""
        answer = self.attempt(
            "put_parameter",
            ok=("ParameterAlreadyExists",),
            Name=name,
            Value=value,
            Type="SecureString",
            Description=description,
            Overwrite=False,
            Tags=tag_list(tags),
        )
        if not isinstance(answer, Refusal):
            return
        held = self.items(
            "describe_parameters",
            "Parameters",
            ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}],
        )
        if not any(p.get("Description") == description for p in held):
            w = self.where
            raise AwsError(
                w.account,
                w.region,
                f"ssm parameter {name}",
                "a parameter vpnctl did not write holds this key's name (it lacks the topology's "
                "tag and this key set's version): remove or rename it, then apply again",
            )

    def overwrite_secret(
        self, name: str, value: str, description: str, tags: Tags | None = None
    ) -> None:
        """Overwrite=True takes no Tags (SSM refuses both at once), so a parameter this call
        made (version 1) gets ``tags`` after it: apply's observe reads only parameters with
        the topology's tag, and would not see an untagged one."""
        answer = self.reply(
            "put_parameter",
            Name=name,
            Value=value,
            Type="SecureString",
            Description=description,
            Overwrite=True,
        )
        if tags and answer.get("Version") == 1:
            self.reply(
                "add_tags_to_resource",
                ResourceType="Parameter",
                ResourceId=name,
                Tags=tag_list(tags),
            )

    def secrets(self, names: Sequence[str]) -> dict[str, str]:
        """The decrypted values of those of ``names`` that exist."""
        found = self.reply("get_parameters", Names=list(names), WithDecryption=True)
        return {str(p["Name"]): str(p["Value"]) for p in found.get("Parameters", [])}

    def delete_parameters(self, names: Sequence[str]) -> None:
        for i in range(0, len(names), DELETE_BATCH):
            self.reply("delete_parameters", Names=list(names[i : i + DELETE_BATCH]))

    def parameters(self, filters: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.items("describe_parameters", "Parameters", ParameterFilters=list(filters))

    def send_command(self, **params: Any) -> dict[str, Any]:
        return dict(self.reply("send_command", **params)["Command"])

    def invocation(self, command_id: str, instance_id: str) -> dict[str, Any] | None:
        """The command's invocation on the instance; None while SSM does not know it yet."""
        return self.call(
            "get_command_invocation",
            ok=("InvocationDoesNotExist",),
            CommandId=command_id,
            InstanceId=instance_id,
        )
