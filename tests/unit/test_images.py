"""The image table: what each image's OpenVPN runs, what plan refuses, what configs say."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import BASE, doc, parse, text, vpc
from tests.unit.test_render import explained
from vpnctl import images, render, source, topology
from vpnctl.aws import observe
from vpnctl.design import design
from vpnctl.errors import Problem
from vpnctl.ipam import allocate
from vpnctl.partitions import PARTITIONS

AMI = "ami-0123456789abcdef0"


def problems(**changes: Any) -> list[Problem]:
    return images.problems(parse(doc(**changes)))


def keys_of(found: list[Problem]) -> list[str]:
    return [p.key for p in found]


# --------------------------------------------------------------------------- the table


def test_the_default_image_runs_both_modes_and_is_the_topology_default() -> None:
    default = images.IMAGES[images.DEFAULT_IMAGE]
    assert default.openvpn is not None
    assert default.openvpn >= (2, 6, 0)
    assert topology.Gateways().image == images.DEFAULT_IMAGE
    assert parse(doc()).gateways.image == images.DEFAULT_IMAGE
    assert [m for m in topology.TUNNEL_MODES if images.refusal(m, default.openvpn)] == []


def test_the_table_knows_the_images_issue_11_names() -> None:
    expected = {"ubuntu-22.04", "ubuntu-24.04", "debian-12", "amazon-linux-2023"}
    assert expected <= set(images.IMAGES)
    assert images.IMAGES["ubuntu-22.04"].openvpn == (2, 5, 11)
    assert images.IMAGES["debian-12"].openvpn == (2, 6, 3)
    assert all(key == image.key for key, image in images.IMAGES.items())


def test_every_image_apply_can_boot_is_published_in_the_aws_partition() -> None:
    for image in images.IMAGES.values():
        if not image.unsupported:
            assert "aws" in image.owners, image.key
            assert image.name.endswith("*"), image.key  # a pattern: the newest match wins
    ubuntu = images.IMAGES["ubuntu-24.04"].owners
    assert ubuntu == {p.name: p.ubuntu_owner for p in PARTITIONS.values()}


def test_apply_resolves_images_from_the_table_only() -> None:
    assert not hasattr(observe, "IMAGE_NAMES")
    assert observe.IMAGES is images.IMAGES  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("mode", "version", "refused"),
    [
        ("fingerprint", (2, 5, 11), "peer-fingerprint"),
        ("fingerprint", (2, 6, 0), ""),
        ("fingerprint", (2, 8, 0), ""),
        ("psk", (2, 4, 7), "2.5.0 or later"),
        ("psk", (2, 5, 0), ""),
        ("psk", (2, 7, 6), ""),  # with the allowance the template writes for 2.7
        ("psk", (2, 8, 0), "removed in OpenVPN 2.8.0"),
    ],
)
def test_which_mode_runs_on_which_openvpn(mode: str, version: images.Version, refused: str) -> None:
    why = images.refusal(mode, version)
    assert (refused in why) if refused else why == ""
    assert bool(why) == bool(refused)


def test_dialect_says_only_what_a_known_version_needs() -> None:
    assert images.dialect((2, 5, 11)) == images.Dialect(True, False, False)
    assert images.dialect((2, 6, 19)) == images.Dialect(True, False, False)
    assert images.dialect((2, 7, 0)) == images.Dialect(False, True, False)
    assert images.dialect(None) == images.Dialect(True, True, True)  # for 2.5 to 2.7 at once


def rendered(mode: str, image: str) -> list[str]:
    d = doc(tunnel={"mode": mode}, gateways={"image": image})
    if image.startswith("ami-"):
        d = doc(
            tunnel={"mode": mode}, vpcs={n: {**v, "image": image} for n, v in d["vpcs"].items()}
        )
    topo = parse(d)
    designed = design(topo, allocate(topo, None).lock)
    tunnel = designed.tunnels[0]
    return render.tunnel_config(topo, designed, tunnel.a.gateway, tunnel.name).splitlines()


@pytest.mark.parametrize(
    ("mode", "image", "persist", "allow", "ignore"),
    [
        ("psk", "ubuntu-22.04", True, False, False),
        ("psk", "ubuntu-24.04", True, False, False),
        ("psk", "ubuntu-26.04", False, True, False),
        ("psk", AMI, True, True, True),
        ("fingerprint", "ubuntu-24.04", True, False, False),
        ("fingerprint", "ubuntu-26.04", False, False, False),
        ("fingerprint", AMI, True, False, False),
    ],
)
def test_configs_follow_the_image_openvpn(
    mode: str, image: str, persist: bool, allow: bool, ignore: bool
) -> None:
    lines = rendered(mode, image)
    assert ("persist-key" in lines) is persist
    assert ("allow-deprecated-insecure-static-crypto" in lines) is allow
    assert ("ignore-unknown-option allow-deprecated-insecure-static-crypto" in lines) is ignore
    assert "persist-tun" in lines


# --------------------------------------------------------------------------- plan refuses


def test_fingerprint_on_ubuntu_22_04_is_refused_naming_image_and_version() -> None:
    found = problems(tunnel={"mode": "fingerprint"}, gateways={"image": "ubuntu-22.04"})
    assert keys_of(found) == ["gateways.image", "tunnel.mode"]
    assert "ships Python 3.10.6" in found[0].message  # the zipapp gateways run needs 3.11
    message = found[1].message
    assert "needs OpenVPN 2.6.0 or later" in message
    assert "gateways.image ubuntu-22.04 ships OpenVPN 2.5.11" in message
    assert "gateways.image" in message
    assert "ubuntu-24.04" in message


def test_psk_on_ubuntu_22_04_is_refused_for_its_python_only() -> None:
    found = problems(tunnel={"mode": "psk"}, gateways={"image": "ubuntu-22.04"})
    assert keys_of(found) == ["gateways.image"]
    assert "needs Python 3.11.0 or later; ubuntu-22.04 ships Python 3.10.6" in found[0].message


def test_psk_on_ubuntu_26_04_and_fingerprint_on_the_default_pass() -> None:
    assert problems(tunnel={"mode": "psk"}, gateways={"image": "ubuntu-26.04"}) == []
    assert problems(tunnel={"mode": "fingerprint"}) == []
    assert problems(tunnel={"mode": "fingerprint"}, gateways={"image": "debian-12"}) == []


def test_a_link_s_own_mode_is_blamed_on_the_link() -> None:
    links = [{"between": ["east", "west"], "tunnel": {"mode": "fingerprint"}}]
    found = problems(links=links, gateways={"image": "ubuntu-22.04"})
    assert keys_of(found) == ["gateways.image", "links[0].tunnel.mode"]


def test_an_unknown_image_is_an_input_error_with_a_hint() -> None:
    found = problems(gateways={"image": "ubuntu-24.4"})
    assert keys_of(found) == ["gateways.image"]
    assert "unknown image 'ubuntu-24.4' (did you mean 'ubuntu-24.04'?)" in found[0].message


def test_an_image_vpnctl_cannot_boot_or_an_old_openvpn_is_refused() -> None:
    found = problems(gateways={"image": "amazon-linux-2023"})
    assert keys_of(found) == ["gateways.image"]
    assert "dnf" in found[0].message
    old = problems(gateways={"image": "ubuntu-20.04"})
    assert keys_of(old) == ["gateways.image", "tunnel.mode"]
    assert "2.4.7" in old[1].message


def test_an_image_not_published_in_a_partition_is_refused_there() -> None:
    vpcs = {**BASE["vpcs"], "cn": vpc("cn-north-1", account="china")}
    links = [{"between": ["east", "west"]}, {"between": ["east", "cn"]}]
    found = problems(vpcs=vpcs, links=links, gateways={"image": "debian-12"})
    assert keys_of(found) == ["gateways.image"]
    assert "aws-cn" in found[0].message
    assert "vpcs.cn.image" in found[0].message
    vpcs["cn"] = vpc("cn-north-1", account="china", image=AMI)
    assert problems(vpcs=vpcs, links=links, gateways={"image": "debian-12"}) == []


def test_a_pinned_ami_is_trusted_to_run_its_mode() -> None:
    vpcs = {n: {**v, "image": AMI} for n, v in BASE["vpcs"].items()}
    assert problems(vpcs=vpcs, tunnel={"mode": "fingerprint"}) == []


def test_the_refusal_is_placed_on_the_line_of_the_mode() -> None:
    document = text(doc(tunnel={"mode": "fingerprint"}, gateways={"image": "ubuntu-22.04"}))
    src = source.load(document, "t.yaml")
    error = src.fail(images.problems(topology.parse(src)))
    _python, diagnostic = sorted(error.diagnostics, key=lambda d: d.key)
    line = document.splitlines().index("  mode: fingerprint") + 1
    assert str(diagnostic).startswith(f"t.yaml:{line}: tunnel.mode: fingerprint mode needs")
    assert error.exit_code == 2


@pytest.mark.parametrize(
    ("mode", "image"),
    [("psk", i) for i in ("ubuntu-22.04", "ubuntu-24.04", "ubuntu-26.04", AMI)]
    + [("fingerprint", i) for i in ("ubuntu-24.04", "ubuntu-26.04", AMI)],
)
def test_every_option_of_every_dialect_keeps_its_reason(mode: str, image: str) -> None:
    lines = rendered(mode, image)
    for index, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert explained(lines, index), f"{line!r} ({mode}, {image}) has no comment"
