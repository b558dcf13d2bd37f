"""What system tests need from the machine, checked in one place.

A test states its needs and is skipped, with the reason, when the machine lacks them; under
``CI=true`` the same lack is a failure, because CI must prove these things, not skip them.

    @pytest.mark.needs("root", "netns", "nft", "fping")
    def test_x(): ...

    def test_y(require):                        # or inside a test / fixture
        require(shutil.which("tc") is not None, "tc is not installed")

Known needs: root, ip, netns, nft, openvpn, fping, shellcheck, iptables.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

import pytest


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` unless ``condition``; fail instead when CI=true."""
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"required on CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _netns_works() -> bool:
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    name = f"vpnctl-check-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode == 0
    if made:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return made


def _tool(name: str) -> tuple[Callable[[], bool], str]:
    return (lambda: shutil.which(name) is not None), f"{name} is not installed"


CHECKS: dict[str, tuple[Callable[[], bool], str]] = {
    "root": (lambda: os.geteuid() == 0, "needs root"),
    "netns": (_netns_works, "cannot make network namespaces (needs root and `ip netns`)"),
    **{tool: _tool(tool) for tool in ("ip", "nft", "openvpn", "fping", "shellcheck", "iptables")},
}


def need(*names: str) -> None:
    """``require`` each named need from CHECKS."""
    for name in names:
        check, reason = CHECKS[name]
        require(check(), reason)


@pytest.fixture(name="require")
def _require_fixture() -> Callable[[bool, str], None]:
    """``require(condition, reason)`` for use inside a test."""
    return require


@pytest.fixture(name="need")
def _need_fixture() -> Callable[..., None]:
    """``need("root", "fping")`` for use inside a test or fixture."""
    return need


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(*names): machine needs, see tests/system/conftest.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.system)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        need(*mark.args)
