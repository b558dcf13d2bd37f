"""One pass of the agent: read what is wanted and what runs, plan, act, record.

``load`` reads a desired configuration folder (the files ``vpnctl render`` writes for one
gateway) and refuses it when its digest is not the one expected, so a half-written or tampered
folder is never run. ``converge`` is the whole pass; ``run`` repeats it, with the clock and
sleep passed in. A failed action stops the pass: what was done is recorded, the error is kept
in the state file, and the next pass plans again from what then runs.

After the files and tunnels, the routes: once the devices of tunnels it started are up (or
``DEVICE_WAIT_S`` passed), the pass makes the routes on the tunnel devices what
``routes.json`` says (``plan.route_plan``). A gateway is ready only with every route in place;
a device that comes up later (a tunnel OpenVPN's unit restarted) gets its routes next pass.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from vpnctl.agent import state as statefile
from vpnctl.agent.backend import Backend, BackendError
from vpnctl.agent.config import (
    ENVIRONMENT,
    KNOWN,
    ROUTES,
    Config,
    ConfigError,
    sha256,
    tunnel_path,
)
from vpnctl.agent.layout import Layout
from vpnctl.agent.plan import (
    Action,
    FetchKeys,
    LoadFirewall,
    Remove,
    Restart,
    RouteAction,
    Running,
    SetRoute,
    Start,
    Stop,
    Write,
    after,
    plan,
    route_plan,
    routes_after,
)
from vpnctl.agent.state import AgentState
from vpnctl.errors import VpnctlError

log = logging.getLogger("vpnctl.agent")

DEVICE_WAIT_S = 5.0  # how long a pass waits for the devices of tunnels it started


class AgentError(VpnctlError):
    """The desired configuration cannot be run (missing, not what its digest says)."""


@dataclass(frozen=True)
class Result:
    """What one pass did: the digest it aimed at, the actions taken, and where it ended."""

    digest: str
    actions: tuple[Action | RouteAction, ...]
    state: AgentState
    routed: bool = True  # every route of routes.json is on its device

    @property
    def converged(self) -> bool:
        return self.state.config == self.digest and self.state.error is None and self.routed


Observer = Callable[[Result], None]


def load(folder: Path, expected: str | None = None) -> Config:
    """The desired configuration in ``folder``; AgentError unless its digest is ``expected``."""
    if not folder.is_dir():
        raise AgentError(f"{folder}: no desired configuration there")
    contents: dict[str, bytes] = {}
    try:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                contents[path.relative_to(folder).as_posix()] = path.read_bytes()
        config = Config.of(contents)
        config.routes()  # a malformed routes file is refused with the folder
    except (OSError, ConfigError) as exc:
        raise AgentError(f"{folder}: {exc}") from exc
    if expected is not None and config.digest != expected:
        raise AgentError(f"{folder}: digest {config.digest} is not the expected {expected}")
    return config


def observe(layout: Layout, backend: Backend, recorded: AgentState) -> Running:
    """What runs now. A live tunnel the record does not know (started by boot) is taken to run
    the config installed for it."""
    files = {p: sha256(f.read_bytes()) for p, f in layout.installed(KNOWN).items()}
    tunnels = {t: recorded.tunnels.get(t) or files.get(tunnel_path(t), "") for t in backend.alive()}
    return Running(files, tunnels, recorded.firewall)


def converge(
    desired: Config,
    layout: Layout,
    backend: Backend,
    state_path: Path,
    clock: Callable[[], float],
    device_wait_s: float = DEVICE_WAIT_S,
) -> Result:
    recorded = statefile.read(state_path)
    running = observe(layout, backend, recorded)
    actions = plan(desired, running)
    done: list[Action] = []
    routed: tuple[RouteAction, ...] = ()
    routes_ok = False
    error = None
    try:
        for action in actions:
            _do(action, desired, layout, backend)
            done.append(action)
        started = any(isinstance(a, Start | Restart) for a in done)
        if ROUTES in desired.contents:  # without a routes file, routes are not the agent's
            routed, routes_ok = _route(desired.routes(), backend, device_wait_s if started else 0.0)
        else:
            routes_ok = True
    except (OSError, BackendError) as exc:
        error = str(exc)
    now = after(running, tuple(done), desired)
    complete = error is None
    ready = complete and routes_ok and set(desired.tunnels()) <= backend.alive()
    new = AgentState(
        config=desired.digest if complete else recorded.config,
        ready=ready,
        tunnels=dict(now.tunnels),
        firewall=now.firewall,
        converged_at=clock() if complete else recorded.converged_at,
        error=error,
    )
    statefile.write(state_path, new)
    return Result(desired.digest, (*done, *routed), new, routes_ok)


def _route(
    wanted: Mapping[str, str], backend: Backend, wait_s: float
) -> tuple[tuple[RouteAction, ...], bool]:
    """Set the routes ``wanted`` (prefix -> device) on the devices that are up, first waiting
    up to ``wait_s`` for all of them; the actions taken, and whether every route is in place."""
    devices = frozenset(wanted.values())
    deadline = time.monotonic() + wait_s
    up = backend.devices_up()
    while not devices <= up and time.monotonic() < deadline:
        time.sleep(0.05)
        up = backend.devices_up()
    present = backend.routes()
    actions = route_plan(wanted, present, up)
    for action in actions:
        if isinstance(action, SetRoute):
            backend.set_route(action.prefix, action.device)
        else:
            backend.delete_route(action.prefix, action.device)
        log.info("%s", action.describe())
    now = routes_after(present, actions)
    return actions, all(now.get(p) == d for p, d in wanted.items())


def _do(action: Action, desired: Config, layout: Layout, backend: Backend) -> None:
    match action:
        case Write(path):
            _install(layout.where(path), desired.contents[path])
        case Remove(path):
            layout.where(path).unlink(missing_ok=True)
        case LoadFirewall():
            backend.load_firewall(layout.where("firewall.nft"))
        case FetchKeys(tunnels):
            backend.fetch_keys(tunnels, _environment(desired))
        case Start(tunnel):
            backend.start(tunnel, layout.where(tunnel_path(tunnel)))
        case Restart(tunnel):
            backend.restart(tunnel, layout.where(tunnel_path(tunnel)))
        case Stop(tunnel):
            backend.stop(tunnel)


def _install(path: Path, content: bytes) -> None:
    """Write beside, then rename: a unit (re)starting reads the old file or the new, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _environment(desired: Config) -> dict[str, str]:
    """``gateway.env`` of the desired configuration as variables (for the keys helper)."""
    text = desired.contents.get(ENVIRONMENT, b"").decode()
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip().strip('"') for k, v in pairs if not k.lstrip().startswith("#")}


def run(
    source: Callable[[], Config],
    layout: Layout,
    backend: Backend,
    state_path: Path,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    interval_s: float,
    observers: Iterable[Observer] = (),
    passes: int | None = None,
) -> Result | None:
    """Converge every ``interval_s`` (forever, or ``passes`` times); each result goes to the
    observers. A pass runs only when something differs: the desired digest, or a tunnel that
    should run and does not."""
    last: Result | None = None
    count = 0
    while passes is None or count < passes:
        count += 1
        try:
            desired = source()
        except AgentError as exc:
            if passes is not None:
                raise
            log.warning("%s; keeping what runs and trying again", exc)  # mid-update, say
            sleep(interval_s)
            continue
        recorded = statefile.read(state_path)
        if _settled(desired, recorded, backend) and last is not None:
            last = replace(last, actions=())
        else:
            last = converge(desired, layout, backend, state_path, clock)
        for observer in observers:
            observer(last)
        if passes is None or count < passes:
            sleep(interval_s)
    return last


def _settled(desired: Config, recorded: AgentState, backend: Backend) -> bool:
    wanted: Mapping[str, str] = desired.tunnels()
    return (
        recorded.config == desired.digest
        and recorded.error is None
        and set(wanted) <= backend.alive()
        and (ROUTES not in desired.contents or _routed(desired.routes(), backend))
    )


def _routed(wanted: Mapping[str, str], backend: Backend) -> bool:
    """Whether a pass would leave the routes as they are: one look at the routes when they are
    exactly the wanted ones (every pass, mostly), the devices too only when not."""
    present = backend.routes()
    return present == wanted or not route_plan(wanted, present, backend.devices_up())
