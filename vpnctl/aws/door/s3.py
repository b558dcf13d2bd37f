"""S3 through the door: the artifact store and its objects.

Every call names the bucket's owner (``ExpectedBucketOwner``, see ``vpnctl.aws.store``), so a
bucket of the same name in another account is refused, never written to.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vpnctl.aws.door.base import Service, Tags
from vpnctl.errors import AwsError

DELETE_BATCH = 1000  # DeleteObjects takes up to 1,000 keys


@dataclass(frozen=True)
class S3(Service):
    NAME = "s3"

    def create_bucket(self, bucket: str, owner: str, tags: Tags) -> None:
        """Made with its owner enforced (no ACLs) and tagged; one this account has already is
        taken as made, one another account has is an error naming the bucket."""
        where: dict[str, Any] = {}
        if self.where.region != "us-east-1":  # S3 refuses a LocationConstraint of us-east-1
            where = {"CreateBucketConfiguration": {"LocationConstraint": self.where.region}}
        self.call(
            "create_bucket",
            ok=("BucketAlreadyOwnedByYou",),
            Bucket=bucket,
            ObjectOwnership="BucketOwnerEnforced",
            **where,
        )
        tag_set = [{"Key": k, "Value": v} for k, v in tags.items()]
        self.reply(
            "put_bucket_tagging",
            Bucket=bucket,
            ExpectedBucketOwner=owner,
            Tagging={"TagSet": tag_set},
        )

    def lock_down(self, bucket: str, owner: str, block: Mapping[str, bool], policy: str) -> None:
        """Public access blocked, and the bucket policy set."""
        mine: dict[str, Any] = {"Bucket": bucket, "ExpectedBucketOwner": owner}
        self.reply("put_public_access_block", PublicAccessBlockConfiguration=dict(block), **mine)
        self.reply("put_bucket_policy", Policy=policy, **mine)

    def put_object(
        self, bucket: str, owner: str, key: str, body: bytes, sha256: str, tags: Tags, **extra: str
    ) -> None:
        """S3 checks the object against ``sha256`` (base64) as it arrives."""
        self.reply(
            "put_object",
            Bucket=bucket,
            ExpectedBucketOwner=owner,
            Key=key,
            Body=body,
            ChecksumSHA256=sha256,
            Tagging=urllib.parse.urlencode(dict(tags)),
            **dict[str, Any](extra),
        )

    def delete_objects(self, bucket: str, owner: str, keys: Sequence[str]) -> None:
        for i in range(0, len(keys), DELETE_BATCH):
            objects = [{"Key": k} for k in keys[i : i + DELETE_BATCH]]
            self.reply(
                "delete_objects",
                Bucket=bucket,
                ExpectedBucketOwner=owner,
                Delete={"Objects": objects, "Quiet": True},
            )

    def delete_bucket(self, bucket: str, owner: str) -> None:
        """Another topology's objects keep the bucket (S3 refuses to delete a non-empty one)."""
        self.call(
            "delete_bucket",
            ok=("BucketNotEmpty", "NoSuchBucket"),
            Bucket=bucket,
            ExpectedBucketOwner=owner,
        )

    # ------------------------------------------------------------------ reads

    def policy(self, bucket: str, owner: str) -> tuple[bool, str | None]:
        """Whether the bucket exists, and its policy document (None: it has none)."""
        found = self.attempt(
            "get_bucket_policy",
            ok=("NoSuchBucket", "NoSuchBucketPolicy", "AccessDenied", "403"),
            Bucket=bucket,
            ExpectedBucketOwner=owner,
        )
        if isinstance(found, dict):
            return True, str(found["Policy"])
        if found.code in ("AccessDenied", "403"):
            w = self.where
            raise AwsError(
                w.account, w.region, f"s3 bucket {bucket}",
                "exists but is not readable as this account's (is the name taken by "
                "another account, or do these credentials lack s3:GetBucketPolicy?)",
            ) from found  # fmt: skip
        return found.code == "NoSuchBucketPolicy", None

    def public_access_block(self, bucket: str, owner: str) -> dict[str, Any]:
        """The bucket's settings ({} when it has none)."""
        found = self.call(
            "get_public_access_block",
            ok=("NoSuchPublicAccessBlockConfiguration",),
            Bucket=bucket,
            ExpectedBucketOwner=owner,
        )
        return {} if found is None else dict(found["PublicAccessBlockConfiguration"])

    def keys(self, bucket: str, owner: str, prefix: str) -> dict[str, str]:
        """Every key under ``prefix`` -> its ETag, unquoted."""
        found = self.items(
            "list_objects_v2", "Contents", Bucket=bucket, ExpectedBucketOwner=owner, Prefix=prefix
        )
        return {str(o["Key"]): str(o.get("ETag", "")).strip('"') for o in found}

    def get_object(self, bucket: str, owner: str, key: str) -> bytes:
        found = self.reply("get_object", Bucket=bucket, ExpectedBucketOwner=owner, Key=key)
        body = found["Body"]
        return body if isinstance(body, bytes) else bytes(body.read())
