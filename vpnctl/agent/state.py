"""The agent's own record of what it runs, kept in one JSON file replaced whole.

    {"config": "<digest>" | null, "ready": bool, "tunnels": {"<tunnel>": "<sha256>"},
     "firewall": "<sha256>" | null, "converged_at": <unix time> | null, "error": str | null}

``tunnels`` says which config each live tunnel was started from, so a tunnel is restarted
only when its own file changed; ``status`` and apply read ``config`` and ``ready``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vpnctl.probe.atomic import write_atomically


@dataclass(frozen=True)
class AgentState:
    config: str | None = None
    ready: bool = False
    tunnels: dict[str, str] = field(default_factory=dict)
    firewall: str | None = None
    converged_at: float | None = None
    error: str | None = None


def read(path: Path) -> AgentState:
    """The recorded state; an absent or unreadable file is a gateway that runs nothing known."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return AgentState()
    if not isinstance(loaded, dict):
        return AgentState()
    tunnels = loaded.get("tunnels")
    return AgentState(
        config=_str(loaded.get("config")),
        ready=loaded.get("ready") is True,
        tunnels={str(k): str(v) for k, v in tunnels.items()} if isinstance(tunnels, dict) else {},
        firewall=_str(loaded.get("firewall")),
        converged_at=_float(loaded.get("converged_at")),
        error=_str(loaded.get("error")),
    )


def write(path: Path, state: AgentState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(asdict(state), sort_keys=True, indent=1) + "\n")


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
