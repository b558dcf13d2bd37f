"""The lab's gateways run the gateway agent, as on AWS: keys, desired folders, agent processes.

Each gateway has a folder ``agents/<gateway>`` in the lab's state directory:

    desired -> desired.<n>   what apply would publish for it: render's files (tunnel configs
                             with the lab's keys inline, firewall, probe plan, routes), swapped whole
                             by renaming a symlink, so the agent reads the old set or the new
    live/                    where the agent installs them (``--root``)
    agent.json, run/         the agent's record, and its openvpn pid files and logs

``vpnctl agent run --netns <gateway ns>`` runs inside the gateway's namespace (so a drill's kill
ends it with the gateway) and starts openvpn there through its Processes backend. It publishes
to the lab's AWS emulator as the gateway's emulated instance (``--endpoint-url`` at its uplink,
``--instance-id``, ``--region``, its siblings' lab addresses), as on AWS.

Keys are made once per tunnel and kept in ``keys.json`` (0600) in the state directory: a rewrite
of the desired folders gives an unchanged tunnel byte-identical config, as SSM does on AWS.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from vpnctl import images, keys, render
from vpnctl.agent.config import Config
from vpnctl.agent.state import read as read_state
from vpnctl.design import Design
from vpnctl.lab import emulator, openvpns, shell
from vpnctl.topology import Topology

READY = "Initialization Sequence Completed"
_STATUS = re.compile(r"^status \S+ (\d+)$", re.MULTILINE)


# --------------------------------------------------------------------------- keys


def _keys_file(state: Path) -> Path:
    return state / "keys.json"


def _dump(k: keys.TunnelKeys) -> dict[str, object]:
    ends = {g: {"cert_pem": e.cert_pem, "key_pem": e.key_pem, "fingerprint": e.fingerprint}
            for g, e in k.ends.items()}  # fmt: skip
    return {"mode": k.mode, "psk": k.psk, "tls_crypt": k.tls_crypt, "ends": ends}


def _load(topology: str, tunnel: str, raw: Mapping[str, object]) -> keys.TunnelKeys:
    ends_raw = raw.get("ends")
    ends = {str(g): keys.EndKeys(str(g), str(e["cert_pem"]), str(e["key_pem"]),
                                 str(e["fingerprint"]))
            for g, e in (ends_raw.items() if isinstance(ends_raw, dict) else ())}  # fmt: skip
    secret = [str(v) for v in (raw.get("psk"), raw.get("tls_crypt")) if v]
    keys.hold({str(i): v for i, v in enumerate(secret + [e.key_pem for e in ends.values()])})
    psk, tls = raw.get("psk"), raw.get("tls_crypt")
    return keys.TunnelKeys(topology, tunnel, str(raw["mode"]),
                           psk=str(psk) if psk else None, tls_crypt=str(tls) if tls else None,
                           ends=MappingProxyType(ends))  # fmt: skip


def lab_keys(state: Path, design: Design) -> dict[str, keys.TunnelKeys]:
    """Every tunnel's keys: those kept for tunnels the lab already has, fresh ones for new
    tunnels (or a tunnel whose mode changed), written back before they are used."""
    try:
        stored: dict[str, dict[str, object]] = json.loads(_keys_file(state).read_text())
    except FileNotFoundError:
        stored = {}
    found: dict[str, keys.TunnelKeys] = {}
    for tunnel in design.tunnels:
        raw = stored.get(tunnel.name)
        if raw is not None and raw.get("mode") == tunnel.mode:
            found[tunnel.name] = _load(design.name, tunnel.name, raw)
        else:
            found[tunnel.name] = keys.generate(design, tunnel)
    stored = {name: _dump(k) for name, k in found.items()}
    _write_secret(_keys_file(state), json.dumps(stored, sort_keys=True))
    return found


def _write_secret(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- desired folders


def folder(state: Path, gateway: str, *parts: str) -> Path:
    return state.joinpath("agents", gateway, *parts)


def files_for(topology: Topology, design: Design, gateway: str, state: Path,
              secrets: Mapping[str, keys.TunnelKeys]) -> dict[str, bytes]:  # fmt: skip
    """Render's files for ``gateway``, keys inline; each tunnel's status file in the lab's
    state (both ends of a tunnel run on this one machine: they cannot share /run/vpnctl)."""
    status_dir = folder(state, gateway, "status")
    topology = tuned(topology, state)
    found: dict[str, bytes] = {
        "firewall.nft": render.firewall(design, gateway).encode(),
        "probe.json": render.probe_plan(topology, design, gateway).encode(),
        "routes.json": render.routes_file(design, gateway).encode(),
    }
    for tunnel in design.tunnels_by_gateway[gateway]:
        text = render.tunnel_config(topology, design, gateway, tunnel.name, secrets[tunnel.name])
        status = status_dir / f"{tunnel.name}.status"
        text = _STATUS.sub(lambda m, to=status: f"status {to} {m[1]}", text)  # type: ignore[misc]
        found[f"openvpn/{tunnel.name}.conf"] = text.encode()
    return found


def current(state: Path, gateway: str) -> dict[str, bytes]:
    """The files of the gateway's desired folder now (empty before its first)."""
    link = folder(state, gateway, "desired")
    if not link.is_dir():
        return {}
    return {p.relative_to(link).as_posix(): p.read_bytes()
            for p in sorted(link.rglob("*")) if p.is_file()}  # fmt: skip


def publish(state: Path, gateway: str, files: Mapping[str, bytes]) -> str:
    """Write ``files`` as the gateway's desired folder, whole, and return their digest."""
    base = folder(state, gateway)
    base.mkdir(parents=True, exist_ok=True)
    folder(state, gateway, "status").mkdir(exist_ok=True)
    made = base / f"desired.{time.time_ns()}"
    for path, content in files.items():
        target = made / path
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
    link = base / "desired"
    previous = link.resolve() if link.is_symlink() else None
    tmp = base / ".desired.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(made.name)
    os.replace(tmp, link)
    for old in base.glob("desired.*"):
        if old not in (made, previous):
            shutil.rmtree(old, ignore_errors=True)
    return Config.of(dict(files)).digest


# --------------------------------------------------------------------------- agents


def image(state: Path, gateway: str) -> str | None:
    """The image the gateway was started as (``openvpns``: which OpenVPN it runs)."""
    try:
        return folder(state, gateway, "image").read_text().strip() or None
    except FileNotFoundError:
        return None


def start(state: Path, gateway: str, ns: str, image_key: str | None = None) -> None:
    """Start the gateway's agent in its namespace (again, after a drill's kill), running the
    OpenVPN of ``image_key`` (recorded; by default the one it was started as) and publishing
    to the lab's AWS emulator as its instance (``publish.json``), or without AWS if it has
    none."""
    base = folder(state, gateway)
    base.mkdir(parents=True, exist_ok=True)
    if image_key is not None:
        (base / "image").write_text(image_key + "\n")
    binary, _ = openvpns.binary_for(image(state, gateway) or images.DEFAULT_IMAGE)
    bin_dir = openvpns.path_dir(base, binary)
    path = [] if bin_dir is None else ["env", f"PATH={bin_dir}:{os.environ.get('PATH', '')}"]
    argv = [*path, sys.executable, "-m", "vpnctl", "agent", "run", "--netns", ns,
            "--root", str(base / "live"), "--desired", str(base / "desired"),
            "--state", str(base / "agent.json"), "--interval", "0.5",
            *_tuning(state), *_publishing(state, gateway)]  # fmt: skip
    env = [f"{k}={v}" for k, v in emulator.environment().items()]
    shell.spawn(["env", *env, *argv], ns, base / "agent.log")


def write_publishing(state: Path, gateway: str, endpoint: str, region: str,
                     siblings: Mapping[str, str]) -> None:  # fmt: skip
    """Where the gateway's agent publishes: the emulator, its region, its siblings' addresses."""
    spec = {"endpoint": endpoint, "region": region, "siblings": dict(siblings)}
    folder(state, gateway).mkdir(parents=True, exist_ok=True)
    folder(state, gateway, "publish.json").write_text(json.dumps(spec, sort_keys=True))


def _publishing(state: Path, gateway: str) -> list[str]:
    instance = emulator.instance_of(state, gateway)
    try:
        spec = json.loads(folder(state, gateway, "publish.json").read_text())
    except FileNotFoundError:
        spec = None
    if instance is None or spec is None:
        return ["--no-publish"]
    found = ["--endpoint-url", spec["endpoint"], "--region", spec["region"],
             "--instance-id", instance["instance"]]  # fmt: skip
    for name, address in sorted(spec["siblings"].items()):
        found += ["--sibling", f"{name}={address}"]
    return found


TUNING = ("probe_count", "probe_interval_ms", "failures", "recoveries")


def tuning(state: Path) -> dict[str, float]:
    """``lab up``'s probe settings (``--probe-count`` and the like), none given: empty."""
    try:
        found = json.loads((state / "lab.json").read_text()).get("tuning", {})
    except FileNotFoundError:
        return {}
    return {k: v for k, v in found.items() if k in TUNING and v is not None}


def _tuning(state: Path) -> list[str]:
    given = tuning(state)
    found: list[str] = []
    for key in ("probe_count", "probe_interval_ms"):
        if key in given:
            found += [f"--{key.replace('_', '-')}", str(int(given[key]))]
    return found


def tuned(topology: Topology, state: Path) -> Topology:
    """The topology with ``lab up``'s --failures/--recoveries as its failover policy."""
    given = tuning(state)
    policy = dataclasses.replace(
        topology.failover,
        consecutive_failures=int(given.get("failures", topology.failover.consecutive_failures)),
        recovery_successes=int(given.get("recoveries", topology.failover.recovery_successes)),
    )
    return dataclasses.replace(topology, failover=policy)


def tunnel_log(state: Path, gateway: str, tunnel: str) -> Path:
    return folder(state, gateway, "run", f"{tunnel}.log")


def up_since(state: Path, gateway: str, tunnel: str, offset: int = 0) -> bool:
    """Whether the tunnel's openvpn has logged that it is up (after byte ``offset``)."""
    try:
        with tunnel_log(state, gateway, tunnel).open("rb") as log:
            log.seek(offset)
            return READY.encode() in log.read()
    except FileNotFoundError:
        return False


def runs(state: Path, gateway: str, digest: str) -> bool:
    """Whether the gateway's agent records that it runs configuration ``digest``."""
    recorded = read_state(folder(state, gateway, "agent.json"))
    return recorded.config == digest and recorded.error is None


def digest(state: Path, gateway: str) -> str:
    """The digest of the gateway's desired folder now."""
    return Config.of(current(state, gateway)).digest
