"""Routes into the tunnels: set by the agent from routes.json, in place, never by a restart."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.unit.agent.fakes import FakeBackend
from vpnctl.agent import converge
from vpnctl.agent.backend import Processes, Systemd
from vpnctl.agent.config import ConfigError, parse_routes
from vpnctl.agent.layout import Layout
from vpnctl.agent.plan import DeleteRoute, Restart, SetRoute, Start, route_plan

ENV = b"VPNCTL_GATEWAY=gw-a\n"
UP = frozenset({"tun1194", "tun1195"})


def routes_json(devices: dict[str, list[str]]) -> str:
    return json.dumps({"format_version": 1, "devices": devices})


def test_routes_go_onto_devices_that_are_up_and_unwanted_ones_go_last() -> None:
    wanted = {"10.64.0.0/12": "tun1194", "10.80.0.0/24": "tun1195"}
    present = {"10.64.0.0/12": "tun1194", "10.90.0.0/24": "tun1194"}
    assert route_plan(wanted, present, UP) == (
        SetRoute("10.80.0.0/24", "tun1195"),
        DeleteRoute("10.90.0.0/24", "tun1194"),
    )


def test_a_prefix_moves_by_one_replace_and_waits_for_its_new_device() -> None:
    wanted = {"10.66.1.0/24": "tun1196"}
    present = {"10.66.1.0/24": "tun1194"}
    # make before break: until tun1196 is up its old tunnel keeps carrying it
    assert route_plan(wanted, present, UP) == ()
    assert route_plan(wanted, present, UP | {"tun1196"}) == (SetRoute("10.66.1.0/24", "tun1196"),)


def test_a_routes_file_names_tunnel_devices_and_each_prefix_once() -> None:
    assert parse_routes(routes_json({"tun1194": ["10.64.0.0/12"]}).encode()) == {
        "10.64.0.0/12": "tun1194"
    }
    with pytest.raises(ConfigError, match="not a tunnel device"):
        parse_routes(routes_json({"eth0": ["10.64.0.0/12"]}).encode())
    with pytest.raises(ConfigError, match="into tun1194 and tun1195"):
        parse_routes(routes_json({"tun1194": ["10.64.0.0/12"], "tun1195": ["10.64.0.0/12"]})
                     .encode())  # fmt: skip
    with pytest.raises(ConfigError, match="not a routes file"):
        parse_routes(b'{"devices": {"tun1194": ["10.64.0.1/12"]}}')  # host bits set


def desired(folder: Path, tunnels: dict[str, str], routes: dict[str, list[str]]) -> None:
    (folder / "openvpn").mkdir(parents=True, exist_ok=True)
    for old in (folder / "openvpn").glob("*.conf"):
        old.unlink()
    for name, body in tunnels.items():
        (folder / "openvpn" / f"{name}.conf").write_text(body)
    (folder / "routes.json").write_text(routes_json(routes))
    (folder / "gateway.env").write_bytes(ENV)


def one_pass(tmp_path: Path, backend: FakeBackend) -> converge.Result:
    return converge.converge(converge.load(tmp_path / "desired"), Layout.under(tmp_path / "live"),
                             backend, tmp_path / "agent.json", lambda: 1.0,
                             device_wait_s=0)  # fmt: skip


def test_a_changed_routes_file_moves_routes_without_touching_a_tunnel(tmp_path: Path) -> None:
    desired(tmp_path / "desired", {"a--b": "dev tun1194\n"}, {"tun1194": ["10.64.0.0/12"]})
    backend = FakeBackend(up={"tun1194"})
    first = one_pass(tmp_path, backend)
    assert first.state.ready
    assert backend.kernel_routes == {"10.64.0.0/12": "tun1194"}

    # the AZ-growth edit: a second tunnel takes one subnet, the first keeps its config
    desired(tmp_path / "desired", {"a--b": "dev tun1194\n", "a--c": "dev tun1195\n"},
            {"tun1194": ["10.66.0.0/24"], "tun1195": ["10.66.1.0/24"]})  # fmt: skip
    backend.calls.clear()
    second = one_pass(tmp_path, backend)
    assert [a for a in second.actions if isinstance(a, Start | Restart)] == [Start("a--c")]
    assert "restart a--b" not in backend.calls
    # tun1195 is not up yet: the old route stays, the pass is not ready
    assert backend.kernel_routes == {"10.64.0.0/12": "tun1194"} | {"10.66.0.0/24": "tun1194"}
    assert not second.state.ready
    assert not second.converged  # its files and tunnels are; the routes follow the device

    backend.up.add("tun1195")
    backend.calls.clear()
    result = converge.run(lambda: converge.load(tmp_path / "desired"),
                          Layout.under(tmp_path / "live"), backend, tmp_path / "agent.json",
                          clock=lambda: 2.0, sleep=lambda _s: None, interval_s=0,
                          passes=1)  # fmt: skip
    assert result is not None
    assert result.state.ready
    assert backend.calls == ["route 10.66.1.0/24 dev tun1195", "route del 10.64.0.0/12 dev tun1194"]
    assert backend.kernel_routes == {"10.66.0.0/24": "tun1194", "10.66.1.0/24": "tun1195"}


def test_routes_lost_with_a_recreated_device_come_back_on_the_next_pass(tmp_path: Path) -> None:
    desired(tmp_path / "desired", {"a--b": "dev tun1194\n"}, {"tun1194": ["10.64.0.0/12"]})
    backend = FakeBackend(up={"tun1194"})
    one_pass(tmp_path, backend)
    backend.kernel_routes.clear()  # openvpn's unit restarted: a new device, no routes
    backend.calls.clear()
    result = converge.run(lambda: converge.load(tmp_path / "desired"),
                          Layout.under(tmp_path / "live"), backend, tmp_path / "agent.json",
                          clock=lambda: 2.0, sleep=lambda _s: None, interval_s=0,
                          passes=1)  # fmt: skip
    assert result is not None
    assert backend.calls == ["route 10.64.0.0/12 dev tun1194"]


def test_a_malformed_routes_file_is_refused_with_its_folder(tmp_path: Path) -> None:
    desired(tmp_path / "desired", {"a--b": "x\n"}, {"lo": ["10.64.0.0/12"]})
    with pytest.raises(converge.AgentError, match=r"routes\.json"):
        converge.load(tmp_path / "desired")


ROUTE_JSON = json.dumps([
    {"dst": "default", "gateway": "198.18.0.13", "dev": "wan", "flags": []},
    {"dst": "10.64.0.0/12", "dev": "tun1194", "scope": "link", "flags": []},
    {"dst": "10.70.0.5", "dev": "tun1195", "scope": "link", "flags": []},
    {"dst": "169.254.64.2", "dev": "tun1194", "protocol": "kernel", "scope": "link",
     "prefsrc": "169.254.64.1", "flags": []},
    {"dst": "10.66.0.0/16", "gateway": "10.66.255.241", "dev": "lan", "flags": []},
])  # fmt: skip
LINK_JSON = json.dumps([
    {"ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"]},
    {"ifname": "tun1194", "flags": ["POINTOPOINT", "MULTICAST", "NOARP", "UP", "LOWER_UP"]},
    {"ifname": "tun1195", "flags": ["POINTOPOINT", "MULTICAST", "NOARP"]},
])  # fmt: skip


def test_ip_routes_sees_only_what_it_set_on_tunnel_devices() -> None:
    seen: list[list[str]] = []

    def runner(argv: Sequence[str], env: Mapping[str, str] | None) -> CompletedProcess[str]:
        seen.append(list(argv))
        out = ROUTE_JSON if "route" in argv and "show" in argv else LINK_JSON
        return CompletedProcess(list(argv), 0, out if "show" in argv else "", "")

    backend = Processes("vl-x-gw", Path("/nonexistent"), runner=runner)
    assert backend.routes() == {"10.64.0.0/12": "tun1194", "10.70.0.5/32": "tun1195"}
    assert backend.devices_up() == {"tun1194"}
    backend.set_route("10.66.1.0/24", "tun1194")
    backend.delete_route("10.70.0.5/32", "tun1195")
    assert seen[-2:] == [
        ["ip", "netns", "exec", "vl-x-gw", "ip", "route", "replace", "10.66.1.0/24", "dev",
         "tun1194"],
        ["ip", "netns", "exec", "vl-x-gw", "ip", "route", "del", "10.70.0.5/32", "dev", "tun1195"],
    ]  # fmt: skip
    Systemd(runner=runner).set_route("10.66.1.0/24", "tun1194")
    assert seen[-1] == ["ip", "route", "replace", "10.66.1.0/24", "dev", "tun1194"]
