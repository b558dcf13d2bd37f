"""Running labs of the example topologies in system tests, each removed afterwards.

Each lab is a copy of an example topology under a unique name, so labs never meet under
pytest-xdist; ``LabMaker.down_all`` (called in a fixture's ``finally``) takes every one down and
checks nothing of it is left.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from vpnctl.cli import cli
from vpnctl.lab import agents, lifecycle, shell

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


def copy_topology(
    tmp_path: Path, name: str, mode: str, allow: list[dict[str, Any]] | None = None
) -> Path:
    doc = yaml.safe_load((TOPOLOGIES / f"{name}.yaml").read_text())
    doc["name"] = f"t{uuid.uuid4().hex[:8]}"
    doc["tunnel"] = {"mode": mode}
    if allow is not None:
        doc["allow"] = allow
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def leftovers(prefix: str) -> list[str]:
    found = [ns for ns in shell.namespaces() if ns.startswith(prefix)]
    found += (
        [str(p) for p in shell.ETC_NETNS.glob(f"{prefix}*")] if shell.ETC_NETNS.is_dir() else []
    )
    found += [str(p) for p in lifecycle.STATE_ROOT.glob(f"{prefix}*")]
    return found


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result.stdout


class LabMaker:
    """``make(name, mode, *up_args, allow=...)``: a running lab of that example."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.made: list[lifecycle.Lab] = []

    def __call__(
        self,
        name: str,
        mode: str = "psk",
        *up_args: str,
        allow: list[dict[str, Any]] | None = None,
        aws: bool = True,
    ) -> lifecycle.Lab:
        """``aws`` False: ``lab up --no-aws``, the data plane alone, for tests that move no
        route (about 2 s a lab instead of 20-30 s with the emulator and apply)."""
        path = copy_topology(self.tmp_path, name, mode, allow)
        lab = lifecycle.open_lab(path)
        self.made.append(lab)
        invoke("lab", "up", str(path), *up_args, *([] if aws else ["--no-aws"]))
        return lab

    def down_all(self) -> None:
        for lab in self.made:
            lifecycle.down(lab.layout.prefix)
            assert leftovers(lab.layout.prefix) == []


def tunnel_pids(lab: lifecycle.Lab) -> dict[str, str]:
    """``gateway tunnel`` -> the pid its agent's openvpn runs as (from its pid file)."""
    return {
        f"{gateway} {tunnel.name}": agents.folder(lab.state, gateway, "run", f"{tunnel.name}.pid")
        .read_text()
        .strip()
        for gateway, tunnels in lab.design.tunnels_by_gateway.items()
        for tunnel in tunnels
    }


def apply_watched(
    first: Path, edited: Path, seconds: float
) -> tuple[str, list[dict[str, Any]], float]:
    """``lab apply`` of ``edited`` while ``lab watch`` runs over the lab of ``first`` for
    ``seconds``: what apply said, the flows the watch measured, and how long apply took."""
    watcher = subprocess.Popen(
        [sys.executable, "-m", "vpnctl", "lab", "watch", str(first), "--seconds", str(seconds),
         "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(4)  # the flows are steady before the change
        began = time.monotonic()
        said = invoke("lab", "apply", str(edited))
        took = time.monotonic() - began
        out, err = watcher.communicate(timeout=seconds + 30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    print(said)
    flows: list[dict[str, Any]] = json.loads(out)["flows"]
    return said, flows, took


def until(what: Callable[[], bool], seconds: float, every: float = 0.2) -> bool:
    """Whether ``what()`` holds within ``seconds`` (asked every ``every`` s, and once at the end)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(every)
    return what()
