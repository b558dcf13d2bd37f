"""What ``pip install .`` ships: every package of the tree, each a regular package."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_of_the_tree_is_installed() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.relative_to(ROOT).parts)
        for p in (ROOT / "vpnctl").rglob("*")
        if p.is_dir() and "__pycache__" not in p.parts and any(p.glob("*.py"))
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"


def test_every_python_package_has_an_init_so_the_zipapp_can_import_it() -> None:
    """zipimport, which runs the gateway's vpnctl.pyz, finds no namespace packages."""
    missing = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "vpnctl").rglob("*")
        if p.is_dir() and any(p.glob("*.py")) and not (p / "__init__.py").exists()
    ]
    assert missing == []
