"""The gateway's vpnctl zipapp: self-contained but for what the distribution's python3-boto3
provides, the same bytes every build, and no compiled code."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

from vpnctl.failover import package


def _system_libraries(into: Path) -> Path:
    """Only what python3-boto3 brings on the gateway (package.PROVIDED), linked into a dir."""
    into.mkdir()
    for name in sorted(package.PROVIDED):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        source = Path(next(iter(spec.submodule_search_locations or []), spec.origin))
        (into / source.name).symlink_to(source)
    return into


def test_the_zipapp_runs_the_probe_with_only_the_systems_boto3_beside_it(tmp_path: Path) -> None:
    software = package.gateway_software()
    pyz = tmp_path / "vpnctl.pyz"
    pyz.write_bytes(software.data)
    env = {"PYTHONPATH": str(_system_libraries(tmp_path / "system")), "PATH": "/usr/bin:/bin"}
    # -S: no site-packages, so click, PyYAML and vpnctl can only come from the zipapp
    done = subprocess.run(
        [sys.executable, "-S", str(pyz), "probe", "--help"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--spec" in done.stdout
    agent = subprocess.run(  # the agent reaches AWS through the door: all of it is packed
        [sys.executable, "-S", str(pyz), "agent", "--help"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert agent.returncode == 0, agent.stderr
    version = subprocess.run(
        [sys.executable, "-S", str(pyz), "--version"], capture_output=True, text=True, env=env
    )
    assert version.stdout.startswith("vpnctl, version ")


def test_the_zipapp_is_the_same_bytes_every_build_and_holds_no_compiled_code() -> None:
    first = package.gateway_software()
    package.gateway_software.cache_clear()
    again = package.gateway_software()
    assert first.data == again.data
    assert first.sha256 == again.sha256
    assert first.data.startswith(package.SHEBANG)
    names = zipfile.ZipFile(BytesIO(first.data)).namelist()
    assert "__main__.py" in names
    assert {n.split("/")[0] for n in names} >= {"vpnctl", "click", "yaml"}
    assert not [n for n in names if n.endswith(package.SKIP_SUFFIXES)]
    assert not [n for n in names if n.split("/")[0] in package.PROVIDED]
