#!/usr/bin/env python3
"""The AWS calls a gateway makes about itself at boot, with its instance role.

Runs on the gateway (python3 and python3-boto3 from the distribution), not in vpnctl: it reads
``/etc/vpnctl/gateway.env`` from the environment, finds its instance ID through IMDSv2 (a
session token, never the v1 path), and lets boto3 take the instance role's credentials the same
way. Commands:

``keys``               fetch this gateway's tunnel keys from SSM (SecureString) into 0600 files
``elastic-ip``         associate the Elastic IP tagged for this gateway
``source-dest-check``  turn the check off: an instance cannot route for others with it on
``unhealthy REASON``   tell the Auto Scaling group to replace this instance

Key material is written, never printed: errors name parameters, not values.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

IMDS = "http://169.254.169.254/latest"
KEY_DIR = Path("/etc/openvpn/vpnctl/keys")


def imds(path: str) -> str:
    """One IMDSv2 read: a PUT for a short-lived token, then the GET with it."""
    put = urllib.request.Request(
        f"{IMDS}/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
    )
    with urllib.request.urlopen(put, timeout=5) as response:
        token = response.read().decode()
    get = urllib.request.Request(f"{IMDS}/{path}", headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(get, timeout=5) as response:
        return str(response.read().decode())


def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    retries = Config(retries={"max_attempts": 8, "mode": "standard"})
    return boto3.client(service, region_name=os.environ["VPNCTL_REGION"], config=retries)


def wanted(prefix: str, gateway: str, tunnel: str, mode: str) -> dict[str, str]:
    """SSM parameter name -> file name, for one tunnel on this gateway (its own key only)."""
    base = f"{prefix}/{tunnel}"
    if mode == "psk":
        return {f"{base}/psk": "psk.key"}
    return {
        f"{base}/tls-crypt": "tls-crypt.key",
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


def fetch_keys(ssm: Any, env: dict[str, str], key_dir: Path = KEY_DIR) -> None:
    for entry in env["VPNCTL_TUNNELS"].split():
        tunnel, mode = entry.split(":")
        names = wanted(env["VPNCTL_PARAMETER_PREFIX"], env["VPNCTL_GATEWAY"], tunnel, mode)
        found = ssm.get_parameters(Names=sorted(names), WithDecryption=True)
        if found.get("InvalidParameters"):
            raise SystemExit(f"missing SSM parameters: {', '.join(found['InvalidParameters'])}")
        for parameter in found["Parameters"]:
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


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    command = argv[1] if len(argv) > 1 else ""
    if command == "keys":
        fetch_keys(client("ssm"), env)
    elif command == "elastic-ip":
        associate_elastic_ip(client("ec2"), env, imds("meta-data/instance-id"))
    elif command == "source-dest-check":
        client("ec2").modify_instance_attribute(
            InstanceId=imds("meta-data/instance-id"), SourceDestCheck={"Value": False}
        )
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
