"""The lab's model of a gateway image: the OpenVPN it ships, as a binary this machine has.

``vpnctl.images`` says which OpenVPN each image key ships (ubuntu-22.04: 2.5, ubuntu-24.04:
2.6, ubuntu-26.04: 2.7). A lab gateway runs the binary of that series: the system's
``openvpn`` when it is of that series, else a build under ``VPNCTL_LAB_OPENVPNS`` (default
``../shared/openvpn`` beside the checkout), laid out ``<version>/sbin/openvpn``. So an image
change in the lab really swaps the OpenVPN a gateway runs. An ``ami-`` id ships an OpenVPN
vpnctl cannot name, and an image whose series this machine lacks: the system's runs.

The agent starts ``openvpn`` from its PATH; ``path_dir`` is a directory holding only an
``openvpn`` link to the chosen binary, put first on the agent's PATH.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from vpnctl import images

ENV = "VPNCTL_LAB_OPENVPNS"
DEFAULT_BUILDS = Path(__file__).resolve().parents[2].parent / "shared" / "openvpn"
_VERSION = re.compile(r"^OpenVPN (\d+)\.(\d+)\.(\d+)")


def builds() -> Path:
    return Path(os.environ.get(ENV) or DEFAULT_BUILDS)


@functools.cache
def version_of(binary: str) -> images.Version | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = _VERSION.match(out.stdout)
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def binary_for(image: str) -> tuple[Path | None, str]:
    """The binary a lab gateway of ``image`` runs (None: the system's), and what it is."""
    known = images.IMAGES.get(image)
    wanted = known.openvpn if known else None
    system = shutil.which("openvpn")
    have = version_of(system) if system else None
    if wanted is None:
        return None, f"the system's OpenVPN ({image} ships none vpnctl can name)"
    if have is not None and have[:2] == wanted[:2]:
        return None, f"the system's OpenVPN {images.dotted(have)}"
    for candidate in sorted(builds().glob("*/sbin/openvpn"), reverse=True):
        found = version_of(str(candidate))
        if found is not None and found[:2] == wanted[:2]:
            return candidate, f"OpenVPN {images.dotted(found)} ({candidate})"
    return None, (
        f"the system's OpenVPN: no {wanted[0]}.{wanted[1]} build here (set {ENV} to a "
        "directory of <version>/sbin/openvpn)"
    )


def path_dir(base: Path, binary: Path | None) -> Path | None:
    """A directory under ``base`` whose only ``openvpn`` is ``binary`` (None: no change)."""
    if binary is None:
        return None
    made = base / "bin"
    made.mkdir(parents=True, exist_ok=True)
    link = made / "openvpn"
    tmp = made / ".openvpn.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(binary.resolve())
    os.replace(tmp, link)
    return made
