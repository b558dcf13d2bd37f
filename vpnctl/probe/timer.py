"""A systemd timer that runs the probe every minute, on a gateway or any Linux host.

systemd rather than cron: a oneshot service never overlaps itself, its output goes to the
journal, and ``systemctl list-timers`` shows when it last and next runs. ``units`` renders the two
unit files as strings (tested as text); ``install`` writes them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from vpnctl.probe.atomic import write_atomically

NAME = "vpnctl-probe"
UNIT_DIR = Path("/etc/systemd/system")
_PLAIN = re.compile(r"^[A-Za-z0-9_./:=,+@%$-]+$")


def quote(arg: str) -> str:
    """One ExecStart argument, quoted by systemd's rules (not the shell's)."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if _PLAIN.fullmatch(escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def units(command: Sequence[str], every: str = "1min", name: str = NAME) -> dict[str, str]:
    """``{file name: contents}`` for the service and its timer."""
    exec_start = " ".join(quote(a) for a in command)
    service = f"""\
[Unit]
Description=vpnctl link probe (latency and loss)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart={exec_start}
# A run must end well before the next one starts.
TimeoutStartSec=50
"""
    timer = f"""\
[Unit]
Description=Run the vpnctl link probe every {every}

[Timer]
OnBootSec={every}
OnUnitActiveSec={every}
AccuracySec=1s

[Install]
WantedBy=timers.target
"""
    return {f"{name}.service": service, f"{name}.timer": timer}


def install(files: dict[str, str], directory: Path = UNIT_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in files.items():
        write_atomically(directory / file_name, text)
        written.append(directory / file_name)
    return written
