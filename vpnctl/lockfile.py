"""The lock file's format: ``NAME.lock.json`` beside ``NAME.yaml``, committed and reviewed.

Plain JSON with sorted keys, two-space indent and one value per line, so that a pull request
shows exactly which allocations were added. It holds addresses and ports, never a secret.
``dumps``/``loads`` are pure; ``path_for``, ``read`` and ``write`` are the only file access.
"""

from __future__ import annotations

import json
import os
import tempfile
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from vpnctl.errors import Diagnostic, InputError
from vpnctl.ipam import AzAllocation, Lock, TunnelAllocation, VpcAllocation

FORMAT_VERSION = 1


def path_for(topology_path: str | Path) -> Path:
    path = Path(topology_path)
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    return path.with_name(f"{stem}.lock.json")


def dumps(lock: Lock) -> str:
    doc = {
        "format_version": FORMAT_VERSION,
        "name": lock.name,
        "blocks": {r: [str(b) for b in blocks] for r, blocks in lock.blocks.items()},
        "vpcs": {
            name: {
                **({"account": v.account, "region": v.region} if v.account and v.region else {}),
                "cidr": str(v.cidr),
                "azs": {
                    az: {"routing": str(a.routing), "gateway": str(a.gateway)}
                    for az, a in v.azs.items()
                },
            }
            for name, v in lock.vpcs.items()
        },
        "tunnels": {
            name: {"link": t.link, "inside": str(t.inside), "port": t.port}
            for name, t in lock.tunnels.items()
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def loads(text: str, file: str) -> Lock:
    try:
        doc = json.loads(text)
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"format_version {doc.get('format_version')!r} is not {FORMAT_VERSION}"
            )
        return Lock(
            name=doc["name"],
            blocks={r: tuple(IPv4Network(b) for b in bs) for r, bs in doc["blocks"].items()},
            vpcs={name: _vpc(v) for name, v in doc["vpcs"].items()},
            tunnels={name: _tunnel(t) for name, t in doc["tunnels"].items()},
        )
    except json.JSONDecodeError as exc:
        raise InputError([Diagnostic(file, exc.lineno, "(lock)", f"not JSON: {exc.msg}")]) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(
            [
                Diagnostic(
                    file,
                    1,
                    "(lock)",
                    f"not a vpnctl lock file ({exc}); restore it from "
                    "version control rather than editing it by hand",
                )
            ]
        ) from None


def _vpc(raw: dict[str, Any]) -> VpcAllocation:
    azs = {
        az: AzAllocation(IPv4Network(a["routing"]), IPv4Network(a["gateway"]))
        for az, a in raw["azs"].items()
    }
    return VpcAllocation(IPv4Network(raw["cidr"]), azs, raw.get("account"), raw.get("region"))


def _tunnel(raw: dict[str, Any]) -> TunnelAllocation:
    return TunnelAllocation(raw["link"], IPv4Network(raw["inside"]), int(raw["port"]))


def read_text(path: Path) -> str | None:
    """The lock file's text, or None when there is none yet."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def read(path: Path) -> Lock | None:
    """The lock at ``path``, or None when there is none yet."""
    text = read_text(path)
    return None if text is None else loads(text, str(path))


def write(path: Path, text: str) -> None:
    """Replace ``path`` atomically: a crash leaves the old lock or the new one, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
