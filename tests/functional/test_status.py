"""``vpnctl status`` against a moto server and a real DNS server (dnsmasq) on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dns.exception
import dns.message
import dns.query
import pytest

from tests.functional.conftest import Aws
from tests.functional.reconcile import reconcile
from vpnctl.cli.apply import apply
from vpnctl.cli.status import status

DEMO = [{"Name": "tag:vpnctl:topology", "Values": ["demo"]}]


def free_port() -> int:
    """A loopback port free for UDP and TCP both: dnsmasq binds the two."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue  # a TCP listener holds it (a moto server of another test)
                return port


@contextmanager
def dnsmasq(records: dict[str, str]) -> Iterator[str]:
    """dnsmasq serving ``records`` on a free loopback port. The port is free when chosen, not
    necessarily when dnsmasq binds it (other tests run beside this one): a start that fails
    is tried again on another port, and a last failure says what dnsmasq said."""
    said = ""
    for _ in range(8):
        port = free_port()
        server = subprocess.Popen(
            [
                shutil.which("dnsmasq") or "dnsmasq",
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                f"--port={port}",
                "--pid-file=",
                *(f"--host-record={name},{ip}" for name, ip in records.items()),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            if answers(server, port, next(iter(records))):
                yield f"127.0.0.1:{port}"
                return
        finally:
            server.terminate()
            _, said = server.communicate(timeout=5)
    raise RuntimeError(f"dnsmasq did not answer: {said.strip() or 'it said nothing'}")


def answers(server: subprocess.Popen[str], port: int, name: str) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.poll() is None:
        try:
            dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", timeout=0.2, port=port)
            return True
        except (dns.exception.Timeout, OSError):
            time.sleep(0.1)
    return False


@pytest.mark.skipif(
    shutil.which("dnsmasq") is None and os.environ.get("CI", "").lower() != "true",
    reason="needs dnsmasq (apt-get install dnsmasq); never skipped under CI=true",
)
def test_status_flags_a_name_whose_answer_is_not_its_elastic_ip(aws: Aws) -> None:
    path = aws.topology("demo")
    assert aws.run(apply, str(path), "--yes").exit_code == 0
    reconcile(aws, path)  # each gateway as its boot leaves it (no boot runs on moto)
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
