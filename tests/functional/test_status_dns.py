"""status asks DNS for every gateway's name at once: a silent name server costs one timeout,
not one per gateway. Traffic only to a loopback socket this test made."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from vpnctl.aws import dns


@pytest.fixture
def silent() -> Iterator[str]:
    """A UDP socket on loopback that reads nothing and answers nothing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_names_are_asked_in_parallel_with_progress(silent: str) -> None:
    names = [f"gw-{i}.vpn.example.com" for i in range(8)]
    seen: list[tuple[int, int]] = []
    start = time.monotonic()
    answers = dns.ask(names, [silent], timeout=0.5, progress=lambda d, t: seen.append((d, t)))
    took = time.monotonic() - start
    assert took < 2.0, f"{took:.1f} s: one after another would take {0.5 * len(names):.1f} s"
    assert sorted(answers) == sorted(names)
    assert all(a.error and "Timeout" in a.error for a in answers.values())
    assert seen == [(i, len(names)) for i in range(1, len(names) + 1)]
