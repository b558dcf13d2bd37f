"""No import cycle anywhere in vpnctl (the AWS layer, the failover hook and the rest), type-
checking imports included.

A cycle makes the order of imports decide what works (a handler table filled as a side effect,
a name that is not defined yet); ``if TYPE_CHECKING:`` imports count, since mypy and a reader
follow them too. The graph is read from the source (``ast``), not from what happens to be
imported: every ``import`` a module runs when it is loaded, at its top or under an ``if`` or
``try`` there. An import inside a function runs when it is called, after every module is
loaded (``vpnctl.failover.handler`` defers the hook so), so it is no edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "vpnctl"


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def loaded_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements run as the module loads (not those inside functions)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody"):
                yield from loaded_imports(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                yield from loaded_imports(handler.body)
        elif isinstance(node, ast.ClassDef):
            yield from loaded_imports(node.body)


def targets(node: ast.Import | ast.ImportFrom, package: str, known: set[str]) -> set[str]:
    """The vpnctl modules an import needs: ``from a import b`` needs ``a.b`` if that is a
    module, else ``a`` (whose ``b`` it is)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in known}
    base = node.module or ""
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*parts, base] if base else parts)
    found = {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
    return found & known


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        needed: set[str] = set()
        for node in loaded_imports(tree.body):
            needed |= targets(node, package, set(known))
        edges[name] = needed - {name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = [stack.pop()]
            while component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_vpnctl() -> None:
    edges = graph()
    assert {"vpnctl.aws.actions", "vpnctl.aws.handlers", "vpnctl.failover.hook"} <= set(edges)
    assert "vpnctl.aws.context" in edges["vpnctl.aws.actions"]  # type-checking imports count
    assert cycles(edges) == []


def test_the_walk_sees_a_cycle_through_type_checking_imports() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vpnctl.aws import b\n"
    nodes = list(loaded_imports(ast.parse(source).body))
    assert targets(nodes[-1], "vpnctl.aws", {"vpnctl.aws", "vpnctl.aws.b"}) == {"vpnctl.aws.b"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_an_import_inside_a_function_is_no_edge() -> None:
    source = "def f() -> None:\n    from vpnctl.aws import b\n"
    assert list(loaded_imports(ast.parse(source).body)) == []
