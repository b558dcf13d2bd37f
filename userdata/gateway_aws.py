#!/usr/bin/env python3
"""The AWS calls a gateway makes about itself at boot, with its instance role.

Runs on the gateway (python3 and python3-boto3 from the distribution), not in vpnctl: it reads
``/etc/vpnctl/gateway.env`` from the environment, finds its instance ID through IMDSv2 (a
session token, never the v1 path), and lets boto3 take the instance role's credentials the same
way. Fetching the software and the configuration needs no boto3: one SigV4-signed S3 GetObject
each, with the role's credentials from IMDSv2, so it works before anything is installed.
Commands:

``fetch``              download the vpnctl software and this gateway's configuration from the
                       artifact bucket, refuse either unless its sha256 is the pinned one,
                       install them (the software to LIB_DIR/vpnctl.pyz, run by python3), and
                       lay out the agent's desired folder from the configuration (DESIRED)
``tunnels``            print this gateway's tunnel names, one a line (from the installed config)
``keys``               fetch this gateway's tunnel keys from SSM (SecureString) into 0600 files
``elastic-ip``         associate the Elastic IP tagged for this gateway
``source-dest-check``  turn the check off: an instance cannot route for others with it on
``unhealthy REASON``   tell the Auto Scaling group to replace this instance

Key material is written, never printed: errors name parameters, not values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Any

IMDS = "http://169.254.169.254/latest"
KEY_DIR = Path("/etc/openvpn/vpnctl/keys")
LIB_DIR = Path("/usr/local/lib/vpnctl")
CONFIG = Path("/etc/vpnctl/config.json")  # the installed configuration, as fetched
CONFIG_FORMAT = 1
# Where a configuration may write (the keys directory is not among them: keys come from SSM).
CONFIG_ROOTS = (PurePosixPath("/etc/vpnctl"), PurePosixPath("/etc/openvpn/vpnctl"))
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ENV_FILE = Path("/etc/vpnctl/gateway.env")
# What vpnctl-agent.service converges to (`vpnctl agent run --desired`): a symlink to a folder
# of the configuration's files by the agent's relative paths (vpnctl.agent.config), swapped
# whole by rename(2) so the agent reads the old folder or the new one, never a mix.
DESIRED = Path("/var/lib/vpnctl/desired")
TUNNEL_DIR = PurePosixPath("/etc/openvpn/vpnctl")
DESIRED_NAMES = ("firewall.nft", "probe.json", "routes.json")  # gateway.env is added


def imds(path: str, base: str = IMDS) -> str:
    """One IMDSv2 read: a PUT for a short-lived token, then the GET with it."""
    put = urllib.request.Request(
        f"{base}/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
    )
    with urllib.request.urlopen(put, timeout=5) as response:
        token = response.read().decode()
    get = urllib.request.Request(f"{base}/{path}", headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(get, timeout=5) as response:
        return str(response.read().decode())


# ------------------------------------------------------------------ S3 without boto3


def role_credentials(base: str = IMDS) -> dict[str, str]:
    """The instance role's temporary credentials (AccessKeyId, SecretAccessKey, Token)."""
    role = imds("meta-data/iam/security-credentials/", base).split()[0]
    found: dict[str, str] = json.loads(imds(f"meta-data/iam/security-credentials/{role}", base))
    return found


def account_id(base: str = IMDS) -> str:
    return str(json.loads(imds("dynamic/instance-identity/document", base))["accountId"])


def bucket_name(account: str, region: str) -> str:
    """The artifact bucket of this account and region (as vpnctl.aws.store.bucket_name)."""
    return f"vpnctl-{account}-{region}"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_headers(
    url: str, region: str, credentials: dict[str, str], now: dt.datetime, **extra: str
) -> dict[str, str]:
    """The headers of a SigV4-signed S3 GET of ``url`` (AWS Signature Version 4, "Signature
    calculations for the Authorization header": canonical request, string to sign, a signing
    key derived per date, region and service). ``extra`` headers are signed too."""
    parts = urllib.parse.urlsplit(url)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "host": parts.netloc,
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": stamp,
        **{k.lower(): v for k, v in extra.items()},
    }
    if credentials.get("Token"):
        headers["x-amz-security-token"] = credentials["Token"]
    names = sorted(headers)
    canonical = "\n".join(
        [
            "GET",
            urllib.parse.quote(parts.path or "/", safe="/~"),
            parts.query,
            *(f"{n}:{headers[n].strip()}" for n in names),
            "",
            ";".join(names),
            EMPTY_SHA256,
        ]
    )
    scope = f"{stamp[:8]}/{region}/s3/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}"
    key = ("AWS4" + credentials["SecretAccessKey"]).encode()
    for part in (stamp[:8], region, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials['AccessKeyId']}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return headers


def get_object(
    env: dict[str, str], key: str, sha256: str, credentials: dict[str, str], account: str
) -> bytes:
    """One object of the artifact bucket, or SystemExit unless its sha256 is ``sha256``."""
    bucket = bucket_name(account, env["VPNCTL_REGION"])
    url = env["VPNCTL_S3_URL"].format(bucket=bucket) + "/" + key
    now = dt.datetime.now(dt.UTC)
    # the expected owner: never read a bucket of that name someone else might have made
    headers = signed_headers(
        url, env["VPNCTL_REGION"], credentials, now, **{"x-amz-expected-bucket-owner": account}
    )
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            data = bytes(response.read())
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"s3://{bucket}/{key}: HTTP {exc.code} {exc.reason}") from exc
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise SystemExit(f"s3://{bucket}/{key}: sha256 is {found}, not the pinned {sha256}")
    return data


def write_file(path: Path, data: bytes, mode: int) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(partial, mode)
    os.replace(partial, path)


def install_config(data: bytes, root: Path = Path("/")) -> list[Path]:
    """Write the files of a fetched configuration (under ``root``), then the config itself.
    Every path is checked before the first file is written."""
    document = json.loads(data)
    if document.get("format_version") != CONFIG_FORMAT:
        raise SystemExit(f"configuration is not format {CONFIG_FORMAT}: apply with this vpnctl")
    files = [(PurePosixPath(f["path"]), f) for f in document["files"]]
    for path, _ in files:
        if ".." in path.parts or not any(path.is_relative_to(r) for r in CONFIG_ROOTS):
            roots = ", ".join(map(str, CONFIG_ROOTS))
            raise SystemExit(f"configuration names {path}, outside {roots}")
    written = []
    for path, item in files:
        target = root / path.relative_to("/")
        write_file(target, item["content"].encode(), int(item["mode"], 8))
        written.append(target)
    write_file(root / CONFIG.relative_to("/"), data, 0o644)
    return written


def desired_path(path: PurePosixPath) -> str:
    """Where an installed file of the configuration sits in the agent's desired folder."""
    if path.parent == TUNNEL_DIR and path.suffix == ".conf":
        return f"openvpn/{path.name}"
    if path.parent == PurePosixPath(CONFIG.parent) and path.name in DESIRED_NAMES:
        return path.name
    raise SystemExit(
        f"configuration names {path}, which the agent's desired folder has no place for"
    )


def lay_out_desired(data: bytes, environment: bytes | None, desired: Path = DESIRED) -> Path:
    """The agent's desired folder from a configuration (and gateway.env, for its key helper
    and region): written into a new folder named by its content, then ``desired`` (a
    symlink) is renamed onto it, atomically. Older folders are removed after the swap."""
    files = {desired_path(PurePosixPath(f["path"])): f["content"].encode()
             for f in json.loads(data)["files"]}  # fmt: skip
    if environment is not None:
        files["gateway.env"] = environment
    digest = hashlib.sha256(json.dumps({k: v.hex() for k, v in files.items()}, sort_keys=True)
                            .encode()).hexdigest()[:16]  # fmt: skip
    folder = desired.with_name(f"{desired.name}-{digest}")
    if not folder.is_dir():
        partial = desired.with_name(f".{folder.name}.new")
        shutil.rmtree(partial, ignore_errors=True)
        for relative, content in files.items():
            write_file(partial / relative, content, 0o644)
        os.rename(partial, folder)
    link = desired.with_name(f".{desired.name}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(folder.name)
    if desired.is_dir() and not desired.is_symlink():
        shutil.rmtree(desired)  # a plain folder (made by hand): rename cannot replace it
    os.replace(link, desired)
    for old in desired.parent.glob(f"{desired.name}-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def fetch(env: dict[str, str], base: str = IMDS, root: Path = Path("/")) -> None:
    """The pinned software and configuration, each checked by digest before it is installed.
    A copy already on disk with the pinned digest is used as it is: a reboot needs no S3."""
    software = root / LIB_DIR.relative_to("/") / "vpnctl.pyz"
    config = root / CONFIG.relative_to("/")
    wanted = [
        (software, env["VPNCTL_SOFTWARE_KEY"], env["VPNCTL_SOFTWARE_SHA256"], 0o755),
        (config, env["VPNCTL_CONFIG_KEY"], env["VPNCTL_CONFIG_SHA256"], 0o644),
    ]
    session: tuple[dict[str, str], str] | None = None
    for path, key, pinned, mode in wanted:
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == pinned:
            continue
        session = session or (role_credentials(base), account_id(base))
        write_file(path, get_object(env, key, pinned, *session), mode)
    install_config(config.read_bytes(), root)  # at every boot: its files as it says
    environment = root / ENV_FILE.relative_to("/")
    lay_out_desired(
        config.read_bytes(),
        environment.read_bytes() if environment.is_file() else None,
        root / DESIRED.relative_to("/"),
    )


def tunnels(config: Path = CONFIG) -> list[tuple[str, str]]:
    """(name, mode) of each tunnel of the installed configuration."""
    document = json.loads(config.read_text())
    return [(t["name"], t["mode"]) for t in document["tunnels"]]


def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    retries = Config(retries={"max_attempts": 8, "mode": "standard"})
    return boto3.client(service, region_name=os.environ["VPNCTL_REGION"], config=retries)


def wanted(prefix: str, gateway: str, tunnel: str, mode: str) -> dict[str, str]:
    """SSM parameter name -> file name, for one tunnel on this gateway: every piece it reads
    is stored under its own name (vpnctl.keys), so its role's one pattern covers them."""
    base = f"{prefix}/{tunnel}"
    if mode == "psk":
        return {f"{base}/{gateway}/psk": "psk.key"}
    return {
        f"{base}/{gateway}/tls-crypt": "tls-crypt.key",
        f"{base}/{gateway}/cert": "cert.pem",
        f"{base}/{gateway}/key": "key.pem",
        f"{base}/{gateway}/peer-fingerprint": "peer.conf",
    }


def write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value if value.endswith("\n") else value + "\n")
    os.chmod(path, 0o600)


def fetch_keys(
    ssm: Any, env: dict[str, str], found: list[tuple[str, str]], key_dir: Path = KEY_DIR
) -> None:
    for tunnel, mode in found:
        names = wanted(env["VPNCTL_PARAMETER_PREFIX"], env["VPNCTL_GATEWAY"], tunnel, mode)
        answer = ssm.get_parameters(Names=sorted(names), WithDecryption=True)
        if answer.get("InvalidParameters"):
            raise SystemExit(f"missing SSM parameters: {', '.join(answer['InvalidParameters'])}")
        for parameter in answer["Parameters"]:
            value = parameter["Value"]
            if names[parameter["Name"]] == "peer.conf":
                value = f"peer-fingerprint {value.strip()}"
            write_secret(key_dir / tunnel / names[parameter["Name"]], value)


def associate_elastic_ip(ec2: Any, env: dict[str, str], instance: str) -> None:
    """The address tagged vpnctl:topology/vpnctl:name for this gateway, which DNS points at."""
    filters = [
        {"Name": "tag:vpnctl:topology", "Values": [env["VPNCTL_TOPOLOGY"]]},
        {"Name": "tag:vpnctl:name", "Values": [env["VPNCTL_GATEWAY"]]},
    ]
    addresses = ec2.describe_addresses(Filters=filters)["Addresses"]
    if len(addresses) != 1:
        raise SystemExit(
            f"expected one Elastic IP for {env['VPNCTL_GATEWAY']}, found {len(addresses)}"
        )
    address = addresses[0]
    if address.get("InstanceId") == instance:
        return
    ec2.associate_address(
        AllocationId=address["AllocationId"], InstanceId=instance, AllowReassociation=True
    )


def source_dest_check_off(ec2: Any, instance: str) -> None:
    ec2.modify_instance_attribute(InstanceId=instance, SourceDestCheck={"Value": False})


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    command = argv[1] if len(argv) > 1 else ""
    if command == "fetch":
        fetch(env)
    elif command == "tunnels":
        print("\n".join(name for name, _ in tunnels()))
    elif command == "keys":
        fetch_keys(client("ssm"), env, tunnels())
    elif command == "elastic-ip":
        associate_elastic_ip(client("ec2"), env, imds("meta-data/instance-id"))
    elif command == "source-dest-check":
        source_dest_check_off(client("ec2"), imds("meta-data/instance-id"))
    elif command == "unhealthy":
        client("autoscaling").set_instance_health(
            InstanceId=imds("meta-data/instance-id"),
            HealthStatus="Unhealthy",
            ShouldRespectGracePeriod=False,
        )
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
