"""The lab's security groups drop what AWS drops, and the groups apply writes pass every allowed
flow, request and reply, between every pair of AZs.

``previous_gateway_permits`` is the gateway group as it was before it was fitted to an HA data
path (tunnels, and only the flows that leave the gateway's VPC, by destination port), kept here
to prove the lab catches it: with it, exactly the TCP and UDP checks between different AZs fail,
because their replies leave through another AZ's gateway, whose interface never saw the request.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from tests.system.labs import LabMaker, until
from vpnctl.aws import rules
from vpnctl.aws.changes import Permit, Ref
from vpnctl.design import Design, Gateway
from vpnctl.lab import checks, lifecycle, netthread, secgroups
from vpnctl.lab.layout import HostNode
from vpnctl.lab.lifecycle import Lab

pytestmark = pytest.mark.needs("root", "netns", "openvpn", "nft")


def previous_gateway_permits(
    design: Design, gateway: str, address_ip: Callable[[Gateway], Ref]
) -> tuple[Permit, ...]:
    found = list(rules.tunnel_permits(design, gateway, address_ip))
    vpc = design.gateway_by_name[gateway].vpc
    for flow in design.flows:
        if flow.flow.src == vpc:
            found += rules.flow_permits(flow)
    return tuple(dict.fromkeys(found))


@pytest.fixture
def lab_of(tmp_path: Path) -> Iterator[LabMaker]:
    maker = LabMaker(tmp_path)
    try:
        yield maker
    finally:
        maker.down_all()


def position(lab: Lab, host: HostNode) -> int:
    """Which AZ of its VPC a routing host is in, by order: tunnels pair gateways by it."""
    assert host.az is not None
    return sorted(s.az for s in lab.design.vpcs[host.vpc].routing_subnets).index(host.az)


def across_azs(lab: Lab, check: checks.Check) -> bool:
    return position(lab, check.source) != position(lab, check.target)


def dropped_by_gateway_groups(lab: Lab) -> int:
    return sum(
        secgroups.dropped(lab.layout.routers[gw.vpc], gw.port)
        for gw in lab.layout.gateways.values()
    )


def test_old_gateway_groups_break_tcp_and_udp_across_azs_and_the_new_ones_pass(
    lab_of: LabMaker,
) -> None:
    lab = lab_of("china-hub", aws=False)
    planned = checks.plan_checks(lab)
    secgroups.install(lifecycle.security_groups(lab, previous_gateway_permits))
    before = checks.run_checks(planned)
    broken = {o.check for o in before if not o.expected}
    should = {c for c in planned if c.expect and c.proto in ("tcp", "udp") and across_azs(lab, c)}
    assert {c.proto for c in should} == {"tcp", "udp"}
    assert broken == should, checks.describe(before)
    assert dropped_by_gateway_groups(lab) > 0  # dropped by the groups, not lost elsewhere

    secgroups.install(lifecycle.security_groups(lab))  # the shape apply writes
    after = checks.run_checks(planned)
    assert [o.check.describe() for o in after if not o.expected] == [], checks.describe(after)
    pairs = {(position(lab, c.source), position(lab, c.target)) for c in should}
    assert pairs == {(0, 1), (1, 0)}  # every pair of different AZs was checked, and passes


def test_host_groups_block_what_the_stateless_gateway_filter_passes(lab_of: LabMaker) -> None:
    """A stateless filter passes "replies" by source port: from an allowed flow's server port
    to any port. The routing group on the receiving host is stateful and drops them (on AWS
    and in the lab alike), so they reach no socket."""
    lab = lab_of("china-hub", aws=False)
    us, cn = (
        lab.layout.host("us-west-2", "us-west-2a"),
        lab.layout.host("cn-north-1", "cn-north-1a"),
    )
    # cn-north-1 -> us-west-2 udp 8301 lets us-west-2 hosts send from port 8301 to cn-north-1
    before = secgroups.dropped(cn.ns, secgroups.HOST_PORT)
    got = netthread.call_in(cn.ns, lambda: _listen_udp(cn.address, 40000, us, 8301))
    assert got == b""
    assert secgroups.dropped(cn.ns, secgroups.HOST_PORT) > before  # it got there, and no further
    # us-west-2 -> cn-north-1 tcp 8500 lets cn-north-1 hosts send ACKs from port 8500
    before = secgroups.dropped(us.ns, secgroups.HOST_PORT)
    netthread.call_in(cn.ns, lambda: _send_ack(us.address, 8500, 40000), timeout=10)
    assert until(lambda: secgroups.dropped(us.ns, secgroups.HOST_PORT) > before, 3.0, every=0.1)


def _listen_udp(address: IPv4Address, port: int, sender: HostNode, source_port: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((str(address), port))
        sock.settimeout(2)

        def send() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
                out.bind((str(sender.address), source_port))
                for _ in range(3):
                    out.sendto(b"not a reply", (str(address), port))

        netthread.call_in(sender.ns, send, timeout=10)
        try:
            return sock.recv(64)
        except TimeoutError:
            return b""


def _send_ack(to: IPv4Address, source_port: int, port: int) -> None:
    """A bare TCP ACK to ``to``:``port`` from ``source_port`` (a raw socket; the kernel writes
    the IP header and picks the source address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP) as sock:
        sock.connect((str(to), 0))
        ours = IPv4Address(sock.getsockname()[0])
        header = struct.pack("!HHIIBBHHH", source_port, port, 1, 1, 5 << 4, 0x10, 1024, 0, 0)
        pseudo = ours.packed + to.packed + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(header))
        checksum = _checksum(pseudo + header)
        sock.send(header[:16] + struct.pack("!H", checksum) + header[18:])


def _checksum(data: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
