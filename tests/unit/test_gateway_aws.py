"""userdata/gateway_aws.py, the gateway's own AWS helper: its S3 signer and its rules. Pure."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from vpnctl.aws import store

SCRIPT = Path(__file__).resolve().parents[2] / "userdata" / "gateway_aws.py"


def _load() -> ModuleType:
    """The script as the gateway runs it (a file, not a vpnctl module)."""
    spec = importlib.util.spec_from_file_location("gateway_aws", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gateway_aws = _load()


def test_the_signer_reproduces_awss_published_get_object_example() -> None:
    # Amazon S3 API Reference, "Signature Calculations for the Authorization Header:
    # Transferring Payload in a Single Chunk (AWS Signature Version 4)", example GET Object
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html)
    credentials = {
        "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    }
    headers = gateway_aws.signed_headers(
        "https://examplebucket.s3.amazonaws.com/test.txt",
        "us-east-1",
        credentials,
        dt.datetime(2013, 5, 24, tzinfo=dt.UTC),
        Range="bytes=0-9",
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_a_session_token_is_sent_and_signed() -> None:
    credentials = {"AccessKeyId": "A", "SecretAccessKey": "S", "Token": "T"}
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    headers = gateway_aws.signed_headers(
        "https://b.s3.cn-north-1.amazonaws.com.cn/k", "cn-north-1", credentials, now
    )
    assert headers["x-amz-security-token"] == "T"
    assert "x-amz-security-token" in headers["authorization"].split("SignedHeaders=")[1]
    assert "/cn-north-1/s3/aws4_request" in headers["authorization"]


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-1", "cn-northwest-1"])
def test_the_gateway_names_the_bucket_as_apply_does(region: str) -> None:
    assert gateway_aws.bucket_name("123456789012", region) == store.bucket_name(
        "123456789012", region
    )
    assert len(store.bucket_name("123456789012", region)) <= 63  # S3's limit


@pytest.mark.parametrize(
    "path", ["/etc/shadow", "/etc/openvpn/vpnctl/../../cron.d/x", "/usr/local/lib/vpnctl/boot.sh"]
)
def test_a_config_writing_outside_its_directories_is_refused_before_anything_is_written(
    path: str, tmp_path: Path
) -> None:
    document = {
        "format_version": 1,
        "tunnels": [],
        "files": [{"path": path, "mode": "0644", "content": "x"}],
    }
    with pytest.raises(SystemExit, match="outside"):
        gateway_aws.install_config(json.dumps(document).encode(), tmp_path)
    assert list(tmp_path.iterdir()) == []
