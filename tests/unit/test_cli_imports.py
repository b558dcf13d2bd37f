"""``vpnctl --help`` and ``vpnctl plan`` stay fast: they never import the AWS layer's libraries.

Each runs in a fresh interpreter, which then lists every module it holds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AWS = {"boto3", "botocore", "moto", "s3transfer"}
# plan renders one gateway's user-data to check EC2's size limit before apply: templates and
# key names are what it needs; --help is answered from the command table, without click
HEAVY = {"--help": AWS | {"jinja2", "cryptography", "logging", "click"}, "plan": AWS}
RUN = """
import json, runpy, sys
sys.argv = ["vpnctl", *sys.argv[2:]]
code = None
try:
    runpy.run_module("vpnctl", run_name="__main__")
except SystemExit as exc:
    code = exc.code
with open(sys_argv_out, "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def modules_of(args: list[str], cwd: Path) -> set[str]:
    report = cwd / "modules.json"
    script = RUN.replace("sys_argv_out", repr(str(report)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-c", script, "-", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )
    found = json.loads(report.read_text())
    assert found["code"] in (0, None), found["code"]
    return {m.split(".")[0] for m in found["modules"]}


@pytest.mark.parametrize("args", [["--help"], ["plan", "demo.yaml"], ["plan", "--help"]])
def test_help_and_plan_import_no_aws_library(args: list[str], tmp_path: Path) -> None:
    shutil.copy(ROOT / "topologies" / "demo.yaml", tmp_path / "demo.yaml")
    loaded = modules_of(args, tmp_path)
    assert "vpnctl" in loaded
    heavy = HEAVY[args[0] if args[0] == "--help" else "plan"]
    assert not loaded & heavy, sorted(loaded & heavy)


def test_help_imports_no_command_module(tmp_path: Path) -> None:
    report = tmp_path / "modules.json"
    script = RUN.replace("sys_argv_out", repr(str(report)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-c", script, "-", "--help"], env=env, check=True, capture_output=True
    )
    modules = json.loads(report.read_text())["modules"]
    assert [m for m in modules if m.startswith("vpnctl.cli")] == []
