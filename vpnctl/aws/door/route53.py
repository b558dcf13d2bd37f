"""Route 53 through the door: the hosted zone and its A records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from vpnctl.aws.door.base import Service, Tags, tag_list


@dataclass(frozen=True)
class RecordChange:
    """One entry of a ChangeResourceRecordSets batch: an A record set, or its removal."""

    action: Literal["UPSERT", "DELETE"]
    fqdn: str
    ttl: int
    values: tuple[str, ...]

    def entry(self) -> dict[str, Any]:
        record = {
            "Name": self.fqdn,
            "Type": "A",
            "TTL": self.ttl,
            "ResourceRecords": [{"Value": v} for v in self.values],
        }
        return {"Action": self.action, "ResourceRecordSet": record}


@dataclass(frozen=True)
class Route53(Service):
    NAME = "route53"

    def create_hosted_zone(self, zone: str, reference: str, tags: Tags) -> str:
        """The new zone's ID (without ``/hostedzone/``), tagged (CreateHostedZone takes no
        tags: ChangeTagsForResource follows it)."""
        made = self.reply("create_hosted_zone", Name=zone, CallerReference=reference)
        zone_id = str(made["HostedZone"]["Id"]).split("/")[-1]
        self.reply(
            "change_tags_for_resource",
            ResourceType="hostedzone",
            ResourceId=zone_id,
            AddTags=tag_list(tags),
        )
        return zone_id

    def change_records(self, zone_id: str, changes: Sequence[RecordChange]) -> None:
        """One call for the batch, applied all or nothing. A DELETE of a record already gone
        fails the batch (InvalidChangeBatch): then each change is made on its own, where such
        a DELETE is done already."""
        deletes = any(ch.action == "DELETE" for ch in changes)
        done = self.attempt(
            "change_resource_record_sets",
            ok=("InvalidChangeBatch",) if deletes else (),
            HostedZoneId=zone_id,
            ChangeBatch={"Changes": [ch.entry() for ch in changes]},
        )
        if isinstance(done, dict) or len(changes) == 1:
            return
        for change in changes:
            self.change_records(zone_id, [change])

    def delete_hosted_zone(self, zone_id: str) -> None:
        self.call("delete_hosted_zone", ok=("NoSuchHostedZone",), Id=zone_id)

    def zones_by_name(self, name: str, most: int | None = None) -> list[dict[str, Any]]:
        extra: dict[str, Any] = {} if most is None else {"MaxItems": str(most)}
        found = self.reply("list_hosted_zones_by_name", DNSName=name, **extra)
        return list(found.get("HostedZones", []))

    def zone_tags(self, zone_id: str) -> dict[str, str]:
        found = self.reply("list_tags_for_resource", ResourceType="hostedzone", ResourceId=zone_id)
        return {t["Key"]: t["Value"] for t in found.get("ResourceTagSet", {}).get("Tags", [])}

    def records(self, zone_id: str) -> list[dict[str, Any]]:
        return self.items("list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone_id)
