"""The artifact store on a moto server: what apply puts there, what it leaves alone, and the
gateway's own boot path (``userdata/gateway_aws.py fetch``) reading it back.

moto stores bucket policies but cannot evaluate ours (see ``conftest``); what the policy
allows and denies is tested in tests/unit/aws/test_store.py. moto does not check SigV4
signatures unless IAM enforcement is on, so the fetch test proves the request, the digest
checks and the install, and the signer is held to AWS's published example in
tests/unit/test_gateway_aws.py.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from tests.functional.conftest import Aws, fast
from tests.unit.test_gateway_aws import gateway_aws
from vpnctl import render
from vpnctl.aws import store
from vpnctl.cli.apply import apply
from vpnctl.cli.destroy import destroy
from vpnctl.failover import package

ACCOUNT = "123456789012"  # moto's


def bucket(region: str) -> str:
    return store.bucket_name(ACCOUNT, region)


def keys(aws: Aws, region: str) -> list[str]:
    found = aws.client("s3", region).list_objects_v2(Bucket=bucket(region))
    return sorted(o["Key"] for o in found.get("Contents", []))


def userdata_env(aws: Aws, region: str, topology: str, gateway: str) -> dict[str, str]:
    """gateway.env as the gateway's launch template carries it."""
    ec2 = aws.client("ec2", region)
    versions = ec2.describe_launch_template_versions(LaunchTemplateName=f"{topology}-{gateway}")
    newest = max(versions["LaunchTemplateVersions"], key=lambda v: v["VersionNumber"])
    payload = base64.b64decode(newest["LaunchTemplateData"]["UserData"])
    files = yaml.safe_load(render.read_userdata(payload))["write_files"]
    text = next(f["content"] for f in files if f["path"] == "/etc/vpnctl/gateway.env")
    pairs = (line.split("=", 1) for line in text.splitlines() if line.startswith("VPNCTL_"))
    return {name: value.strip('"') for name, value in pairs}


def apply_ok(aws: Aws, path: Path) -> str:
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output
    return result.output


def test_apply_stores_the_software_and_each_gateways_config_pinned_by_user_data(
    aws: Aws,
) -> None:
    apply_ok(aws, aws.topology("china-hub"))
    software = package.gateway_software()
    for region, partition in (("us-west-2", "aws"), ("cn-north-1", "aws-cn")):
        iam = aws.client("iam", "cn-north-1" if partition == "aws-cn" else "us-east-1")
        s3 = aws.client("s3", region)
        blocked = s3.get_public_access_block(Bucket=bucket(region))
        assert all(blocked["PublicAccessBlockConfiguration"].values())
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket(region))["Policy"])
        assert policy == json.loads(store.bucket_policy(partition, bucket(region), ACCOUNT))
        assert f"arn:{partition}:s3:::{bucket(region)}/*" in json.dumps(policy)
        everything = keys(aws, region)
        found = [k for k in everything if not store.is_pointer(k)]
        gateways = [f"gw-{region}-a", f"gw-{region}-b"]
        assert len(found) == 1 + len(gateways)  # one software, one config per gateway
        assert len(everything) == len(found) + len(gateways)  # and a pointer per gateway
        for key in found:
            data = s3.get_object(Bucket=bucket(region), Key=key)["Body"].read()
            assert hashlib.sha256(data).hexdigest() in key  # content-addressed
        assert store.software_key("sproutling", software.sha256) in found
        for gateway in gateways:
            env = userdata_env(aws, region, "sproutling", gateway)
            assert env["VPNCTL_SOFTWARE_SHA256"] == software.sha256
            assert env["VPNCTL_CONFIG_KEY"] in found
            assert env["VPNCTL_CONFIG_KEY"].startswith(f"sproutling/gateways/{gateway}/")
            named = s3.get_object(
                Bucket=bucket(region), Key=store.pointer_key("sproutling", gateway)
            )
            assert json.loads(named["Body"].read())["key"] == env["VPNCTL_CONFIG_KEY"]
            role = iam.get_role_policy(
                RoleName=f"sproutling-{gateway}", PolicyName="vpnctl-gateway"
            )
            reads = [
                s for s in role["PolicyDocument"]["Statement"] if s["Action"] == "s3:GetObject"
            ]
            wanted = {env["VPNCTL_SOFTWARE_KEY"], f"sproutling/gateways/{gateway}/*"}  # its folder
            assert reads[0]["Resource"] == [
                f"arn:{partition}:s3:::{bucket(region)}/{k}" for k in sorted(wanted, reverse=True)
            ]


def test_a_changed_config_is_stored_anew_and_the_old_one_swept_not_the_software(
    aws: Aws,
) -> None:
    path = aws.topology("demo")
    apply_ok(aws, path)
    before = keys(aws, "us-west-2")
    text = path.read_text()
    rule = "{from: eu-west-1, to: us-west-2, proto: tcp, ports: [443]}"
    assert rule in text
    path.write_text(text.replace(rule, rule.replace("[443]", "[443, 8443]")))  # every firewall
    factory = fast()
    result = aws.run(apply, str(path), "--yes", factory=factory)
    assert result.exit_code == 0, result.output
    after = keys(aws, "us-west-2")
    software = [k for k in before if "/software/" in k]
    assert software == [k for k in after if "/software/" in k]
    pointers = {k for k in before if store.is_pointer(k)}
    assert pointers == {k for k in after if store.is_pointer(k)}  # rewritten in place
    assert not set(before) & set(after) - set(software) - pointers  # every config new, old gone
    puts = [c for c in factory.log.calls if c.operation == "PutObject"]
    assert len(puts) == 4 + 4  # the four gateways' configs and pointers; not the software again


def test_destroy_removes_the_topologys_objects_and_the_bucket(aws: Aws) -> None:
    path = aws.topology("demo")
    apply_ok(aws, path)
    result = aws.run(destroy, str(path), "--yes")
    assert result.exit_code == 0, result.output
    names = [b["Name"] for b in aws.client("s3", "us-west-2").list_buckets()["Buckets"]]
    assert bucket("us-west-2") not in names
    assert bucket("eu-west-1") not in names


# ------------------------------------------------------------------ the gateway's boot path


class _Imds(http.server.BaseHTTPRequestHandler):
    """IMDSv2 as the gateway sees it: a token for a PUT, then reads that carry it."""

    answers: ClassVar[dict[str, str]] = {
        "/latest/meta-data/iam/security-credentials/": "demo-gw\n",
        "/latest/meta-data/iam/security-credentials/demo-gw": json.dumps(
            {"AccessKeyId": "test", "SecretAccessKey": "test", "Token": "session"}
        ),
        "/latest/dynamic/instance-identity/document": json.dumps({"accountId": ACCOUNT}),
    }

    def do_PUT(self) -> None:
        self.reply(200, "token" if self.path == "/latest/api/token" else "")

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") != "token":
            self.reply(401, "")
        elif self.path in self.answers:
            self.reply(200, self.answers[self.path])
        else:
            self.reply(404, "")

    def reply(self, status: int, body: str) -> None:
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def imds() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Imds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/latest"
    server.shutdown()
    server.server_close()


def test_boot_fetches_verifies_and_installs_what_user_data_pins(
    aws: Aws, imds: str, tmp_path: Path
) -> None:
    apply_ok(aws, aws.topology("demo"))
    env = userdata_env(aws, "us-west-2", "demo", "gw-us-west-2-a")
    assert env["VPNCTL_S3_URL"] == "https://{bucket}.s3.us-west-2.amazonaws.com"
    env["VPNCTL_S3_URL"] = aws.url + "/{bucket}"  # moto answers path-style, over plain HTTP
    root = tmp_path / "root"
    gateway_aws.fetch(env, imds, root)
    software = root / "usr/local/lib/vpnctl/vpnctl.pyz"
    assert hashlib.sha256(software.read_bytes()).hexdigest() == env["VPNCTL_SOFTWARE_SHA256"]
    config = json.loads((root / "etc/vpnctl/config.json").read_text())
    for item in config["files"]:
        assert (root / item["path"].lstrip("/")).read_text() == item["content"]
    assert (root / "etc/vpnctl/firewall.nft").exists()
    tunnels = gateway_aws.tunnels(root / "etc/vpnctl/config.json")
    assert tunnels == [("eu-west-1-a--us-west-2-a", "psk")]

    # a reboot: everything on disk has the pinned digests, so no S3 (and no IMDS) is needed
    (root / "etc/vpnctl/firewall.nft").write_text("changed by hand")
    gateway_aws.fetch(env, "http://127.0.0.1:9/nothing-listens-here", root)
    assert (root / "etc/vpnctl/firewall.nft").read_text() != "changed by hand"

    # someone replaces the object behind the pinned key: the gateway refuses it
    s3 = aws.client("s3", "us-west-2")
    s3.put_object(Bucket=bucket("us-west-2"), Key=env["VPNCTL_CONFIG_KEY"], Body=b"{}")
    with pytest.raises(SystemExit, match="not the pinned"):
        gateway_aws.fetch(env, imds, tmp_path / "again")
    assert not (tmp_path / "again/etc/vpnctl/config.json").exists()
