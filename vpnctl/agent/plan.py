"""What the agent must do to make a running gateway match its desired configuration. Pure.

The rule is to touch only what changed: a tunnel whose config is byte-identical keeps running
(its process, its keys, its traffic), whatever else changes around it. The order is make
before break: new and changed files are written first, the firewall is loaded before a tunnel
it lets through starts, new tunnels start before removed ones stop, and files go last.

``after`` is the same rule run forward: what runs once the actions are done. The property
tests hold ``plan(desired, after(running, plan(desired, running)))`` to be empty.

Routes are not part of a tunnel's config (``routes.json`` holds them per tun device), so what a
tunnel carries changes without a restart: ``route_plan`` moves, adds and removes kernel routes
on the tunnels' devices, once those devices are up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vpnctl.agent.config import FIREWALL, Config, tunnel_of, tunnel_path


@dataclass(frozen=True)
class Running:
    """What the gateway runs: installed files (path -> sha256), live tunnels (name -> sha256
    of the config each was started from) and the sha256 of the firewall last loaded."""

    files: Mapping[str, str] = field(default_factory=dict)
    tunnels: Mapping[str, str] = field(default_factory=dict)
    firewall: str | None = None


@dataclass(frozen=True)
class Write:
    path: str

    def describe(self) -> str:
        return f"write {self.path}"


@dataclass(frozen=True)
class Remove:
    path: str

    def describe(self) -> str:
        return f"remove {self.path}"


@dataclass(frozen=True)
class LoadFirewall:
    def describe(self) -> str:
        return "load the firewall (atomically)"


@dataclass(frozen=True)
class FetchKeys:
    """Keys of tunnels about to start; a gateway reads them from SSM, the lab has them inline."""

    tunnels: tuple[str, ...]

    def describe(self) -> str:
        return f"fetch keys of {', '.join(self.tunnels)}"


@dataclass(frozen=True)
class Start:
    tunnel: str

    def describe(self) -> str:
        return f"start tunnel {self.tunnel}"


@dataclass(frozen=True)
class Restart:
    tunnel: str

    def describe(self) -> str:
        return f"restart tunnel {self.tunnel} (its config changed)"


@dataclass(frozen=True)
class Stop:
    tunnel: str

    def describe(self) -> str:
        return f"stop tunnel {self.tunnel}"


Action = Write | Remove | LoadFirewall | FetchKeys | Start | Restart | Stop


@dataclass(frozen=True)
class SetRoute:
    """``ip route replace PREFIX dev DEVICE``: adds it, or moves it from another device in one
    step (replace matches the prefix, whatever device it had)."""

    prefix: str
    device: str

    def describe(self) -> str:
        return f"route {self.prefix} into {self.device}"


@dataclass(frozen=True)
class DeleteRoute:
    prefix: str
    device: str

    def describe(self) -> str:
        return f"remove route {self.prefix} from {self.device}"


RouteAction = SetRoute | DeleteRoute


def route_plan(
    wanted: Mapping[str, str], present: Mapping[str, str], up: frozenset[str]
) -> tuple[RouteAction, ...]:
    """Make the routes on the tunnels' devices (``present``: prefix -> device) what ``wanted``
    says, make before break: a prefix whose device is not up yet keeps the route it has, and
    routes nobody wants go last, only once every wanted one is in place (until then an old
    aggregate may be what carries a new tunnel's subnet)."""
    sets = [SetRoute(p, d) for p, d in sorted(wanted.items()) if d in up and present.get(p) != d]
    if not set(wanted.values()) <= up:
        return tuple(sets)
    gone = [DeleteRoute(p, d) for p, d in sorted(present.items()) if p not in wanted]
    return (*sets, *gone)


def routes_after(present: Mapping[str, str], actions: tuple[RouteAction, ...]) -> dict[str, str]:
    """``present`` once ``actions`` are done."""
    now = dict(present)
    for action in actions:
        if isinstance(action, SetRoute):
            now[action.prefix] = action.device
        else:
            now.pop(action.prefix, None)
    return now


def plan(desired: Config, running: Running) -> tuple[Action, ...]:
    """The fewest actions that make ``running`` match ``desired``, in a safe order."""
    want, have = desired.files, running.files
    writes = [Write(p) for p in sorted(want) if have.get(p) != want[p]]
    wanted_tunnels = desired.tunnels()
    new = sorted(t for t in wanted_tunnels if t not in running.tunnels)
    changed = sorted(
        t for t, sha in wanted_tunnels.items() if t in running.tunnels and running.tunnels[t] != sha
    )
    gone = sorted(t for t in running.tunnels if t not in wanted_tunnels)
    firewall = FIREWALL in want and running.firewall != want[FIREWALL]
    return (
        *writes,
        *([LoadFirewall()] if firewall else []),
        *([FetchKeys(tuple(new))] if new else []),
        *(Start(t) for t in new),
        *(Restart(t) for t in changed),
        *(Stop(t) for t in gone),
        *(Remove(p) for p in sorted(have) if p not in want),
    )


def after(running: Running, actions: tuple[Action, ...], desired: Config) -> Running:
    """What runs once ``actions`` (from ``plan(desired, running)``) have all been done."""
    files = dict(running.files)
    tunnels = dict(running.tunnels)
    firewall = running.firewall
    for action in actions:
        match action:
            case Write(path):
                files[path] = desired.files[path]
            case Remove(path):
                files.pop(path, None)
            case LoadFirewall():
                firewall = files.get(FIREWALL)
            case Start(tunnel) | Restart(tunnel):
                tunnels[tunnel] = files[tunnel_path(tunnel)]
            case Stop(tunnel):
                tunnels.pop(tunnel, None)
            case FetchKeys():
                pass
    return Running(files, tunnels, firewall)


def touched_tunnels(actions: tuple[Action, ...]) -> frozenset[str]:
    """Every tunnel the actions start, restart or stop, or whose config they write or remove."""
    names = {a.tunnel for a in actions if isinstance(a, Start | Restart | Stop)}
    names |= {t for a in actions if isinstance(a, Write | Remove) if (t := tunnel_of(a.path))}
    return frozenset(names)
