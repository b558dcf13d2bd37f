"""Network namespaces for system tests: made by the test, and always removed.

    with netns.pair() as (near, far):           # two namespaces joined by a veth /24
        near.run("ping", "-c1", far.address)    # near.address 10.200.0.1, far 10.200.0.2

    with netns.namespace() as ns:               # one namespace, loopback up
        proc = ns.popen("some-daemon")          # stopped when the namespace goes

Names are unique per process and call (pid + random), so tests run in parallel under xdist.
Everything is removed in ``finally``: processes started with ``popen`` are killed, then the
namespace is deleted, which deletes its veth ends too.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

NEAR, FAR = "10.200.0.1", "10.200.0.2"


def unique(prefix: str = "vt") -> str:
    """A short unique name (interface names are at most 15 characters)."""
    return f"{prefix}{os.getpid() % 10000}{uuid.uuid4().hex[:5]}"


@dataclass
class Namespace:
    name: str
    made_address: str | None = None  # its address on the veth, when made by ``pair``

    @property
    def address(self) -> str:
        """The namespace's veth address; only namespaces made by ``pair`` have one."""
        assert self.made_address is not None, f"{self.name} was not made by pair()"
        return self.made_address

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def command(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), check=check, capture_output=True, text=True, timeout=timeout
        )

    def popen(self, *args: str, **kwargs: object) -> subprocess.Popen[bytes]:
        """Start a process in the namespace; it is killed when the namespace is removed."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(self.command(*args), **kwargs)  # type: ignore[call-overload]
        self.processes.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.processes:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        self.processes.clear()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def namespace(prefix: str = "vt") -> Iterator[Namespace]:
    ns = Namespace(unique(prefix))
    _ip("netns", "add", ns.name)
    try:
        ns.run("ip", "link", "set", "lo", "up")
        yield ns
    finally:
        ns.stop()
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)


def veth(a: Namespace, b: Namespace, a_cidr: str, b_cidr: str) -> tuple[str, str]:
    """Join two namespaces with a veth pair, addressed and up; returns the interface names."""
    a_if, b_if = unique("va"), unique("vb")
    _ip("link", "add", a_if, "netns", a.name, "type", "veth", "peer", "name", b_if, "netns", b.name)
    for ns, ifname, cidr in ((a, a_if, a_cidr), (b, b_if, b_cidr)):
        ns.run("ip", "addr", "add", cidr, "dev", ifname)
        ns.run("ip", "link", "set", ifname, "up")
    return a_if, b_if


@contextlib.contextmanager
def pair(
    near_cidr: str = f"{NEAR}/30", far_cidr: str = f"{FAR}/30"
) -> Iterator[tuple[Namespace, Namespace]]:
    """Two namespaces joined by one veth link."""
    with namespace("vn") as near, namespace("vf") as far:
        veth(near, far, near_cidr, far_cidr)
        near.made_address, far.made_address = near_cidr.split("/")[0], far_cidr.split("/")[0]
        yield near, far


def nft(ns: Namespace, script: str) -> None:
    """Load an nftables ruleset into the namespace (removed with it)."""
    subprocess.run(
        ns.command("nft", "-f", "-"), input=script, check=True, capture_output=True, text=True
    )


def drop_echo_requests(ns: Namespace, percent: int) -> None:
    """Drop ``percent`` % of incoming echo requests at random (nftables numgen)."""
    chance = "" if percent >= 100 else f"numgen random mod 100 < {percent}"
    nft(
        ns,
        f"""
table inet vpnctl_loss {{
  chain input {{
    type filter hook input priority 0; policy accept;
    icmp type echo-request {chance} drop
  }}
}}
""",
    )
