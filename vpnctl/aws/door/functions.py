"""The failover hook's services through the door: Lambda, EventBridge and CloudWatch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vpnctl.aws.door.base import Service, Tags, tag_list

NOT_FOUND = ("ResourceNotFoundException",)


@dataclass(frozen=True)
class Lambda(Service):
    NAME = "lambda"

    def function(self, name: str) -> dict[str, Any] | None:
        """GetFunction's ``Configuration``; None when there is no such function."""
        found = self.call("get_function", ok=NOT_FOUND, FunctionName=name)
        return None if found is None else dict(found["Configuration"])

    def create_function(
        self, name: str, code: bytes, description: str, tags: Tags, **settings: Any
    ) -> str | None:
        """The new function's ARN; None while Lambda cannot assume its role yet (a role made
        a moment ago: IAM is eventually consistent)."""
        made = self.attempt(
            "create_function",
            ok=("InvalidParameterValueException",),
            FunctionName=name,
            Code={"ZipFile": code},
            Tags=dict(tags),
            Description=description,
            **settings,
        )
        if isinstance(made, dict):
            return str(made.get("FunctionArn", ""))
        if "cannot be assumed" not in made.message:
            self.fail(made)
        return None

    def update_function(self, name: str, code: bytes, **settings: Any) -> None:
        self.reply("update_function_code", FunctionName=name, ZipFile=code)
        self.reply("update_function_configuration", FunctionName=name, **settings)

    def allow(self, name: str, statement: str, principal: str, source_arn: str) -> None:
        """``principal`` may invoke the function from ``source_arn``; a statement of that ID
        is there already (ResourceConflictException) is done."""
        self.call(
            "add_permission",
            ok=("ResourceConflictException",),
            FunctionName=name,
            StatementId=statement,
            Action="lambda:InvokeFunction",
            Principal=principal,
            SourceArn=source_arn,
        )

    def delete_function(self, name: str) -> None:
        self.call("delete_function", ok=NOT_FOUND, FunctionName=name)


@dataclass(frozen=True)
class Events(Service):
    NAME = "events"

    def put_rule(self, name: str, tags: Tags, target_id: str, target_arn: str, **args: Any) -> None:
        """The rule, enabled, and its one target."""
        self.reply("put_rule", Name=name, State="ENABLED", Tags=tag_list(tags), **args)
        self.reply("put_targets", Rule=name, Targets=[{"Id": target_id, "Arn": target_arn}])

    def delete_rule(self, name: str, target_ids: Sequence[str]) -> None:
        self.call("remove_targets", ok=NOT_FOUND, Rule=name, Ids=list(target_ids))
        self.call("delete_rule", ok=NOT_FOUND, Name=name)

    def rules(self, prefix: str) -> list[dict[str, Any]]:
        return self.items("list_rules", "Rules", NamePrefix=prefix)

    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> list[int]:
        """The indexes of the entries EventBridge did not take."""
        said = self.reply("put_events", Entries=[dict(e) for e in entries]).get("Entries", [])
        return [i for i, e in enumerate(said) if e.get("ErrorCode")]


@dataclass(frozen=True)
class CloudWatch(Service):
    NAME = "cloudwatch"

    def put_alarm(self, tags: Tags, **args: Any) -> None:
        self.reply("put_metric_alarm", Tags=tag_list(tags), **args)

    def delete_alarms(self, names: Sequence[str]) -> None:
        self.reply("delete_alarms", AlarmNames=list(names))

    def alarms(self, prefix: str, *types: str) -> list[dict[str, Any]]:
        kinds: dict[str, Any] = {"AlarmTypes": list(types)} if types else {}
        return self.items("describe_alarms", "MetricAlarms", AlarmNamePrefix=prefix, **kinds)

    def put_metric_data(self, namespace: str, data: Sequence[Mapping[str, Any]]) -> None:
        self.reply("put_metric_data", Namespace=namespace, MetricData=[dict(d) for d in data])

    def metric_data(
        self, queries: Sequence[Mapping[str, Any]], **window: Any
    ) -> list[dict[str, Any]]:
        """Every ``MetricDataResults`` of every page (one series may span pages)."""
        results: list[dict[str, Any]] = []
        token: dict[str, Any] = {}
        while True:
            page = self.reply(
                "get_metric_data", MetricDataQueries=[dict(q) for q in queries], **window, **token
            )
            results += page.get("MetricDataResults", [])
            if not page.get("NextToken"):
                return results
            token = {"NextToken": page["NextToken"]}
