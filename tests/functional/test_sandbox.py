"""``vpnctl sandbox up|down|status``: one emulator in the background that every ``--sandbox``
command shares, so what apply made is there for status, a second apply and destroy."""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from tests.functional.conftest import fast
from vpnctl.aws import sandbox as sandboxes
from vpnctl.aws.view import WIDTH
from vpnctl.cli import cli

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A state file of this test's own; whatever sandbox the test started is stopped after."""
    path = tmp_path / "sandbox.json"
    monkeypatch.setenv("VPNCTL_SANDBOX_STATE", str(path))
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield path
    finally:
        sandboxes.stop(path)


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), obj=fast(), input=stdin)


def test_up_status_down_and_a_stale_state_file(state: Path) -> None:
    assert run("sandbox", "status").exit_code == 1
    up = run("sandbox", "up")
    assert up.exit_code == 0, up.output
    found = sandboxes.running(state)
    assert found is not None
    assert f"sandbox is up at {found.url} (pid {found.pid})" in up.output
    assert "is already up" in run("sandbox", "up").output
    assert found.url in run("sandbox", "status").output
    down = run("sandbox", "down")
    assert "stopped; its state is gone" in down.output
    assert not state.exists()
    assert sandboxes.running(state) is None
    assert run("sandbox", "down").output == "no sandbox is running\n"
    state.write_text('{"url": "http://127.0.0.1:1", "pid": 999999999, "started_at": 0}')
    assert sandboxes.running(state) is None  # a dead one's file is forgotten
    assert not state.exists()


def test_without_a_sandbox_up_the_command_says_its_world_is_new(
    state: Path, tmp_path: Path
) -> None:
    path = tmp_path / "demo.yaml"
    shutil.copy(TOPOLOGIES / "demo.yaml", path)
    res = run("apply", str(path), "--sandbox", "--dry-run")
    assert res.exit_code == 0, res.output
    assert sandboxes.EPHEMERAL_NOTICE in res.output


def test_what_apply_made_lasts_for_the_next_commands(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deprecated(*_a: object, **_k: object) -> None:  # as click 8.5 has it
        warnings.warn("get_text_stream is deprecated", DeprecationWarning, stacklevel=2)

    with warnings.catch_warnings():  # click 8.5 warns already when the old one is looked up
        warnings.simplefilter("ignore", DeprecationWarning)
        monkeypatch.setattr(click, "get_text_stream", deprecated)
    path = tmp_path / "demo.yaml"
    shutil.copy(TOPOLOGIES / "demo.yaml", path)
    assert run("sandbox", "up").exit_code == 0
    applied = run("apply", str(path), "--sandbox", "--yes")
    assert applied.exit_code == 0, applied.output
    assert "sandbox: using the emulator at" in applied.output
    lines = applied.output.splitlines()
    done = next(i for i, line in enumerate(lines) if line.startswith("Apply complete: "))
    assert re.match(r"Apply complete: \d+ added, \d+ changed, 0 destroyed in ", lines[done])
    # no agent ever runs in the sandbox: apply looks once, waits for nothing, and says so
    assert not any(line.startswith("waiting up to") for line in lines), applied.output
    assert any(line.startswith("Not converged: 4 gateway(s)") for line in lines), applied.output
    assert f"Next: `vpnctl status {path} --sandbox` shows the gateways, tunnels and DNS." in lines
    again = run("apply", str(path), "--sandbox", "--dry-run")
    assert "demo: no changes; AWS matches the design." in again.output
    declined = run("destroy", str(path), "--sandbox", stdin="n\n")
    assert declined.exit_code == 1, declined.output
    assert declined.output.splitlines()[-1] == "Nothing changed."
    dry = run("destroy", str(path), "--sandbox", "--dry-run")
    assert max(len(line) for line in dry.output.splitlines()) <= WIDTH
    destroyed = run("destroy", str(path), "--sandbox", "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert destroyed.output.splitlines()[-1].startswith("Destroy complete: ")
    empty = run("destroy", str(path), "--sandbox", "--yes")
    assert "demo: nothing to destroy; vpnctl made nothing here for it." in empty.output
