"""Where a configuration's files live on the machine the agent runs on.

On a gateway these are the paths boot and the units use (``/etc/openvpn/vpnctl/<tunnel>.conf``
for ``vpnctl-openvpn@<tunnel>.service``, ``/etc/vpnctl`` for the rest); in a lab, one folder per
gateway. ``render`` writes user-data for the same paths: a test holds the two to each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vpnctl.agent.config import TUNNEL_DIR, tunnel_of

GATEWAY_OPENVPN_DIR = Path("/etc/openvpn/vpnctl")
GATEWAY_ETC_DIR = Path("/etc/vpnctl")
GATEWAY_STATE = Path("/var/lib/vpnctl/agent.json")


@dataclass(frozen=True)
class Layout:
    openvpn_dir: Path  # <tunnel>.conf
    etc_dir: Path  # firewall.nft, probe.json, gateway.env

    @classmethod
    def gateway(cls) -> Layout:
        return cls(GATEWAY_OPENVPN_DIR, GATEWAY_ETC_DIR)

    @classmethod
    def under(cls, root: Path) -> Layout:
        """Everything below one folder (a lab gateway, a test)."""
        return cls(root / TUNNEL_DIR, root)

    def where(self, path: str) -> Path:
        """The absolute place of a configuration file given by its relative path."""
        tunnel = tunnel_of(path)
        if tunnel is not None:
            return self.openvpn_dir / f"{tunnel}.conf"
        return self.etc_dir / path

    def installed(self, known: frozenset[str]) -> dict[str, Path]:
        """Relative path -> file, for every configuration file present now."""
        found = {p: self.etc_dir / p for p in known if (self.etc_dir / p).is_file()}
        if self.openvpn_dir.is_dir():
            for conf in self.openvpn_dir.glob("*.conf"):
                found[f"{TUNNEL_DIR}/{conf.name}"] = conf
        return found
