"""YAML read into plain Python values, with the source line of every key kept.

PyYAML's ``safe_load`` forgets where things were and silently keeps the last of two duplicate
keys. Here the document is composed into nodes and walked by hand, so that every mapping key and
list item is recorded under its dotted path (``vpcs.cn-north-1.cidr``, ``links[1].between``) with
its line, and a duplicate key is an error rather than a silent overwrite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from vpnctl.errors import Diagnostic, InputError, Problem

Path = tuple[str | int, ...]


def dotted(path: Path) -> str:
    """``("links", 1, "between")`` -> ``links[1].between``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class Source:
    """A loaded document: its file name, its value, and the line of each dotted key."""

    file: str
    value: Any
    lines: Mapping[str, int] = field(default_factory=dict)
    # problems found while reading (duplicate keys): reported with the schema's problems
    found: tuple[Diagnostic, ...] = ()

    def line_of(self, key: str) -> int:
        """The line of ``key``, or of its nearest ancestor that has one (1 if none does)."""
        while key:
            if key in self.lines:
                return self.lines[key]
            cut = max(key.rfind("."), key.rfind("["))
            key = key[:cut] if cut > 0 else ""
        return 1

    def diagnose(self, problems: list[Problem]) -> list[Diagnostic]:
        ordered = sorted(problems, key=lambda p: (self.line_of(p.key), p.key, p.message))
        return [Diagnostic(self.file, self.line_of(p.key), p.key, p.message) for p in ordered]

    def fail(self, problems: list[Problem]) -> InputError:
        every = [*self.found, *self.diagnose(problems)]
        return InputError(sorted(every, key=lambda d: (d.line, d.key)))


def load(text: str, file: str) -> Source:
    """Parse ``text`` (the contents of ``file``); raise InputError if it is not YAML.

    Duplicate keys do not stop the reading: they are kept in ``found``, so that they are
    reported together with whatever else is wrong.
    """
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = exc.problem or exc.context or "malformed YAML"
        raise InputError(
            [Diagnostic(file, line, "(document)", f"malformed YAML: {reason}")]
        ) from None
    except yaml.YAMLError as exc:
        raise InputError([Diagnostic(file, 1, "(document)", f"malformed YAML: {exc}")]) from None
    if node is None:
        raise InputError([Diagnostic(file, 1, "(document)", "the file is empty")])
    walker = _Walker(loader, file)
    value = walker.walk(node, ())
    return Source(file, value, walker.lines, tuple(walker.problems))


# libyaml's parser where PyYAML was built with it: the same nodes and marks, ten times faster
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Walker:
    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.lines: dict[str, int] = {}
        self.problems: list[Diagnostic] = []

    def walk(self, node: yaml.Node, path: Path) -> Any:
        if path:
            self.lines.setdefault(dotted(path), node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            where = (*path, str(key))
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int) or isinstance(key, bool):
                self._problem(line, where, "keys must be plain names")
                continue
            key = str(key)
            if key in result:
                first = self.lines[dotted(where)]
                self._problem(
                    line,
                    where,
                    f"duplicate key (first given on line {first}); "
                    "YAML keeps only one of them, so remove or rename one",
                )
                continue
            self.lines[dotted(where)] = line
            result[key] = self.walk(value_node, where)
        return result

    def _problem(self, line: int, path: Path, message: str) -> None:
        self.problems.append(Diagnostic(self.file, line, dotted(path), message))
