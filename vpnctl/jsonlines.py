"""Where each key of a JSON text is: its line, by dotted path, found without a parser.

``json`` says where a syntax error is, never where a value came from. The lock file's checks
name keys (``vpcs.east.cidr``); this scan turns them into lines, and finds duplicate keys
(which ``json`` silently merges). It runs only when something is wrong, so a good lock file
costs no second pass. The text must already be known to be JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+|\n')


def _tokens(text: str) -> Iterator[tuple[str, int]]:
    line = 1
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == "\n":
            line += 1
        else:
            yield token, line


def key_lines(text: str) -> dict[str, int]:
    """The line of every key and list item of a JSON ``text``, by dotted path."""
    lines, _ = _scan(text)
    return lines


def first_duplicate(text: str) -> tuple[str, int]:
    _, duplicates = _scan(text)
    return duplicates[0] if duplicates else ("(lock)", 1)


def _scan(text: str) -> tuple[dict[str, int], list[tuple[str, int]]]:
    lines: dict[str, int] = {}
    duplicates: list[tuple[str, int]] = []
    # each open container: its path, its keys so far (None for a list), the item index
    stack: list[tuple[str, set[str] | None, list[int]]] = []
    expect_key = False
    path = ""
    for token, line in _tokens(text):
        if token in "{[":
            stack.append((path, set() if token == "{" else None, [0]))
            expect_key = token == "{"
            if token == "[":
                path = f"{stack[-1][0]}[0]"
                lines.setdefault(path, line)
        elif token in "}]":
            stack.pop()
            expect_key = False
        elif token == ",":
            base, keys, index = stack[-1]
            if keys is None:
                index[0] += 1
                path = f"{base}[{index[0]}]"
                lines.setdefault(path, line)
            expect_key = keys is not None
        elif token == ":":
            expect_key = False
        elif expect_key and stack and stack[-1][1] is not None:
            base, keys, _ = stack[-1]
            assert keys is not None
            key = _string(token)
            path = f"{base}.{key}" if base else key
            if key in keys:
                duplicates.append((path, line))
            keys.add(key)
            lines.setdefault(path, line)
    return lines, duplicates


def _string(token: str) -> str:
    try:
        value = json.loads(token)
    except ValueError:
        return token
    return value if isinstance(value, str) else token
