"""YAML read into plain Python values, with the source line of every key kept.

PyYAML's ``safe_load`` forgets where things were and silently keeps the last of two duplicate
keys. Here the parser's event stream is built into values by hand, so that every mapping key and
list item is recorded under its dotted path (``vpcs.cn-north-1.cidr``, ``links[1].between``) with
its line, and a duplicate key is an error rather than a silent overwrite.

Building by hand is also where hostile YAML is stopped, each with a ``FILE:LINE`` message:

- nesting deeper than ``MAX_DEPTH``, and more than ``MAX_NODES`` values counting every alias
  at its full size (an alias bomb is refused after reading its few hundred bytes, never
  expanded: an alias shares the value of its anchor);
- a recursive or undefined alias, more than one document;
- any tag (``!!str``, ``!!int``, ``!!timestamp``, ``!custom``, also on collections), a merge key
  (``<<``), and a plain scalar that reads as a date or time; the topology uses none of them.

Plain scalars follow YAML 1.2's core schema, not 1.1's: ``true``/``false`` are the booleans
(``yes``, ``on``, ``no`` stay text), integers are decimal (``010``, ``0x1f``, ``1_000`` and
``1:30`` stay text, and are then refused where a number is wanted), at most ``MAX_DIGITS``
digits long.
"""

from __future__ import annotations

import re
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


def printable(key: str) -> str:
    """``key`` (or a message) with each control character escaped, so that one problem stays
    one line of output whatever the input held."""
    if key.isprintable():
        return key
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in key)


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
        return [
            Diagnostic(self.file, self.line_of(p.key), printable(p.key), printable(p.message))
            for p in ordered
        ]

    def fail(self, problems: list[Problem]) -> InputError:
        every = [*self.found, *self.diagnose(problems)]
        return InputError(sorted(every, key=lambda d: (d.line, d.key)))


MAX_DEPTH = 16  # a topology nests 5 deep; the lock file 5
MAX_NODES = 2_000_000  # a 10,000-VPC topology has about 100,000
MAX_DIGITS = 18  # more than any port, size or count needs, far below Python's 4,300


def load(text: str, file: str) -> Source:
    """Parse ``text`` (the contents of ``file``); raise InputError if it is not YAML.

    Duplicate keys do not stop the reading: they are kept in ``found``, so that they are
    reported together with whatever else is wrong.
    """
    _refuse_odd_breaks(text, file)
    loader = _Loader(text)
    builder = _Builder(loader, file)
    try:
        value = builder.document()
    except _Refused as exc:
        raise InputError([Diagnostic(file, exc.line, printable(exc.key), exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = exc.problem or exc.context or "malformed YAML"
        raise InputError(
            [Diagnostic(file, line, "(document)", f"malformed YAML: {reason}")]
        ) from None
    except yaml.YAMLError as exc:
        raise InputError([Diagnostic(file, 1, "(document)", f"malformed YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return Source(file, value, builder.lines, tuple(builder.problems))


# Line breaks YAML 1.1 counts that editors do not: they would shift every line number after
# them (and a topology has no use for them). "\r" alone is one too, but "\r\n" is common.
_ODD_BREAKS = re.compile("[\x85\u2028\u2029]|\r(?!\n)")


def _refuse_odd_breaks(text: str, file: str) -> None:
    found = _ODD_BREAKS.search(text)
    if found is not None:
        line = text.count("\n", 0, found.start()) + 1
        what = f"U+{ord(found.group()):04X}"
        raise InputError(
            [
                Diagnostic(
                    file,
                    line,
                    "(document)",
                    f"{what} is a line break to YAML but not to an editor; remove it",
                )
            ]
        )


# libyaml's parser where PyYAML was built with it: the same events and marks, ten times faster
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+)")
_SPECIAL_FLOAT = {
    **{
        f"{sign}.{inf}": float(f"{sign}inf")
        for sign in ("", "+", "-")
        for inf in ("inf", "Inf", "INF")
    },
    **{f".{nan}": float("nan") for nan in ("nan", "NaN", "NAN")},
}
# what YAML 1.1 reads as a timestamp: a date, maybe with a time
_DATE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ]|\Z).*", re.DOTALL)


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark is not None else 1


class _Refused(Exception):
    """A form the topology does not use, or a bound crossed: stops the reading at once."""

    def __init__(self, line: int, key: str, message: str) -> None:
        super().__init__(message)
        self.line, self.key, self.message = line, key or "(document)", message


@dataclass
class _Anchored:
    value: Any
    size: int


class _Builder:
    """Builds one document's values from the parser's events, recording lines and problems."""

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.lines: dict[str, int] = {}
        self.problems: list[Diagnostic] = []
        self.anchors: dict[str, _Anchored] = {}
        self.open: set[str] = set()  # anchors whose node is still being read
        self.nodes = 0

    def document(self) -> Any:
        self.expect(yaml.StreamStartEvent)
        if self.at(yaml.StreamEndEvent):
            raise _Refused(1, "(document)", "the file is empty")
        self.expect(yaml.DocumentStartEvent)
        value = self.node((), 0)
        self.expect(yaml.DocumentEndEvent)
        if not self.at(yaml.StreamEndEvent):
            line = _line(self.peek())
            raise _Refused(line, "(document)", "a second document; the file must hold one")
        if value is None:
            raise _Refused(1, "(document)", "the file is empty")
        return value

    def next(self) -> yaml.Event:
        event: yaml.Event = self.loader.get_event()  # type: ignore[no-untyped-call]
        return event

    def peek(self) -> yaml.Event:
        event: yaml.Event = self.loader.peek_event()  # type: ignore[no-untyped-call]
        return event

    def at(self, kind: type[yaml.Event]) -> bool:
        return bool(self.loader.check_event(kind))

    def expect(self, kind: type[yaml.Event]) -> yaml.Event:
        event = self.next()
        assert isinstance(event, kind), event  # the parser guarantees the stream's shape
        return event

    def count(self, size: int, line: int, path: Path) -> None:
        self.nodes += size
        if self.nodes > MAX_NODES:
            raise _Refused(
                line,
                dotted(path),
                f"more than {MAX_NODES:,} values (counting each alias at its full size);"
                " a topology is far smaller, so this file is refused",
            )

    def node(self, path: Path, depth: int) -> Any:
        event = self.next()
        line = _line(event)
        if path:
            self.lines.setdefault(dotted(path), line)
        if isinstance(event, yaml.AliasEvent):
            return self.alias(str(event.anchor), line, path)
        self.refuse_tag(event, line, path)
        if depth > MAX_DEPTH:
            raise _Refused(line, dotted(path), f"nested more than {MAX_DEPTH} deep")
        start = self.nodes
        self.count(1, line, path)
        anchor: str | None = getattr(event, "anchor", None)
        if anchor is not None:
            self.open.add(anchor)
        if isinstance(event, yaml.ScalarEvent):
            value = self.scalar(event, line, path)
        elif isinstance(event, yaml.SequenceStartEvent):
            value = self.sequence(path, depth)
        else:
            value = self.mapping(path, depth)
        if anchor is not None:
            self.open.discard(anchor)
            self.anchors[anchor] = _Anchored(value, self.nodes - start)
        return value

    def alias(self, anchor: str, line: int, path: Path) -> Any:
        found = self.anchors.get(anchor)
        if found is None:
            why = "refers to itself" if anchor in self.open else "has no anchor before it"
            raise _Refused(line, dotted(path), f"alias *{anchor} {why}")
        self.count(found.size, line, path)
        return found.value

    def refuse_tag(self, event: yaml.Event, line: int, path: Path) -> None:
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise _Refused(
                line,
                dotted(path),
                f"tag {tag} is not used in this file; remove it (and quote text that"
                " YAML would read as something else)",
            )

    def sequence(self, path: Path, depth: int) -> list[Any]:
        items: list[Any] = []
        while not self.at(yaml.SequenceEndEvent):
            items.append(self.node((*path, len(items)), depth + 1))
        self.next()
        return items

    def mapping(self, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while not self.at(yaml.MappingEndEvent):
            key_event = self.peek()
            line = _line(key_event)
            key = self.key(path, depth)
            if key is None:
                self.node((*path, "?"), depth + 1)  # read past the value, keep nothing
                continue
            where = (*path, key)
            if key in result:
                first = self.lines[dotted(where)]
                self.problem(
                    line,
                    where,
                    f"duplicate key (first given on line {first}); "
                    "YAML keeps only one of them, so remove or rename one",
                )
                self.node((*path, "?"), depth + 1)
                continue
            self.lines[dotted(where)] = line
            result[key] = self.node(where, depth + 1)
        self.next()
        return result

    def key(self, path: Path, depth: int) -> str | None:
        """A mapping key as text, or None (recorded as a problem) when it is not a plain name."""
        event = self.peek()
        line = _line(event)
        if isinstance(event, yaml.ScalarEvent) and event.tag is None:
            self.next()
            self.count(1, line, path)
            plain = event.style in (None, "")
            if plain and event.value == "<<":
                raise _Refused(
                    line, dotted((*path, "<<")), "merge keys (<<) are not used; write the keys out"
                )
            value = self.scalar(event, line, path) if plain else event.value
            if isinstance(value, str | int) and not isinstance(value, bool):
                return event.value
        else:
            self.node((*path, "?"), depth + 1)
        self.problem(line, (*path, "?"), "keys must be plain names")
        return None

    def scalar(self, event: yaml.ScalarEvent, line: int, path: Path) -> Any:
        text = event.value
        if event.style not in (None, ""):
            return text  # quoted or block: always text
        if _NULL.fullmatch(text):
            return None
        if text in _BOOL:
            return _BOOL[text]
        if _INT.fullmatch(text):
            if len(text.lstrip("+-")) > MAX_DIGITS:
                raise _Refused(line, dotted(path), f"a number of {len(text)} digits is too large")
            return int(text)
        if _FLOAT.fullmatch(text):
            return float(text)
        if text in _SPECIAL_FLOAT:
            return _SPECIAL_FLOAT[text]
        if _DATE.match(text):
            raise _Refused(
                line,
                dotted(path),
                f"{text!r} reads as a date; nothing here is one (quote it if you mean text)",
            )
        return text

    def problem(self, line: int, path: Path, message: str) -> None:
        self.problems.append(Diagnostic(self.file, line, printable(dotted(path)), message))
