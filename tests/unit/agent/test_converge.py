"""One agent pass over files in a temporary folder, with an in-memory backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.unit.agent.fakes import FakeBackend
from vpnctl import render
from vpnctl.agent import converge
from vpnctl.agent import state as statefile
from vpnctl.agent.converge import AgentError
from vpnctl.agent.layout import Layout
from vpnctl.cli import cli

ENV = b'VPNCTL_GATEWAY=gw-a\nVPNCTL_TUNNELS="a--b:psk"\n'


def write_desired(
    folder: Path, tunnels: dict[str, str], firewall: str = "table inet f {}\n"
) -> None:
    (folder / "openvpn").mkdir(parents=True, exist_ok=True)
    for old in (folder / "openvpn").glob("*.conf"):
        old.unlink()
    for name, body in tunnels.items():
        (folder / "openvpn" / f"{name}.conf").write_text(body)
    (folder / "firewall.nft").write_text(firewall)
    (folder / "gateway.env").write_bytes(ENV)


def one_pass(tmp_path: Path, backend: FakeBackend) -> converge.Result:
    desired = converge.load(tmp_path / "desired")
    layout = Layout.under(tmp_path / "live")
    return converge.converge(desired, layout, backend, tmp_path / "agent.json", lambda: 100.0)


def test_converges_installs_and_records_what_it_runs(tmp_path: Path) -> None:
    write_desired(tmp_path / "desired", {"a--b": "remote b\n"})
    backend = FakeBackend()
    result = one_pass(tmp_path, backend)
    assert result.converged
    assert result.state.ready
    assert backend.calls == ["load firewall", "keys a--b for gw-a", "start a--b"]
    assert (tmp_path / "live" / "openvpn" / "a--b.conf").read_text() == "remote b\n"
    recorded = json.loads((tmp_path / "agent.json").read_text())
    assert recorded["config"] == converge.load(tmp_path / "desired").digest
    assert recorded["ready"] is True
    assert recorded["converged_at"] == 100.0


def test_a_second_pass_does_nothing(tmp_path: Path) -> None:
    write_desired(tmp_path / "desired", {"a--b": "remote b\n"})
    backend = FakeBackend()
    one_pass(tmp_path, backend)
    backend.calls.clear()
    assert one_pass(tmp_path, backend).actions == ()
    assert backend.calls == []


def test_growth_starts_the_new_tunnel_and_leaves_the_old_one_alone(tmp_path: Path) -> None:
    write_desired(tmp_path / "desired", {"a--b": "remote b\n"})
    backend = FakeBackend()
    one_pass(tmp_path, backend)
    backend.calls.clear()
    write_desired(tmp_path / "desired", {"a--b": "remote b\n", "a--c": "remote c\n"})
    one_pass(tmp_path, backend)
    assert backend.calls == ["keys a--c for gw-a", "start a--c"]


def test_a_failed_start_is_recorded_and_the_next_pass_retries_only_it(tmp_path: Path) -> None:
    write_desired(tmp_path / "desired", {"a--b": "b\n", "a--c": "c\n"})
    backend = FakeBackend(fail_on="start a--c")
    failed = one_pass(tmp_path, backend)
    assert not failed.converged
    assert failed.state.error == "start a--c failed"
    assert statefile.read(tmp_path / "agent.json").config is None
    backend.fail_on, backend.calls = None, []
    assert one_pass(tmp_path, backend).converged
    assert backend.calls == ["keys a--c for gw-a", "start a--c"]


def test_a_tunnel_boot_started_is_adopted_not_restarted(tmp_path: Path) -> None:
    write_desired(tmp_path / "desired", {"a--b": "b\n"})
    live = Layout.under(tmp_path / "live")
    live.openvpn_dir.mkdir(parents=True)
    (live.openvpn_dir / "a--b.conf").write_text("b\n")
    backend = FakeBackend(running={"a--b": b"b\n"})
    one_pass(tmp_path, backend)
    assert backend.calls == ["load firewall"]


def test_a_folder_whose_digest_is_not_the_expected_one_is_refused(tmp_path: Path) -> None:
    write_desired(tmp_path / "desired", {"a--b": "b\n"})
    with pytest.raises(AgentError, match="is not the expected"):
        converge.load(tmp_path / "desired", expected="0" * 64)


def test_a_file_outside_the_layout_is_refused(tmp_path: Path) -> None:
    write_desired(tmp_path / "desired", {"a--b": "b\n"})
    (tmp_path / "desired" / "evil.sh").write_text("reboot\n")
    with pytest.raises(AgentError, match="not part of a gateway configuration"):
        converge.load(tmp_path / "desired")


def test_the_loop_runs_a_pass_only_when_something_differs(tmp_path: Path) -> None:
    write_desired(tmp_path / "desired", {"a--b": "b\n"})
    backend = FakeBackend()
    results: list[converge.Result] = []
    converge.run(lambda: converge.load(tmp_path / "desired"), Layout.under(tmp_path / "live"),
                 backend, tmp_path / "agent.json", clock=lambda: 1.0, sleep=lambda _s: None,
                 interval_s=1, observers=[results.append], passes=3)  # fmt: skip
    assert [len(r.actions) for r in results] == [6, 0, 0]
    backend.running.clear()  # every tunnel died
    converge.run(lambda: converge.load(tmp_path / "desired"), Layout.under(tmp_path / "live"),
                 backend, tmp_path / "agent.json", clock=lambda: 2.0, sleep=lambda _s: None,
                 interval_s=1, observers=[results.append], passes=1)  # fmt: skip
    assert [a.describe() for a in results[-1].actions] == [
        "fetch keys of a--b",
        "start tunnel a--b",
    ]


def test_the_gateway_layout_is_where_render_puts_the_files() -> None:
    gateway = Layout.gateway()
    assert str(gateway.where("openvpn/x.conf").parent) == str(render.OPENVPN_DIR)
    assert str(gateway.where("firewall.nft").parent) == str(render.ETC_DIR)


def test_the_command_refuses_a_folder_that_is_not_the_expected_digest(tmp_path: Path) -> None:
    write_desired(tmp_path / "desired", {"a--b": "b\n"})
    wrong = CliRunner().invoke(cli, ["agent", "run", "--desired", str(tmp_path / "desired"),
                                     "--digest", "0" * 64, "--once", "--root",
                                     str(tmp_path / "live"), "--state",
                                     str(tmp_path / "agent.json")])  # fmt: skip
    assert wrong.exit_code == 1
    assert "is not the expected" in wrong.output
    assert not (tmp_path / "live").exists()
