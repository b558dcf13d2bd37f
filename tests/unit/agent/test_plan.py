"""The agent's planner: fewest actions, unaffected tunnels untouched, and it converges."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vpnctl.agent.config import Config, digest_of, tunnel_path
from vpnctl.agent.plan import (
    FetchKeys,
    LoadFirewall,
    Remove,
    Restart,
    Running,
    Start,
    Stop,
    Write,
    after,
    plan,
    touched_tunnels,
)

TUNNELS = ("a--b", "a--c", "a--d", "b--c")


def config(tunnels: dict[str, bytes], firewall: bytes = b"fw") -> Config:
    files = {tunnel_path(t): body for t, body in tunnels.items()}
    return Config.of({**files, "firewall.nft": firewall, "gateway.env": b"VPNCTL_GATEWAY=gw\n"})


def running_as(desired: Config) -> Running:
    return after(Running(), plan(desired, Running()), desired)


def test_a_new_gateway_writes_loads_then_starts_every_tunnel() -> None:
    desired = config({"a--b": b"1", "a--c": b"2"})
    assert plan(desired, Running()) == (
        Write("firewall.nft"),
        Write("gateway.env"),
        Write("openvpn/a--b.conf"),
        Write("openvpn/a--c.conf"),
        LoadFirewall(),
        FetchKeys(("a--b", "a--c")),
        Start("a--b"),
        Start("a--c"),
    )


def test_a_new_tunnel_starts_before_a_removed_one_stops_and_others_are_untouched() -> None:
    before = config({"a--b": b"1", "a--c": b"2"})
    now = config({"a--b": b"1", "a--d": b"3"})
    actions = plan(now, running_as(before))
    assert actions == (
        Write("openvpn/a--d.conf"),
        FetchKeys(("a--d",)),
        Start("a--d"),
        Stop("a--c"),
        Remove("openvpn/a--c.conf"),
    )
    assert "a--b" not in touched_tunnels(actions)


def test_a_changed_firewall_reloads_it_and_touches_no_tunnel() -> None:
    before = config({"a--b": b"1"}, firewall=b"old")
    actions = plan(config({"a--b": b"1"}, firewall=b"new"), running_as(before))
    assert actions == (Write("firewall.nft"), LoadFirewall())


def test_a_changed_tunnel_config_restarts_that_tunnel_only() -> None:
    before = config({"a--b": b"1", "a--c": b"2"})
    actions = plan(config({"a--b": b"1", "a--c": b"2'"}), running_as(before))
    assert actions == (Write("openvpn/a--c.conf"), Restart("a--c"))


def test_a_dead_tunnel_is_started_again_without_rewriting_its_file() -> None:
    desired = config({"a--b": b"1", "a--c": b"2"})
    up = running_as(desired)
    crashed = Running(up.files, {"a--b": up.tunnels["a--b"]}, up.firewall)
    assert plan(desired, crashed) == (FetchKeys(("a--c",)), Start("a--c"))


def test_the_digest_ignores_order_and_names_content() -> None:
    assert digest_of({"x": "1", "y": "2"}) == digest_of({"y": "2", "x": "1"})
    assert digest_of({"x": "1"}) != digest_of({"x": "2"})
    assert config({"a--b": b"1"}).digest != config({"a--b": b"2"}).digest


bodies = st.sampled_from([b"1", b"2", b"3"])
configs = st.builds(
    config,
    st.dictionaries(st.sampled_from(TUNNELS), bodies, max_size=len(TUNNELS)),
    st.sampled_from([b"fw1", b"fw2"]),
)


@st.composite
def runnings(draw: st.DrawFn) -> Running:
    """Any state a gateway can be in: some config applied, then partly crashed or edited."""
    base = running_as(draw(configs))
    alive = draw(st.sets(st.sampled_from(sorted(base.tunnels)))) if base.tunnels else set()
    return Running(base.files, {t: base.tunnels[t] for t in alive}, base.firewall)


@given(runnings(), configs)
def test_one_plan_converges_and_the_next_plan_is_empty(running: Running, desired: Config) -> None:
    done = after(running, plan(desired, running), desired)
    assert dict(done.files) == dict(desired.files)
    assert dict(done.tunnels) == desired.tunnels()
    assert done.firewall == desired.files["firewall.nft"]
    assert plan(desired, done) == ()


@given(runnings(), configs)
def test_a_tunnel_running_its_wanted_config_is_never_touched(
    running: Running, desired: Config
) -> None:
    wanted = desired.tunnels()
    steady = {t for t, sha in running.tunnels.items() if wanted.get(t) == sha}
    steady &= {t for t in steady if running.files.get(tunnel_path(t)) == wanted[t]}
    assert not steady & touched_tunnels(plan(desired, running))
