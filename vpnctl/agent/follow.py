"""Following the artifact store: the running gateway's way to the configuration apply wants.

Apply keeps one pointer per gateway in its region's artifact bucket,
``<topology>/gateways/<gateway>/current.json`` = ``{"key", "sha256"}`` of the configuration
the design wants it to run (``vpnctl.aws.store.pointer``). ``Follower.poll`` reads that pointer
every ``every_s`` seconds and, when it names a configuration not laid out yet, fetches it,
refuses it unless its sha256 is the named one, and lays it out as the agent's desired folder
(``folder_of``); the converge loop then takes it in place, touching only what changed.

The folder holds the configuration's files by their place in the agent's layout and the
gateway's ``gateway.env`` with its configuration pin moved to the new configuration, so its
digest (``vpnctl.agent.config``) is the one a new instance booted from the same design would
have: ``digest`` computes it, and ``vpnctl status`` and apply's wait compare it with the
``READY_TAG`` the agent sets.

Nothing here holds a secret: the pointer and the configuration name key files, never keys.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from vpnctl.agent.config import ENVIRONMENT, TUNNEL_DIR, Config, ConfigError

log = logging.getLogger("vpnctl.agent")

# Where a configuration's files go on a gateway (``vpnctl.render``), and so which folder of
# the agent's layout each belongs to (``vpnctl.agent.layout``).
OPENVPN_DIR = PurePosixPath("/etc/openvpn/vpnctl")
ETC_DIR = PurePosixPath("/etc/vpnctl")
PIN_KEY, PIN_SHA = "VPNCTL_CONFIG_KEY", "VPNCTL_CONFIG_SHA256"


class FollowError(ValueError):
    """A pointer or configuration the agent will not lay out."""


def relative(path: str) -> str:
    """``/etc/openvpn/vpnctl/a--b.conf`` -> ``openvpn/a--b.conf``; ``/etc/vpnctl/x`` -> ``x``."""
    place = PurePosixPath(path)
    if place.parent == OPENVPN_DIR:
        return f"{TUNNEL_DIR}/{place.name}"
    if place.parent == ETC_DIR:
        return place.name
    raise FollowError(f"configuration names {path}, outside {OPENVPN_DIR} and {ETC_DIR}")


def repinned(environment: str, key: str, sha256: str) -> str:
    """``gateway.env`` with its configuration pin set to ``key``/``sha256`` (other lines kept)."""
    lines = []
    for line in environment.splitlines():
        name = line.partition("=")[0].strip()
        if name == PIN_KEY:
            line = f"{PIN_KEY}={key}"
        elif name == PIN_SHA:
            line = f"{PIN_SHA}={sha256}"
        lines.append(line)
    return "\n".join(lines) + ("\n" if environment.endswith("\n") else "")


def folder_of(config: bytes, environment: str) -> dict[str, bytes]:
    """The desired folder of a configuration (``render.gateway_config``'s JSON) and the
    ``gateway.env`` that pins it. Pure."""
    try:
        document = json.loads(config)
        files = {relative(f["path"]): f["content"].encode() for f in document["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise FollowError(f"not a vpnctl gateway configuration: {exc}") from None
    files[ENVIRONMENT] = environment.encode()
    return files


def digest(config: bytes, environment: str) -> str:
    """The agent's digest of that folder: what ``READY_TAG`` says once it runs it. Pure."""
    try:
        return Config.of(folder_of(config, environment)).digest
    except ConfigError as exc:
        raise FollowError(str(exc)) from None


def read_env(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip().strip('"') for k, v in pairs if not k.lstrip().startswith("#")}


@dataclass(frozen=True)
class Pointer:
    key: str
    sha256: str

    @classmethod
    def parse(cls, data: bytes, folder: str) -> Pointer:
        """Refused unless it names a configuration in the gateway's own folder."""
        try:
            found = json.loads(data)
            pointer = cls(str(found["key"]), str(found["sha256"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise FollowError(f"the pointer is not {{key, sha256}}: {exc}") from None
        if not pointer.key.startswith(folder) or "/.." in pointer.key:
            raise FollowError(f"the pointer names {pointer.key}, outside {folder}")
        return pointer


Get = Callable[[str], bytes]  # an object of the gateway's artifact bucket, by key


@dataclass
class Follower:
    """Keeps ``desired`` at the configuration the gateway's pointer names."""

    get: Get
    topology: str
    gateway: str
    desired: Path
    environment: Path  # the installed gateway.env (boot wrote it; converge keeps it current)
    clock: Callable[[], float]
    every_s: float = 30.0
    following: str | None = None  # the sha256 laid out last
    _next: float = field(default=float("-inf"), repr=False)

    @property
    def folder(self) -> str:
        return f"{self.topology}/gateways/{self.gateway}/"

    def poll(self) -> None:
        """At most every ``every_s``: a new pointer is laid out; a failure keeps what is there
        (it is logged, and tried again next time)."""
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.every_s
        try:
            self.follow()
        except Exception as exc:  # a bad object, an AWS refusal, the network: next time
            log.warning("following the store: %s; keeping the configuration laid out", exc)

    def follow(self) -> bool:
        """Read the pointer; lay out what it names if it is new. True when it laid one out."""
        pointer = Pointer.parse(self.get(self.folder + "current.json"), self.folder)
        if pointer.sha256 == self.following:
            return False
        config = self.get(pointer.key)
        found = hashlib.sha256(config).hexdigest()
        if found != pointer.sha256:
            raise FollowError(f"{pointer.key}: sha256 is {found}, not the named {pointer.sha256}")
        environment = repinned(self.environment.read_text(), pointer.key, pointer.sha256)
        files = folder_of(config, environment)
        Config.of(files)  # refuse a path outside the layout before anything is written
        lay_out(self.desired, files)
        self.following = pointer.sha256
        log.info("following the store: laid out configuration %s", pointer.sha256)
        return True


def lay_out(desired: Path, files: Mapping[str, bytes]) -> Path:
    """Point ``desired`` at exactly ``files``, the way boot lays it out
    (``userdata/gateway_aws.py``): a folder named by its content beside it, then ``desired``, a
    symlink, renamed onto it in one step, so a reader finds the old set or the new, never a mix
    and never nothing. Every other ``desired-*`` folder, boot's included, goes after the swap."""
    content = json.dumps({k: v.hex() for k, v in files.items()}, sort_keys=True).encode()
    folder = desired.with_name(f"{desired.name}-{hashlib.sha256(content).hexdigest()[:16]}")
    if not folder.is_dir():
        partial = desired.with_name(f".{folder.name}.new")
        shutil.rmtree(partial, ignore_errors=True)
        for path, data in files.items():
            target = partial / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        partial.rename(folder)
    link = desired.with_name(f".{desired.name}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(folder.name)
    if desired.is_dir() and not desired.is_symlink():
        shutil.rmtree(desired)  # a plain folder (an older layout): a rename cannot replace it
    link.replace(desired)
    for old in desired.parent.glob(f"{desired.name}-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def s3_getter(region: str, endpoint_url: str | None) -> Get:
    """Objects of this gateway's artifact bucket (``vpnctl-<account>-<region>``), read with
    the instance role; the account comes from STS (it answers any caller about itself), asked
    at the first read, so a failure there is one more failed poll, not a dead agent."""
    from vpnctl.aws import store
    from vpnctl.aws.door import Door
    from vpnctl.aws.door.wire import ONCE, BotoWire, Given, chain_client

    clients = {service: chain_client(service, region, endpoint_url) for service in ("s3", "sts")}
    door = Door(BotoWire(Given(clients, region), ONCE))
    found: list[str] = []

    def get(key: str) -> bytes:
        if not found:
            found.append(door.at("this gateway's", region, "caller identity").sts.account_id())
        account = found[0]
        bucket = store.bucket_name(account, region)
        return door.at(account, region, f"s3 object {bucket}/{key}").s3.get_object(
            bucket, account, key
        )

    return get
