"""What ``observe`` reads: the topology's regions, adopted VPCs, images, accounts and zone.

Apart from ``observe`` so that the readers it calls (``hookactions.read``) can name it
without importing ``observe`` back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from vpnctl.aws import live as lv
from vpnctl.aws import store
from vpnctl.aws.intent import Intent


@dataclass(frozen=True)
class Scope:
    """What to read: which regions, adopted VPCs and images, for which topology and zone."""

    topology: str
    regions: Mapping[lv.RegionKey, tuple[str, ...]]  # -> adopted vpc ids there
    images: Mapping[lv.RegionKey, str | None]  # -> image key to resolve, if any
    accounts: tuple[str, ...]
    zone: str
    dns_account: str
    # each gateway pointer's key -> (the MD5 of the pointer apply would write, the key it names)
    pointers: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, intent: Intent) -> Scope:
        regions: dict[lv.RegionKey, list[str]] = {}
        images: dict[lv.RegionKey, str | None] = {}
        for vpc in intent.design.vpcs.values():
            key = (vpc.account, vpc.region)
            regions.setdefault(key, [])
            if vpc.vpc_id:
                regions[key].append(vpc.vpc_id)
            image = intent.images[vpc.name]
            if not image.startswith("ami-"):
                images[key] = image
        for key in intent.retired:
            regions.setdefault(key, [])
        return cls(
            intent.topology,
            {k: tuple(v) for k, v in regions.items()},
            images,
            tuple(sorted(intent.partitions)),
            intent.design.zone,
            intent.dns_account,
            _pointers(intent),
        )


def _pointers(intent: Intent) -> dict[str, tuple[str, str]]:
    found = {}
    for gateway, config in intent.configs.items():
        blob = store.pointer(intent.topology, gateway, config)
        md5 = hashlib.md5(blob.data, usedforsecurity=False).hexdigest()
        found[blob.key] = (md5, config.key)
    return found
