"""The Lambda package is built once per content digest; what is cached stays honest."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vpnctl import pipeline
from vpnctl.failover import package
from vpnctl.failover.bundle import Bundle

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VPNCTL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def bundle(tmp_path: Path) -> Bundle:
    shutil.copy(ROOT / "topologies" / "demo.yaml", tmp_path / "demo.yaml")
    return Bundle.from_plan(pipeline.plan(str(tmp_path / "demo.yaml")))


def never(*_a: Any, **_k: Any) -> Any:
    raise AssertionError("built again although nothing changed")


def test_an_unchanged_package_is_read_back_not_built(
    cache: Path, bundle: Bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = package.build(bundle)
    monkeypatch.setattr(package, "libraries", never)
    monkeypatch.setattr(package, "_zip", never)
    again = package.build(bundle)
    assert again.data == first.data
    assert again.sha256 == first.sha256
    assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["hook", "libraries"]


def test_a_changed_design_zips_again_without_finding_libraries_again(
    cache: Path, bundle: Bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = package.build(bundle)
    monkeypatch.setattr(package, "libraries", never)
    other = Bundle.from_json(bundle.to_json().replace(bundle.topology, "other", 1))
    changed = package.build(other)
    assert changed.sha256 != first.sha256
    assert len(list(cache.glob("hook-*.zip"))) == 2


def test_a_changed_library_is_looked_for_again(
    cache: Path, bundle: Bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = package.build(bundle)
    real = package._library_files
    asked: list[tuple[str, ...]] = []

    def changed(name: str) -> Iterator[tuple[str, bytes]]:
        for arcname, data in real(name):
            yield arcname, data + b"\n# upgraded\n"

    def found(modules: tuple[str, ...] = package.HOOK_MODULES) -> frozenset[str]:
        asked.append(modules)
        return frozenset({"yaml", "netaddr", "tenacity"})

    monkeypatch.setattr(package, "_library_files", changed)
    monkeypatch.setattr(package, "libraries", found)
    built = package.build(bundle)
    assert asked == [package.HOOK_MODULES]
    assert built.sha256 != first.sha256
    assert package.build(bundle).sha256 == built.sha256
    assert asked == [package.HOOK_MODULES]  # the new list is kept too


def test_an_unwritable_cache_only_means_no_cache(
    tmp_path: Path, bundle: Bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("VPNCTL_CACHE_DIR", str(blocker / "cache"))
    assert package.build(bundle).data.startswith(b"PK")
