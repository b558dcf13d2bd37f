"""Following the store: the folder a gateway lays out from its pointer has the digest the
controller designs, and a bad pointer or object changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.test_render import example
from userdata import gateway_aws
from vpnctl import render
from vpnctl.agent import follow
from vpnctl.agent.config import Config
from vpnctl.aws import store

SOFTWARE = render.Pin(store.software_key("demo", "5" * 64), "5" * 64)
GATEWAY = "gw-us-west-2-a"


def pinned(config: bytes) -> tuple[render.Pin, str]:
    topology, design = example("demo")
    pin = render.config_pin(topology, GATEWAY, config)
    return pin, render.gateway_env(topology, design, GATEWAY, SOFTWARE, pin)


def config_of(extra: str = "") -> bytes:
    topology, design = example("demo")
    data = render.gateway_config(topology, design, GATEWAY)
    if not extra:
        return data
    document = json.loads(data)
    document["files"][0]["content"] += extra  # the firewall, say: an allow rule changed
    return json.dumps(document).encode()


class Bucket:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.reads = 0

    def put_config(self, config: bytes, sha: str | None = None) -> render.Pin:
        pin, _ = pinned(config)
        self.objects[pin.key] = config
        pointer = {"key": pin.key, "sha256": sha or pin.sha256}
        self.objects[store.pointer_key("demo", GATEWAY)] = json.dumps(pointer).encode()
        return pin

    def get(self, key: str) -> bytes:
        self.reads += 1
        return self.objects[key]


def follower(tmp_path: Path, bucket: Bucket, env: str, now: list[float]) -> follow.Follower:
    environment = tmp_path / "etc" / "gateway.env"
    environment.parent.mkdir(exist_ok=True)
    environment.write_text(env)
    return follow.Follower(bucket.get, "demo", GATEWAY, tmp_path / "desired", environment,
                           lambda: now[0], every_s=30)  # fmt: skip


def test_what_the_follower_lays_out_has_the_designed_digest(tmp_path: Path) -> None:
    booted, boot_env = pinned(config_of())
    bucket = Bucket()
    new = config_of("\n# changed\n")
    pin = bucket.put_config(new)
    assert pin != booted
    now = [0.0]
    f = follower(tmp_path, bucket, boot_env, now)
    assert f.follow()
    laid = {p.relative_to(f.desired).as_posix(): p.read_bytes()
            for p in f.desired.rglob("*") if p.is_file()}  # fmt: skip
    _, designed_env = pinned(new)  # what a new instance of the same design would boot with
    assert Config.of(laid).digest == follow.digest(new, designed_env)
    assert Config.of(laid).digest != follow.digest(config_of(), boot_env)
    assert f"VPNCTL_CONFIG_SHA256={pin.sha256}" in laid["gateway.env"].decode()
    assert any(p.startswith("openvpn/") for p in laid)
    assert {"firewall.nft", "probe.json", "gateway.env"} <= set(laid)
    assert not f.follow()  # the same pointer: nothing laid out again


def test_polls_are_spaced_and_a_bad_object_keeps_what_is_laid_out(tmp_path: Path) -> None:
    bucket = Bucket()
    good = bucket.put_config(config_of())
    now = [0.0]
    f = follower(tmp_path, bucket, pinned(config_of())[1], now)
    f.poll()
    assert f.following == good.sha256
    reads = bucket.reads
    now[0] = 10.0
    f.poll()
    assert bucket.reads == reads  # not due yet
    before = (f.desired / "firewall.nft").read_bytes()
    bucket.put_config(config_of("\n# tampered\n"), sha="0" * 64)  # names a digest it is not
    now[0] = 31.0
    f.poll()
    assert bucket.reads > reads
    assert f.following == good.sha256
    assert (f.desired / "firewall.nft").read_bytes() == before


def test_a_pointer_outside_the_gateways_own_folder_is_refused() -> None:
    elsewhere = json.dumps({"key": "demo/gateways/gw-other/x.json", "sha256": "1" * 64})
    with pytest.raises(follow.FollowError, match="outside"):
        follow.Pointer.parse(elsewhere.encode(), f"demo/gateways/{GATEWAY}/")
    with pytest.raises(follow.FollowError):
        follow.Pointer.parse(b"not json", f"demo/gateways/{GATEWAY}/")


def test_a_configuration_naming_a_path_outside_the_layout_is_refused() -> None:
    document = {"files": [{"path": "/etc/passwd", "mode": "0644", "content": "x"}]}
    with pytest.raises(follow.FollowError, match="outside"):
        follow.folder_of(json.dumps(document).encode(), "")


def test_repinning_moves_only_the_configuration_pin() -> None:
    env = "A=1\nVPNCTL_CONFIG_KEY=old\nVPNCTL_CONFIG_SHA256=aa\nVPNCTL_SOFTWARE_SHA256=bb\n"
    assert follow.repinned(env, "new", "cc") == (
        "A=1\nVPNCTL_CONFIG_KEY=new\nVPNCTL_CONFIG_SHA256=cc\nVPNCTL_SOFTWARE_SHA256=bb\n"
    )


def test_following_swaps_the_link_boot_made_and_leaves_one_folder(tmp_path: Path) -> None:
    _, boot_env = pinned(config_of())
    booted = gateway_aws.lay_out_desired(config_of(), boot_env.encode(), tmp_path / "desired")
    bucket = Bucket()
    bucket.put_config(config_of("\n# changed\n"))
    f = follower(tmp_path, bucket, boot_env, [0.0])
    assert f.follow()
    folders = sorted(p.name for p in tmp_path.glob("desired-*"))
    assert f.desired.is_symlink()
    assert [f.desired.resolve().name] == folders
    assert booted.name not in folders  # boot's folder went with the swap
    assert (f.desired / "firewall.nft").read_text().endswith("# changed\n")
    assert not list(tmp_path.glob(".desired*"))  # no half-written folder or spare link
