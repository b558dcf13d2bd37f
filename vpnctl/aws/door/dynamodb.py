"""DynamoDB through the door: the one small table of the apply lock, the hook's lease and the
key-rotation journal (string and number attributes, one hash key)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vpnctl.aws.door.base import Service, Tags, tag_list

Item = dict[str, dict[str, str]]  # DynamoDB's own typed attributes: {"S": ...} or {"N": ...}
CONDITION_FAILED = "ConditionalCheckFailedException"
NO_TABLE = "ResourceNotFoundException"


def _condition(condition: str, values: Mapping[str, Any] | None) -> dict[str, Any]:
    args: dict[str, Any] = {"ConditionExpression": condition} if condition else {}
    return args | ({"ExpressionAttributeValues": dict(values)} if values else {})


@dataclass(frozen=True)
class DynamoDb(Service):
    NAME = "dynamodb"

    def put_item(
        self,
        table: str,
        item: Item,
        condition: str = "",
        values: Mapping[str, Any] | None = None,
        refused: Sequence[str] = (CONDITION_FAILED,),
    ) -> str | None:
        """None once written, else which of ``refused`` AWS answered."""
        done = self.attempt(
            "put_item", ok=refused, TableName=table, Item=item, **_condition(condition, values)
        )
        return None if isinstance(done, dict) else done.code

    def get_item(self, table: str, key: Item, *, no_table_ok: bool = False) -> Item | None:
        """The item (read consistently), None if absent (or its table, if ``no_table_ok``)."""
        found = self.call(
            "get_item",
            ok=(NO_TABLE,) if no_table_ok else (),
            TableName=table,
            Key=key,
            ConsistentRead=True,
        )
        return None if found is None or not found.get("Item") else dict(found["Item"])

    def delete_item(
        self,
        table: str,
        key: Item,
        condition: str = "",
        values: Mapping[str, Any] | None = None,
        *,
        gone_ok: bool = False,
    ) -> bool:
        """False when the condition did not hold (the item is someone else's): left as is.
        ``gone_ok``: no table is done already."""
        ok = (CONDITION_FAILED, NO_TABLE) if gone_ok else (CONDITION_FAILED,)
        done = self.attempt(
            "delete_item", ok=ok, TableName=table, Key=key, **_condition(condition, values)
        )
        return isinstance(done, dict) or done.code == NO_TABLE

    def table_status(self, table: str) -> str | None:
        """ACTIVE, CREATING...; None when there is no such table."""
        found = self.call("describe_table", ok=(NO_TABLE,), TableName=table)
        return None if found is None else str(found["Table"]["TableStatus"])

    def create_table(self, table: str, key: str, tags: Tags) -> None:
        """On demand, one string hash key; a table being made by someone else is done."""
        self.call(
            "create_table",
            ok=("ResourceInUseException",),
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=tag_list(tags),
        )
