"""``vpnctl status`` against a moto server and a real DNS server (dnsmasq) on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dns.message
import dns.query
import pytest

from tests.functional.conftest import Aws
from vpnctl.cli.apply import apply
from vpnctl.cli.status import status

DEMO = [{"Name": "tag:vpnctl:topology", "Values": ["demo"]}]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dnsmasq(records: dict[str, str]) -> Iterator[str]:
    port = free_port()
    args = [
        shutil.which("dnsmasq") or "dnsmasq",
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        f"--port={port}",
        "--pid-file=",
        *(f"--host-record={name},{ip}" for name, ip in records.items()),
    ]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(port, next(iter(records)))
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=5)
        if server.stderr:
            server.stderr.close()


def wait_ready(port: int, name: str) -> None:
    for _ in range(50):
        try:
            dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", timeout=0.2, port=port)
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("dnsmasq did not answer")


@pytest.mark.skipif(
    shutil.which("dnsmasq") is None, reason="needs dnsmasq (apt-get install dnsmasq)"
)
def test_status_flags_a_name_whose_answer_is_not_its_elastic_ip(aws: Aws) -> None:
    path = aws.topology("demo")
    assert aws.run(apply, str(path), "--yes").exit_code == 0
    addresses = {}
    for region in ("us-west-2", "eu-west-1"):
        for a in aws.client("ec2", region).describe_addresses(Filters=DEMO)["Addresses"]:
            name = next(t["Value"] for t in a["Tags"] if t["Key"] == "vpnctl:name")
            addresses[f"{name}.vpn.demo.example.com"] = a["PublicIp"]
    served = dict(addresses)
    wrong = "gw-eu-west-1-b.vpn.demo.example.com"
    served[wrong] = "192.0.2.1"
    with dnsmasq(served) as resolver:
        result = aws.run(status, str(path), "--resolver", resolver)
    assert result.exit_code == 0, result.output
    lines = {line.split(":")[0].strip(): line for line in result.output.splitlines()}
    assert "DNS MISMATCH" in lines["gateway gw-eu-west-1-b"]
    assert "dns 192.0.2.1" in lines["gateway gw-eu-west-1-b"]
    right = lines["gateway gw-us-west-2-a"]
    assert f"dns {addresses['gw-us-west-2-a.vpn.demo.example.com']}" in right
    assert "<--" not in right
    assert "via gw-us-west-2-a (preferred)" in lines["route table rt-us-west-2-a"]
    assert "drift: none" in result.output
