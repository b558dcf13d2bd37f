"""``vpnctl plan`` on tampered lock files and hostile topology files, end to end.

Each tampered lock is refused with exit 2 and ``LOCKFILE:LINE: KEY``, under ``--frozen`` and
without it, and the lock file is left byte for byte as it was: never repaired, never rewritten.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from vpnctl.cli import cli

TOPOLOGIES = Path(__file__).parents[2] / "topologies"
Doc = dict[str, Any]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def planned(runner: CliRunner, tmp_path: Path) -> Path:
    """china-hub.yaml planned once, so its lock file exists."""
    path = tmp_path / "china-hub.yaml"
    shutil.copy(TOPOLOGIES / "china-hub.yaml", path)
    result = runner.invoke(cli, ["plan", str(path)])
    assert result.exit_code == 0, result.output
    return path


def overlap(d: Doc) -> None:
    d["vpcs"]["us-west-2"]["cidr"] = d["vpcs"]["ap-southeast-1"]["cidr"]


def subnet_outside(d: Doc) -> None:
    azs = d["vpcs"]["us-west-2"]["azs"]
    azs[sorted(azs)[0]]["routing"] = "192.168.0.0/24"


def same_inside(d: Doc) -> None:
    a, b = sorted(d["tunnels"])[:2]
    d["tunnels"][b]["inside"] = d["tunnels"][a]["inside"]


def port(value: Any) -> Callable[[Doc], None]:
    def edit(d: Doc) -> None:
        d["tunnels"][sorted(d["tunnels"])[0]]["port"] = value

    return edit


def slash_8(d: Doc) -> None:
    d["vpcs"]["us-west-2"]["cidr"] = "10.0.0.0/8"


def moved(d: Doc) -> None:  # judged against the topology: the VPC lives elsewhere
    d["vpcs"]["us-west-2"]["account"] = "china"


def other_topology(d: Doc) -> None:
    d["name"] = "other"


EDITS: dict[str, tuple[Callable[[Doc], None], str]] = {
    "overlapping vpcs": (overlap, "lock"),
    "subnet outside its vpc": (subnet_outside, "lock"),
    "duplicate tunnel /30": (same_inside, "lock"),
    "port 0": (port(0), "lock"),
    "port -5": (port(-5), "lock"),
    "port as text": (port("1194"), "lock"),
    "a /8 vpc": (slash_8, "lock"),
    "vpc in another account": (moved, "topology"),
    "lock of another topology": (other_topology, "topology"),
}


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "not-frozen"])
@pytest.mark.parametrize("case", sorted(EDITS))
def test_a_tampered_lock_is_refused_and_left_alone(
    runner: CliRunner, planned: Path, case: str, frozen: bool
) -> None:
    edit, judged_by = EDITS[case]
    lock = planned.with_name("china-hub.lock.json")
    d = json.loads(lock.read_text())
    edit(d)
    lock.write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")
    before = lock.read_bytes()
    result = runner.invoke(cli, ["plan", str(planned), *(["--frozen"] if frozen else [])])
    assert result.exit_code == 2, result.output
    named = lock if judged_by == "lock" else planned
    assert result.stderr.startswith(f"{named}:"), result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert lock.read_bytes() == before


RAW: dict[str, tuple[bytes, str]] = {
    "not utf-8": (b'{\n  "name": "\xff"\n}\n', ":2: (file): is not UTF-8"),
    "deep nesting": (b"[" * 200_000, ":1: (lock): nested far deeper"),
    "not json": (b"{\n  oops\n", ":2: (lock): not JSON"),
    "huge integer": (b'{"format_version": ' + b"1" * 5000 + b"}", ":1: (lock): not a vpnctl"),
}


@pytest.mark.parametrize("case", sorted(RAW))
def test_a_lock_that_is_not_a_lock_is_a_message(
    runner: CliRunner, planned: Path, case: str
) -> None:
    body, expected = RAW[case]
    lock = planned.with_name("china-hub.lock.json")
    lock.write_bytes(body)
    result = runner.invoke(cli, ["plan", str(planned), "--frozen"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"{lock}{expected}"), result.stderr
    assert lock.read_bytes() == body


def test_a_lock_that_is_a_directory_is_a_message(runner: CliRunner, planned: Path) -> None:
    lock = planned.with_name("china-hub.lock.json")
    lock.unlink()
    lock.mkdir()
    result = runner.invoke(cli, ["plan", str(planned)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"{lock}:1: (file): is a directory, not a regular file")


def test_a_topology_fifo_is_refused_without_blocking(runner: CliRunner, tmp_path: Path) -> None:
    fifo = tmp_path / "t.yaml"
    os.mkfifo(fifo)
    done: list[Any] = []
    worker = threading.Thread(
        target=lambda: done.append(runner.invoke(cli, ["plan", str(fifo)])), daemon=True
    )
    start = time.monotonic()
    worker.start()
    worker.join(10)
    if not done:  # unblock the reader so the thread ends, then fail
        with open(fifo, "w"):
            pass
        worker.join(5)
        pytest.fail("plan blocked on a FIFO")
    assert time.monotonic() - start < 10
    result = done[0]
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{fifo}:1: (file): is a FIFO, not a regular file")


def test_an_alias_bomb_is_refused_fast(runner: CliRunner, tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    result = runner.invoke(cli, ["plan", str(path)])
    assert time.monotonic() - start < 5
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:")
    assert "counting each alias at its full size" in result.stderr
    assert not path.with_name("bomb.lock.json").exists()


def test_a_huge_topology_is_refused_before_it_is_read(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with open(path, "wb") as handle:
        handle.truncate(64 << 20)  # sparse: costs no disk
    result = runner.invoke(cli, ["plan", str(path)])
    assert result.exit_code == 2
    assert "an input file may be" in result.stderr


@pytest.mark.parametrize("fmt", ["text", "nagios"])
def test_probe_refuses_warning_thresholds_above_critical(runner: CliRunner, fmt: str) -> None:
    args = ["probe", "--target", "127.0.0.1", "--count", "1", "--format", fmt]
    result = runner.invoke(cli, [*args, "--crit", "10,1%", "--warn", "100,50%"])
    assert "warning thresholds must not exceed critical ones" in result.output + result.stderr
    assert result.exit_code == (3 if fmt == "nagios" else 2)
    assert "Traceback" not in result.output + result.stderr
