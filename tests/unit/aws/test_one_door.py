"""Every AWS call goes through the door: the tree's source, read as syntax, says so.

boto3 and botocore are imported only by the door and its wiring (sessions, retries); a client
is made (``.client(``) and paged (``.get_paginator(``) only there; and exactly one ``except``
in vpnctl names a botocore exception: the door's wire, which turns it into a ``Refusal``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TREE = ROOT / "vpnctl"
WIRING = {"vpnctl/aws/session.py", "vpnctl/aws/retry.py", "vpnctl/aws/pages.py"}
# The lab's emulator plays AWS's own parts (EC2's state-change events, EventBridge's delivery,
# Lambda's runtime, the routers as the VPC's data plane, lab up's look at the ready tags): its
# clients are the emulator's wiring, not vpnctl's calls to AWS; the agents and the hook in the
# lab call through the door as on AWS.
EMULATOR = {f"vpnctl/lab/{m}.py" for m in ("emulator", "awspath", "hookrunner", "routesync")}
BOTOCORE_ERRORS = {
    "ClientError",
    "BotoCoreError",
    "ProfileNotFound",
    "NoCredentialsError",
    "NoRegionError",
    "ResponseParserError",
    "EndpointConnectionError",
}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(TREE.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def in_door(name: str) -> bool:
    return name.startswith("vpnctl/aws/door/") or name in WIRING | EMULATOR


def imports_boto(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] in ("boto3", "botocore") for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] in ("boto3", "botocore")
    return False


def names_in(node: ast.AST | None) -> set[str]:
    found: set[str] = set()
    for sub in ast.walk(node) if node is not None else ():
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
    return found


def test_only_the_door_imports_boto3_or_botocore() -> None:
    outside = [
        f"{name}:{getattr(node, 'lineno', 0)}"
        for name, tree in modules()
        for node in ast.walk(tree)
        if imports_boto(node) and not in_door(name)
    ]
    assert outside == []


def test_only_the_door_makes_or_pages_clients() -> None:
    outside = [
        f"{name}:{getattr(node, 'lineno', 0)}"
        for name, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("client", "global_client", "get_paginator", "can_paginate")
        and not in_door(name)
    ]
    assert outside == []


def test_one_except_names_a_botocore_error() -> None:
    handlers = [
        f"{name}:{getattr(node, 'lineno', 0)}"
        for name, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Try)
        and any(names_in(h.type) & BOTOCORE_ERRORS for h in node.handlers)
    ]
    assert [h.split(":")[0] for h in handlers] == ["vpnctl/aws/door/wire.py"], handlers


def test_the_scan_sees_what_it_looks_for() -> None:
    """The checks above find their targets where they are allowed (else they prove nothing)."""
    door = ast.parse((TREE / "aws/door/wire.py").read_text())
    assert any(imports_boto(n) for n in ast.walk(door))
    assert any(
        isinstance(n, ast.Try) and any(names_in(h.type) & BOTOCORE_ERRORS for h in n.handlers)
        for n in ast.walk(door)
    )
    session = ast.parse((TREE / "aws/session.py").read_text())
    assert any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "client"
        for n in ast.walk(session)
    )
