"""Fuzzing the two input files: mutated topologies and lock files end in a plan or a refusal.

A seeded mutator (the same cases on every run, so a failure is reproducible from its number)
breaks real topology and lock files in the ways people and attackers do: deleted and
duplicated lines, stray YAML syntax, tags, anchors and aliases, huge numbers, control
characters, bytes that are not UTF-8, CIDRs and ports copied over other entries. Each case goes
through what ``vpnctl plan`` does (decode, load, validate, allocate, design) and must end in
success or an InputError whose every line is ``FILE:LINE: KEY: message``, within a time
bound, never any other exception (what the command would print as a traceback).
"""

from __future__ import annotations

import copy
import json
import random
import re
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders import BASE, allocated, text
from vpnctl import inputfile, lockfile, source, topology
from vpnctl.design import design
from vpnctl.errors import InputError
from vpnctl.ipam import allocate

ROOT = Path(__file__).parents[2]
CASES = 300  # per input kind; both kinds together take a few seconds
SECONDS_PER_CASE = 2.0
GROWTH_MB = 300  # the whole run may not grow the process by more than this

YAML_TOKENS = [
    "&a ", "*a", "&a [*a]", "!!int ", "!!bool ", "!!timestamp ", "!!str ", "!!float ",
    "!!binary ", "!foo ", "!!python/object:os.system ", "<<: ", "<<: *a", "? ", "{", "}", "[",
    "]", ": ", "- ", ",", "\n", "\t", '"', "'", "\\", "\x00", "\x85", "\u2028", "\x1b[2J",
    "1" * 5000, "9" * 19, "2024-02-30", "2024-01-01", "12:30:00", "0x1F", "0o17", "010", "1:30",
    "1_000", ".nan", ".inf", "-.inf", "1e999", "true", "yes", "on", "~", "null", "-5", "0",
    "65536", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "|\n  x\n", ">-\n  y\n",
    " #", "10.64.0.0/8", "vpc-0123456789abcdef0\n", "ami-0123456789abcdef0", "mesh", "{hub: v}",
]  # fmt: skip
JSON_TOKENS = [
    '"', ",", "{", "}", "[", "]", ":", "0", "-5", "65536", "1e999", "NaN", "Infinity", "true",
    "false", "null", '"10.64.0.0/8"', '"10.64.0.1/16"', '"\\u0000"', '"\\n"', "1" * 5000,
    "1194.0", '"1194"', "[" * 3000, "\n", " ",
]  # fmt: skip
ALIAS_BOMB = "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n" if p else f"{k}: &{k} [{', '.join(['x'] * 9)}]\n"
    for p, k in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def seeds() -> list[str]:
    files = sorted((ROOT / "topologies").glob("*.yaml"))
    return [text(BASE), *(f.read_text() for f in files), ALIAS_BOMB]


def lock_seed() -> tuple[str, str]:
    """A hub topology's text and its lock's."""
    d = dict(BASE, links={"hub": "west"})
    d["vpcs"] = dict(BASE["vpcs"], north={"account": "main", "region": "eu-west-1",
                                          "azs": ["eu-west-1a", "eu-west-1b"]})  # fmt: skip
    return text(d), lockfile.dumps(allocated(d).lock)


VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 65536, 2**40, 10**30, 1.5, float("nan"), float("inf"), "",
    "x\n", "a\x00b", "tab\there", "\u202e", "ü", "10.64.0.0/8", "10.64.0.0/16", "10.64.0.1/16",
    "169.254.64.0/30", "172.17.0.0/16", "0.0.0.0/0", "us-east-1\n", "us-east-1", "us-west-2a",
    "east", "east--west", "1194", [], {}, [1, 2], ["east", "east"], {"a": 1}, {"between": []},
]  # fmt: skip

# ----------------------------------------------------------------- the mutator


def mutate_tree(tree: Any, rng: random.Random) -> Any:
    """``tree`` (a parsed document) with one to three values, keys or items broken."""
    tree = copy.deepcopy(tree)
    for _ in range(rng.randint(1, 3)):
        spots = list(_spots(tree))
        if not spots:
            break
        parent, key = rng.choice(spots)
        kind = rng.randrange(5)
        if kind == 0:  # another value, hostile or taken from elsewhere in the file
            other = rng.choice(VALUES) if rng.random() < 0.6 else _any_value(tree, rng)
            parent[key] = copy.deepcopy(other)  # a copy: never a cycle
        elif kind == 1:
            del parent[key]
        elif kind == 2 and isinstance(parent, dict):
            parent[str(key) + rng.choice(["s", "\n", "x"])] = parent.pop(key)
        elif kind == 3 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[key] = copy.deepcopy(_any_value(tree, rng))
    return tree


def _spots(tree: Any) -> list[tuple[Any, Any]]:
    found: list[tuple[Any, Any]] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            found.append((node, key))
            if isinstance(value, dict | list):
                todo.append(value)
    return found


def _any_value(tree: Any, rng: random.Random) -> Any:
    parent, key = rng.choice(_spots(tree) or [({"x": None}, "x")])
    return parent[key]


def mutate(data: str, rng: random.Random, tokens: list[str]) -> bytes:
    for _ in range(rng.randint(1, 3)):
        data = rng.choice(TEXT_EDITS)(data, rng, tokens)
    raw = data.encode("utf-8", "surrogatepass")
    if rng.random() < 0.05 and raw:  # a byte that may not be UTF-8
        at = rng.randrange(len(raw))
        raw = raw[:at] + bytes([rng.randrange(256)]) + raw[at + 1 :]
    return raw


def insert(data: str, rng: random.Random, tokens: list[str]) -> str:
    at = rng.randint(0, len(data))
    return data[:at] + rng.choice(tokens) + data[at:]


def delete_span(data: str, rng: random.Random, tokens: list[str]) -> str:
    at = rng.randint(0, len(data))
    return data[:at] + data[at + rng.randint(1, 12) :]


def line_edit(data: str, rng: random.Random, tokens: list[str]) -> str:
    lines = data.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    kind = rng.randrange(4)
    if kind == 0:
        lines.insert(j, lines[i])  # duplicated
    elif kind == 1:
        lines[i], lines[j] = lines[j], lines[i]  # swapped
    elif kind == 2:
        del lines[i]
    else:
        lines[i] = " " * rng.randint(0, 6) + lines[i].lstrip()  # re-indented
    return "\n".join(lines)


def replace_value(data: str, rng: random.Random, tokens: list[str]) -> str:
    """A value (after ': ' or a list dash) swapped for a hostile token or another value."""
    spots = list(re.finditer(r"(?<=: )[^\n,}]+|(?<=- )[^\n]+", data))
    if not spots:
        return data
    spot = rng.choice(spots)
    new = rng.choice(tokens) if rng.random() < 0.6 else rng.choice(spots).group()
    return data[: spot.start()] + new + data[spot.end() :]


def copy_value(data: str, rng: random.Random, tokens: list[str]) -> str:
    """A CIDR or number copied over another: overlaps, duplicate ports."""
    pattern = rng.choice([r"\d+\.\d+\.\d+\.\d+/\d+", r"(?<=: )\d+"])
    found = list(re.finditer(pattern, data))
    if len(found) < 2:
        return data
    a, b = rng.sample(found, 2)
    return data[: b.start()] + a.group() + data[b.end() :]


TEXT_EDITS: list[Callable[[str, random.Random, list[str]], str]] = [
    insert, delete_span, line_edit, replace_value, replace_value, copy_value,
]  # fmt: skip


# ----------------------------------------------------------------- the oracle


def plan_files(topology_data: bytes, lock_data: bytes | None) -> None:
    """What `vpnctl plan` does with the two files, from their bytes; raises InputError."""
    src = source.load(inputfile.decode(topology_data, Path("t.yaml")), "t.yaml")
    topo = topology.parse(src)
    lock = None
    if lock_data is not None:
        lock_text = inputfile.decode(lock_data, Path("t.lock.json"))
        lock = lockfile.loads(lock_text, "t.lock.json")
    allocation = allocate(topo, lock)
    if allocation.problems:
        raise src.fail(list(allocation.problems))
    lockfile.loads(lockfile.dumps(allocation.lock), "t.lock.json")  # its own output reads back
    design(topo, allocation.lock)


def check(case: int, topology_data: bytes, lock_data: bytes | None) -> None:
    start = time.perf_counter()
    try:
        plan_files(topology_data, lock_data)
    except InputError as exc:
        files = {"t.yaml": topology_data, "t.lock.json": lock_data or b""}
        for d in exc.diagnostics:
            assert d.file in files, (case, str(d))
            assert 1 <= d.line <= files[d.file].count(b"\n") + 1, (case, str(d))
            assert d.key, (case, str(d))
            assert d.message, (case, str(d))
            assert str(d).startswith(f"{d.file}:{d.line}: {d.key}: "), (case, str(d))
    except Exception as exc:  # what the command would show as a traceback
        shown = (lock_data or topology_data)[:300]
        raise AssertionError(f"case {case}: {type(exc).__name__}: {exc}\n{shown!r}") from exc
    elapsed = time.perf_counter() - start
    assert elapsed < SECONDS_PER_CASE, f"case {case} took {elapsed:.1f}s"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_mutated_topologies_plan_or_are_refused_at_a_line() -> None:
    rng = random.Random(20261201)
    bases = seeds()
    trees = [yaml.safe_load(b) for b in bases[:-1]]  # not the bomb
    before = peak_mb()
    for case in range(CASES):
        if case % 2:  # text edits: the parser's side
            data = mutate(rng.choice(bases), rng, YAML_TOKENS)
        else:  # values broken in the tree: the schema's side
            data = yaml.safe_dump(mutate_tree(rng.choice(trees), rng), allow_unicode=True).encode()
        check(case, data, None)
    assert peak_mb() - before < GROWTH_MB


def test_mutated_lock_files_plan_or_are_refused_at_a_line() -> None:
    rng = random.Random(16)
    topology_text, lock_text = lock_seed()
    tree = json.loads(lock_text)
    before = peak_mb()
    for case in range(CASES):
        if case % 3 == 0:  # text edits: the decoder's side
            data = mutate(lock_text, rng, JSON_TOKENS)
        else:  # values broken in the tree: every invariant's side
            data = json.dumps(mutate_tree(tree, rng), indent=rng.choice([None, 2])).encode()
        check(case, topology_text.encode(), data)
    assert peak_mb() - before < GROWTH_MB


def test_the_alias_bomb_is_refused_fast() -> None:
    start = time.perf_counter()
    with pytest.raises(InputError, match="counting each alias at its full size"):
        plan_files(ALIAS_BOMB.encode(), None)
    assert time.perf_counter() - start < 1.0
