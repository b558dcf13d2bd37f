"""userdata/gateway_aws.py, the gateway's own AWS helper: its S3 signer and its rules. Pure."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from tests.builders import parse
from vpnctl import render
from vpnctl.agent import converge
from vpnctl.agent.layout import GATEWAY_ETC_DIR, GATEWAY_OPENVPN_DIR, Layout
from vpnctl.aws import store
from vpnctl.design import design
from vpnctl.ipam import allocate

ROOT = Path(__file__).resolve().parents[2]
USERDATA = ROOT / "userdata"


gateway_aws = render.userdata_module("gateway_aws.py")  # as the gateway runs it


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


def _fetched(tmp_path: Path, config: bytes, env_text: str = "VPNCTL_REGION=eu-west-1\n") -> None:
    """``fetch`` with the pinned software and config already on disk: no S3, no IMDS."""
    software = b"PK zipapp"
    root_lib = tmp_path / gateway_aws.LIB_DIR.relative_to("/")
    root_lib.mkdir(parents=True, exist_ok=True)
    (root_lib / "vpnctl.pyz").write_bytes(software)
    installed = tmp_path / gateway_aws.CONFIG.relative_to("/")
    installed.parent.mkdir(parents=True, exist_ok=True)
    installed.write_bytes(config)
    (tmp_path / gateway_aws.ENV_FILE.relative_to("/")).write_text(env_text)
    env = {
        "VPNCTL_SOFTWARE_KEY": "s",
        "VPNCTL_SOFTWARE_SHA256": hashlib.sha256(software).hexdigest(),
        "VPNCTL_CONFIG_KEY": "c",
        "VPNCTL_CONFIG_SHA256": hashlib.sha256(config).hexdigest(),
    }
    gateway_aws.fetch(env, base="http://127.0.0.1:9", root=tmp_path)


def _demo_config(gateway: str = "gw-eu-west-1-a", **tunnel: object) -> bytes:
    document = yaml.safe_load((ROOT / "topologies" / "demo.yaml").read_text())
    if tunnel:
        document["tunnel"] = {**(document.get("tunnel") or {}), **tunnel}
    topology = parse(document, "demo.yaml")
    return render.gateway_config(topology, design(topology, allocate(topology, None).lock), gateway)


def test_fetch_lays_out_the_desired_folder_the_agent_reads(tmp_path: Path) -> None:
    config = _demo_config()
    _fetched(tmp_path, config)
    desired = tmp_path / gateway_aws.DESIRED.relative_to("/")
    loaded = converge.load(desired)  # the agent's own reader accepts it
    document = json.loads(config)
    assert set(loaded.tunnels()) == {t["name"] for t in document["tunnels"]}
    assert set(loaded.files) == {
        *(f"openvpn/{t['name']}.conf" for t in document["tunnels"]),
        "firewall.nft",
        "probe.json",
        "routes.json",
        "gateway.env",
    }
    # each file of the desired folder is where boot installed it, as the agent's layout says
    for relative, content in loaded.contents.items():
        place = tmp_path / Layout.gateway().where(relative).relative_to("/")
        assert place.read_bytes() == content, relative


def test_a_new_configuration_replaces_the_desired_folder_whole(tmp_path: Path) -> None:
    _fetched(tmp_path, _demo_config())
    desired = tmp_path / gateway_aws.DESIRED.relative_to("/")
    first = desired.resolve()
    _fetched(tmp_path, _demo_config(keepalive=17))
    assert desired.is_symlink()
    assert desired.resolve() != first
    assert not first.exists()  # the old folder is gone once the link points at the new one
    assert [p.name for p in desired.parent.iterdir() if p.name.startswith(".")] == []
    new = converge.load(desired)
    assert all(b"keepalive 17" in c for p, c in new.contents.items() if p.startswith("openvpn/"))
    second = desired.resolve()
    _fetched(tmp_path, _demo_config(keepalive=17))  # a reboot: the same folder, kept
    assert desired.resolve() == second
    assert converge.load(desired).digest == new.digest


def test_a_configuration_file_without_a_place_in_the_desired_folder_is_refused(
    tmp_path: Path,
) -> None:
    document = {"files": [{"path": "/etc/vpnctl/extra.conf", "mode": "0644", "content": "x"}]}
    with pytest.raises(SystemExit, match="no place"):
        gateway_aws.lay_out_desired(json.dumps(document).encode(), None, tmp_path / "desired")
    assert not (tmp_path / "desired").exists()


def test_the_agent_unit_runs_the_software_fetch_installs_on_the_folder_it_lays_out() -> None:
    unit = (USERDATA / "vpnctl-agent.service").read_text()
    (exec_start,) = (line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = exec_start.removeprefix("ExecStart=").split()
    assert argv[:2] == ["/usr/bin/python3", str(gateway_aws.LIB_DIR / "vpnctl.pyz")]
    assert argv[2:4] == ["agent", "run"]
    assert argv[argv.index("--desired") + 1] == str(gateway_aws.DESIRED)
    assert str(GATEWAY_OPENVPN_DIR) == str(gateway_aws.TUNNEL_DIR)
    assert str(GATEWAY_ETC_DIR) == str(gateway_aws.CONFIG.parent)
