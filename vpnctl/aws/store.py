"""The artifact store: one S3 bucket per account and region that gateways fetch from. Pure.

What a gateway runs is never installed by name from a package index: apply puts the exact
vpnctl it runs (``vpnctl.failover.package.gateway_software``, a zipapp) and each gateway's
desired configuration (``vpnctl.render.gateway_config``) into the bucket of the gateway's
account and region, and user-data pins both by sha256. Keys are content-addressed (the digest
is in the key), so "is it there already" is a listing, and an object is never rewritten.

    s3://vpnctl-<account id>-<region>/<topology>/software/vpnctl-<sha256>.pyz
    s3://vpnctl-<account id>-<region>/<topology>/gateways/<gateway>/<sha256>.json
    s3://vpnctl-<account id>-<region>/<topology>/gateways/<gateway>/current.json

The one object that is rewritten is each gateway's pointer, ``current.json``: the key and
sha256 of the configuration the design wants it to run now. A booting gateway takes the
configuration its user-data pins; a running one (``vpnctl agent run --follow-store``) reads its
pointer periodically and converges in place to what it names, so an apply that changes only a
gateway's configuration needs no new instance.

The bucket is shared by the topologies of the account and region, like the AWS CDK's
bootstrap bucket ``cdk-<qualifier>-assets-<account>-<region>``; the account id makes the name
unique in its partition (bucket names are global) and lets a gateway work the name out from
its instance identity alone, so user-data stays free of account ids and ``vpnctl render``
needs no AWS. ``userdata/gateway_aws.py`` derives the same name (a test holds them together).

Who may read: the gateway's role policy allows ``s3:GetObject`` on the software and on its own
gateway's folder, ``gateways/<gateway>/*`` (its pointer and the configurations it names;
``vpnctl.aws.policy``). The bucket policy is the same document for every topology, so two
topologies sharing the bucket never undo each other: it denies any read that is not over TLS,
any read by a principal that is not a vpnctl gateway role of the topology the key belongs to,
and any read by such a role outside its own topology's software and its own gateway's
configurations (IAM policy variables on the role's ``vpnctl:topology``/``vpnctl:name`` tags;
a missing tag matches nothing, so the deny holds). Public access is blocked on the bucket.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from vpnctl.aws.live import canonical_json
from vpnctl.aws.names import NAME_TAG, TOPOLOGY_TAG
from vpnctl.partitions import PARTITIONS

STORE_TAG = "vpnctl:store"
# Every setting of S3's Block Public Access on: no ACL or policy can make an object public.
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@dataclass(frozen=True)
class Blob:
    """One object apply puts in the store: its bytes, their sha256 (hex) and its key."""

    key: str
    data: bytes = field(repr=False)
    sha256: str


STAND_IN = "0" * 64  # a digest not known yet: plan builds neither software nor configurations


def stand_ins(topology: str, gateways: Iterable[str]) -> tuple[Blob, dict[str, Blob]]:
    """The software and each gateway's configuration as apply will key them, with a stand-in
    digest of the same length: what plan sizes (and proves) the gateways' policies with."""
    software = Blob(software_key(topology, STAND_IN), b"", STAND_IN)
    return software, {g: Blob(config_key(topology, g, STAND_IN), b"", STAND_IN) for g in gateways}


def bucket_name(account_id: str, region: str) -> str:
    """At most 7 + 12 + 1 + 14 = 34 characters: within S3's 63 for every region."""
    return f"vpnctl-{account_id}-{region}"


def bucket_owner(bucket: str) -> str:
    """The account id in a name ``bucket_name`` made: what every call sends as the expected
    owner (``ExpectedBucketOwner``), so vpnctl never writes to a bucket someone else made."""
    return bucket.split("-")[1]


def software_key(topology: str, sha256: str) -> str:
    return f"{topology}/software/vpnctl-{sha256}.pyz"


def config_key(topology: str, gateway: str, sha256: str) -> str:
    return f"{topology}/gateways/{gateway}/{sha256}.json"


POINTER = "current.json"


def pointer_key(topology: str, gateway: str) -> str:
    return f"{topology}/gateways/{gateway}/{POINTER}"


def gateway_folder(topology: str, gateway: str) -> str:
    """Everything one gateway may read of its own: its pointer and its configurations."""
    return f"{topology}/gateways/{gateway}/*"


def pointer(topology: str, gateway: str, config: Blob) -> Blob:
    """The pointer to ``config``: canonical JSON ``{"key", "sha256"}``, stored at
    ``pointer_key``. Its own digest says whether the stored one is current."""
    data = (canonical_json({"key": config.key, "sha256": config.sha256}) + "\n").encode()
    return Blob(pointer_key(topology, gateway), data, hashlib.sha256(data).hexdigest())


def is_pointer(key: str) -> bool:
    return key.endswith("/" + POINTER)


def prefix(topology: str) -> str:
    """Everything of one topology in a shared bucket: what its sweep may delete."""
    return f"{topology}/"


def object_arn(partition: str, bucket: str, key: str) -> str:
    return f"{PARTITIONS[partition].arn_prefix}:s3:::{bucket}/{key}"


def bucket_policy(partition: str, bucket: str, account_id: str) -> str:
    """The bucket's policy: reads only over TLS, only by the gateway roles the keys are for."""
    arn = PARTITIONS[partition].arn_prefix
    objects = f"{arn}:s3:::{bucket}/*"
    topology = "${aws:PrincipalTag/" + TOPOLOGY_TAG + "}"
    gateway = "${aws:PrincipalTag/" + NAME_TAG + "}"
    # aws:PrincipalArn of a role session is the role's ARN, path included (IAM User Guide,
    # "AWS global condition context keys": aws:PrincipalArn); gateway roles live under
    # /vpnctl/<topology>/ (vpnctl.aws.intent.Intent.iam_path).
    gateway_roles = f"{arn}:iam::{account_id}:role/vpnctl/*"
    statements = [
        _deny("TlsOnly", "s3:*", [f"{arn}:s3:::{bucket}", objects],
              {"Bool": {"aws:SecureTransport": "false"}}),
        _deny("OnlyGatewayRolesRead", "s3:GetObject", [objects],
              {"StringNotLike": {"aws:PrincipalArn": gateway_roles}}),
        {
            "Sid": "OnlyOwnTopologyAndGateway",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "NotResource": [
                f"{arn}:s3:::{bucket}/{topology}/software/*",
                f"{arn}:s3:::{bucket}/{topology}/gateways/{gateway}/*",
            ],
            "Condition": {"StringLike": {"aws:PrincipalArn": gateway_roles}},
        },
    ]  # fmt: skip
    return canonical_json({"Version": "2012-10-17", "Statement": statements})


def _deny(sid: str, action: str, resource: list[str], condition: object) -> dict[str, object]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resource,
        "Condition": condition,
    }
