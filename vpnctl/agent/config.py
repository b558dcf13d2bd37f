"""A gateway's desired configuration and its digest. Pure.

A configuration is the set of files ``vpnctl render`` writes for one gateway, by path relative
to the gateway's folder: ``openvpn/<tunnel>.conf`` per tunnel, ``firewall.nft``, ``probe.json``,
``routes.json`` (per tun device, the prefixes routed into it) and ``gateway.env``. Its digest is the sha256 over the sorted paths and each file's own sha256,
so it names the content exactly, whatever order the files were read in, and two gateways with
the same files have the same digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import PurePosixPath

TUNNEL_DIR = "openvpn"
FIREWALL = "firewall.nft"
PROBE_PLAN = "probe.json"
ENVIRONMENT = "gateway.env"
ROUTES = "routes.json"
KNOWN = frozenset({FIREWALL, PROBE_PLAN, ROUTES, ENVIRONMENT})
# A tunnel's name as the design makes it (``<vpc>-<az>--<vpc>-<az>``): never a path of its own.
TUNNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# A tunnel's device (``vpnctl.render.device_name``): the only devices whose routes the agent sets.
DEVICE = re.compile(r"tun[0-9]{1,5}")


class ConfigError(ValueError):
    """A configuration the agent will not run: a path outside its layout."""


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def digest_of(files: Mapping[str, str]) -> str:
    """The digest of a configuration given as relative path -> sha256 of the file."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(f"{path}\0{files[path]}\n".encode())
    return h.hexdigest()


def tunnel_of(path: str) -> str | None:
    """``openvpn/a--b.conf`` -> ``a--b``; None for a file that is not a tunnel config."""
    parts = PurePosixPath(path).parts
    if len(parts) == 2 and parts[0] == TUNNEL_DIR and parts[1].endswith(".conf"):
        return parts[1][: -len(".conf")]
    return None


def check_path(path: str) -> None:
    """Refuse anything but the files of the layout: no absolute paths, no ``..``, no extras."""
    if path in KNOWN:
        return
    tunnel = tunnel_of(path)
    if tunnel is not None and TUNNEL_NAME.fullmatch(tunnel):
        return
    raise ConfigError(f"{path!r} is not part of a gateway configuration")


@dataclass(frozen=True)
class Config:
    """Relative path -> sha256 of its content; ``contents`` carries the bytes when known."""

    files: Mapping[str, str]
    contents: Mapping[str, bytes]

    @classmethod
    def of(cls, contents: Mapping[str, bytes]) -> Config:
        for path in contents:
            check_path(path)
        return cls({p: sha256(c) for p, c in contents.items()}, dict(contents))

    @property
    def digest(self) -> str:
        return digest_of(self.files)

    def tunnels(self) -> dict[str, str]:
        """Tunnel name -> sha256 of its config."""
        return {t: sha for p, sha in self.files.items() if (t := tunnel_of(p)) is not None}

    def routes(self) -> dict[str, str]:
        """Prefix -> the tun device it is routed into (``routes.json``; none without one)."""
        raw = self.contents.get(ROUTES)
        return parse_routes(raw) if raw is not None else {}


def parse_routes(raw: bytes) -> dict[str, str]:
    """``routes.json`` as prefix -> device; ConfigError for anything but tun devices and IPv4
    prefixes, or a prefix given to two devices."""
    try:
        devices = json.loads(raw)["devices"]
        pairs = [(str(IPv4Network(p)), str(d)) for d, found in devices.items() for p in found]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{ROUTES}: not a routes file: {exc}") from None
    routes: dict[str, str] = {}
    for prefix, device in pairs:
        if not DEVICE.fullmatch(device):
            raise ConfigError(f"{ROUTES}: {device!r} is not a tunnel device")
        if routes.setdefault(prefix, device) != device:
            raise ConfigError(f"{ROUTES}: {prefix} is routed into {routes[prefix]} and {device}")
    return routes


def tunnel_path(tunnel: str) -> str:
    return f"{TUNNEL_DIR}/{tunnel}.conf"
