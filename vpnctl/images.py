"""Gateway images as facts: which OpenVPN each one ships, and which tunnel modes that can run.

``gateways.image`` names an image key (``ubuntu-24.04``); ``vpcs.X.image`` pins an ``ami-`` id.
``IMAGES`` is the one table of image keys: how apply finds the image in a region (owner account
per partition, AMI name pattern) and the OpenVPN version the distribution packages for it,
each row with its source. An image key not in the table is an input error.

``problems(topology)`` is what plan refuses: an unknown image, an image vpnctl cannot boot, an
image not published in a VPC's partition, and a tunnel mode the image's OpenVPN cannot run.
``dialect(version)`` is what the OpenVPN template may say for the version a gateway runs
(``None``: an ``ami-`` id, whose OpenVPN vpnctl cannot know). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from vpnctl.errors import Problem
from vpnctl.partitions import PARTITIONS
from vpnctl.topology import Link, Topology, did_you_mean

Version = tuple[int, int, int]

DEFAULT_IMAGE = "ubuntu-24.04"

# Canonical publishes Ubuntu in every partition, from the account vpnctl.partitions names.
_CANONICAL = MappingProxyType({p.name: p.ubuntu_owner for p in PARTITIONS.values()})


@dataclass(frozen=True)
class Image:
    """One image key: where its AMIs come from and the OpenVPN its package manager installs."""

    key: str
    owners: Mapping[str, str]  # partition -> account that publishes the AMIs there
    name: str  # the AMI name pattern (newest match wins)
    openvpn: Version | None  # None: the distribution packages no OpenVPN vpnctl can name
    package: str  # the package version the fact comes from
    unsupported: str = ""  # why vpnctl gateways cannot boot on it, if they cannot
    # The distribution's python3: gateways run the vpnctl apply ships (a zipapp), which needs
    # the Python vpnctl needs (pyproject.toml's requires-python). Sources: packages.ubuntu.com
    # python3 (focal 3.8.2, jammy 3.10.6, noble 3.12.3), packages.debian.org bookworm python3
    # 3.11.2; resolute's (26.04) is taken as 3.13 or later, not re-checked against a release.
    python: Version = (3, 11, 0)

    def describe(self) -> str:
        if self.openvpn is None:
            return f"{self.key} ships no OpenVPN version vpnctl knows"
        return f"{self.key} ships OpenVPN {dotted(self.openvpn)} (package {self.package})"


def dotted(version: Version) -> str:
    return ".".join(str(part) for part in version)


IMAGES: Mapping[str, Image] = MappingProxyType(
    {
        # Ubuntu's OpenVPN MRE request (lists.ubuntu.com ubuntu-release, 2023-06): "Focal and
        # Jammy, which are using 2.4.x and 2.5.x". The series is what plan needs (< 2.5 is
        # refused); 2.4.7 is focal's upstream release, not re-checked against the archive.
        "ubuntu-20.04": Image(
            "ubuntu-20.04",
            _CANONICAL,
            "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-*",
            (2, 4, 7),
            "2.4.7-1ubuntu2.20.04",
            python=(3, 8, 2),
        ),
        # manpages.ubuntu.com/manpages/jammy/en/man8/openvpn.8.html:
        # "Provided by: openvpn_2.5.11-0ubuntu0.22.04.1_amd64".
        "ubuntu-22.04": Image(
            "ubuntu-22.04",
            _CANONICAL,
            "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*",
            (2, 5, 11),
            "2.5.11-0ubuntu0.22.04.1",
            python=(3, 10, 6),
        ),
        # packages.ubuntu.com/noble-updates/openvpn: "openvpn (2.6.19-0ubuntu0.24.04.3)";
        # manpages.ubuntu.com (noble) showed 2.6.12-0ubuntu0.24.04.1 before: 2.6 throughout.
        "ubuntu-24.04": Image(
            "ubuntu-24.04",
            _CANONICAL,
            "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
            (2, 6, 19),
            "2.6.19-0ubuntu0.24.04.3",
            python=(3, 12, 3),
        ),
        # packages.ubuntu.com/resolute-updates/openvpn: "openvpn (2.7.0-1ubuntu1.1)". The AMI
        # name follows Canonical's pattern for gp3 images since noble (not yet checked
        # against a published resolute AMI).
        "ubuntu-26.04": Image(
            "ubuntu-26.04",
            _CANONICAL,
            "ubuntu/images/hvm-ssd-gp3/ubuntu-resolute-26.04-amd64-server-*",
            (2, 7, 0),
            "2.7.0-1ubuntu1.1",
            python=(3, 13, 0),
        ),
        # packages.debian.org/openvpn: bookworm (oldstable) "2.6.3-1+deb12u3". Debian's cloud
        # team publishes its AMIs in the aws partition, from account 136693071363, named
        # debian-12-amd64-<date>-<build> (wiki.debian.org/Cloud/AmazonEC2Image; account and
        # pattern not re-checked here); elsewhere pin an ami- id per VPC.
        "debian-12": Image(
            "debian-12",
            MappingProxyType({"aws": "136693071363"}),
            "debian-12-amd64-*",
            (2, 6, 3),
            "2.6.3-1+deb12u3",
            python=(3, 11, 2),
        ),
        # AL2023 had no openvpn package until 2023.6 (amazonlinux/amazon-linux-2023#79, #654),
        # and it never had EPEL. Gateways boot with cloud-init's apt module and Debian's
        # nogroup group, so vpnctl refuses it whatever it ships.
        "amazon-linux-2023": Image(
            "amazon-linux-2023",
            MappingProxyType({"aws": "amazon", "aws-cn": "amazon", "aws-us-gov": "amazon"}),
            "al2023-ami-2023.*-kernel-*-x86_64",
            None,
            "openvpn (AL2023.6 and later)",
            unsupported="gateways boot with apt (cloud-config apt:, python3-venv, nogroup);"
            " AL2023 is dnf-based",
        ),
    }
)


# --------------------------------------------------------------------------- what runs where

# Fingerprint mode pins the peer with ``peer-fingerprint``, new in 2.6 (Changes.rst, "Overview
# of changes in 2.6": "The --peer-fingerprint option has been introduced"; with it --ca becomes
# optional, so self-signed certificates need no CA).
PYTHON_NEEDED: Version = (3, 11, 0)  # pyproject.toml: requires-python = ">=3.11"
FINGERPRINT_SINCE: Version = (2, 6, 0)
# Every option of the rendered configs exists from 2.5 on (2.5 renamed ``ncp-ciphers`` to
# ``data-ciphers``, Changes.rst of 2.5); 2.5.11 is the oldest OpenVPN the system tests run.
OLDEST: Version = (2, 5, 0)
# Static-key mode: 2.7 refuses ``--secret`` unless ``--allow-deprecated-insecure-static-crypto``
# is given, "but will be removed in OpenVPN 2.8" (Changes.rst of 2.7, "Deprecated features").
# The psk configs carry the allowance, so psk runs up to 2.7 and is refused from 2.8.
STATIC_KEY_REMOVED: Version = (2, 8, 0)
# 2.7 changed two things a config says (Changes.rst, "Overview of changes in 2.7", "Deprecated
# features"): "persist-key option has been enabled by default" (and options.c warns
# "DEPRECATED OPTION: --persist-key option ignored" when given), and static-key mode needs
# --allow-deprecated-insecure-static-crypto.
SINCE_2_7: Version = (2, 7, 0)


def refusal(mode: str, version: Version) -> str:
    """Why ``mode`` cannot run on OpenVPN ``version``; "" when it can."""
    if version < OLDEST:
        return f"vpnctl's configs need OpenVPN {dotted(OLDEST)} or later"
    if mode == "fingerprint" and version < FINGERPRINT_SINCE:
        return (
            f"fingerprint mode needs OpenVPN {dotted(FINGERPRINT_SINCE)} or later"
            " (peer-fingerprint)"
        )
    if mode == "psk" and version >= STATIC_KEY_REMOVED:
        return f"psk mode (static key) is removed in OpenVPN {dotted(STATIC_KEY_REMOVED)}"
    return ""


@dataclass(frozen=True)
class Dialect:
    """What the OpenVPN template may say for the version it runs on.

    Known version: only what that version needs, so it starts without a word about options it
    does not know or no longer wants. Unknown version (an ``ami-`` id): what every version the
    mode runs on accepts, whatever some of them say about it.
    """

    # persist-key: needed up to 2.6 (the unprivileged process cannot re-read its keys on a
    # restart); 2.7 always persists keys and warns on the option
    persist_key: bool = True
    # allow-deprecated-insecure-static-crypto: 2.7 refuses static keys without it; 2.5 and 2.6
    # do not know it and say "Unrecognized option" (an error unless ignore-unknown-option)
    static_key_allowance: bool = True
    # ignore-unknown-option for the allowance: only when the version is not known
    ignore_unknown: bool = True


def dialect(version: Version | None) -> Dialect:
    """The config for ``version``; for an unknown version one that runs on every version."""
    if version is None:
        return Dialect()
    return Dialect(
        persist_key=version < SINCE_2_7,
        static_key_allowance=version >= SINCE_2_7,
        ignore_unknown=False,
    )


# --------------------------------------------------------------------------- the topology


def image_of(topology: Topology, vpc: str) -> tuple[str, str]:
    """The image a VPC's gateways run, and the key that chose it."""
    pinned = topology.vpcs[vpc].image
    if pinned:
        return pinned, f"vpcs.{vpc}.image"
    return topology.gateways.image, "gateways.image"


def openvpn_of(topology: Topology, vpc: str) -> Version | None:
    """The OpenVPN version a VPC's gateways run; None for an ami- id (unknown)."""
    image = IMAGES.get(image_of(topology, vpc)[0])
    return image.openvpn if image else None


def problems(topology: Topology) -> list[Problem]:
    """Every image problem of the topology, once each."""
    found = list(_image_problems(topology)) + list(_mode_problems(topology))
    return sorted(set(found))


def _image_problems(topology: Topology) -> Iterator[Problem]:
    for vpc in sorted(topology.vpcs):
        name, key = image_of(topology, vpc)
        if name.startswith("ami-"):
            continue
        image = IMAGES.get(name)
        if image is None:
            known = ", ".join(sorted(IMAGES))
            hint = did_you_mean(name, IMAGES)
            yield Problem(key, f"unknown image {name!r}{hint}; known images: {known}")
        elif image.unsupported:
            yield Problem(key, f"vpnctl cannot boot gateways on {name}: {image.unsupported}")
        elif image.python < PYTHON_NEEDED:
            yield Problem(
                key,
                f"gateways run vpnctl, which needs Python {dotted(PYTHON_NEEDED)} or later;"
                f" {name} ships Python {dotted(image.python)}: use {DEFAULT_IMAGE}",
            )
        elif topology.partition(vpc) not in image.owners:
            partition = topology.partition(vpc)
            yield Problem(
                key,
                f"image {name} is not published in partition {partition} (VPC {vpc}):"
                f" set vpcs.{vpc}.image to an ami- id there",
            )


def _mode_problems(topology: Topology) -> Iterator[Problem]:
    """One problem per mode key and image: the VPCs whose gateways cannot run that mode."""
    refused: dict[tuple[str, str, str, str], set[str]] = {}
    for link in topology.links:
        for vpc in (link.a, link.b):
            name, image_key = image_of(topology, vpc)
            version = openvpn_of(topology, vpc)
            if version and refusal(link.tunnel.mode, version):
                at = (_mode_key(topology, link), link.tunnel.mode, name, image_key)
                refused.setdefault(at, set()).add(vpc)
    for (key, mode, name, image_key), vpcs in refused.items():
        image = IMAGES[name]
        yield Problem(
            key,
            f"{refusal(mode, image.openvpn or OLDEST)}; {image_key} {image.describe()}"
            f" (gateways of {', '.join(sorted(vpcs))}): {_advice(mode)}",
        )


def _mode_key(topology: Topology, link: Link) -> str:
    """Where the link's mode is set: its own ``tunnel:``, or the topology's."""
    if "[" in link.origin and link.tunnel != topology.tunnel:
        return f"{link.origin}.tunnel.mode"
    return "tunnel.mode"


def _advice(mode: str) -> str:
    runs = [
        i.key
        for i in IMAGES.values()
        if i.openvpn
        and not i.unsupported
        and i.python >= PYTHON_NEEDED
        and not refusal(mode, i.openvpn)
    ]
    return f"images that run {mode} mode: {', '.join(runs)}"
