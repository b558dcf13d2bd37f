import errno
import socket
import struct

import pytest

from vpnctl.probe.transport import (
    TransportUnavailable,
    checksum,
    echo_request,
    open_transport,
    parse_reply,
)


def test_checksum_of_a_packet_with_its_checksum_is_zero() -> None:
    packet = echo_request(0x1234, 7, b"hello world")
    assert checksum(packet) == 0


def test_checksum_known_value() -> None:
    # RFC 1071's example words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is its complement
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2


def reply_packet(ident: int, payload: bytes, kind: int = 0) -> bytes:
    return struct.pack("!BBHHH", kind, 0, 0, ident, 1) + payload


def ip_header() -> bytes:
    return bytes([0x45]) + bytes(19)


def test_parse_reply_datagram_and_raw() -> None:
    assert parse_reply(reply_packet(99, b"data"), raw=False, ident=1) == b"data"
    assert parse_reply(ip_header() + reply_packet(1, b"data"), raw=True, ident=1) == b"data"


def test_parse_reply_ignores_others() -> None:
    assert parse_reply(ip_header() + reply_packet(2, b"x"), raw=True, ident=1) is None
    assert parse_reply(reply_packet(1, b"x", kind=8), raw=False, ident=1) is None
    assert parse_reply(b"\x00", raw=False, ident=1) is None


class Refuses:
    def __init__(self, allow: int | None = None) -> None:
        self.allow = allow
        self.asked: list[int] = []

    def __call__(self, family: int, kind: int, proto: int) -> socket.socket:
        self.asked.append(kind)
        if kind == self.allow:
            return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a stand-in fd
        raise PermissionError(errno.EACCES, "Permission denied")


def test_datagram_socket_is_tried_before_raw() -> None:
    factory = Refuses(allow=socket.SOCK_RAW)
    transport = open_transport(factory=factory)
    try:
        assert transport.kind == "raw"
        assert factory.asked == [socket.SOCK_DGRAM, socket.SOCK_RAW]
    finally:
        transport.close()


def test_no_socket_is_unavailable_with_advice() -> None:
    with pytest.raises(TransportUnavailable, match="ping_group_range"):
        open_transport(factory=Refuses())
