"""The agent's systemd unit: restarted forever, no shell, and a command line that parses."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from vpnctl import render
from vpnctl.cli.agent import agent

UNIT = Path(__file__).resolve().parents[3] / "userdata" / "vpnctl-agent.service"
# Where delivery installs the pinned zipapp (userdata/gateway_aws.py: LIB_DIR/vpnctl.pyz).
SOFTWARE = f"{render.LIB_DIR}/vpnctl.pyz"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_it_restarts_forever_and_logs_to_the_journal() -> None:
    u = unit()
    assert u["Service"]["Restart"] == "always"
    assert u["Service"]["RestartSec"] == "2"
    assert u["Unit"]["StartLimitIntervalSec"] == "0"
    assert u["Service"]["StandardOutput"] == u["Service"]["StandardError"] == "journal"


def test_it_runs_the_pinned_zipapp_with_python_and_no_shell() -> None:
    argv = shlex.split(unit()["Service"]["ExecStart"])
    assert argv[:4] == ["/usr/bin/python3", SOFTWARE, "agent", "run"]
    assert not any(a in ("sh", "/bin/sh", "bash", "-c") for a in argv)


def test_its_arguments_are_the_agent_s_own() -> None:
    argv = shlex.split(unit()["Service"]["ExecStart"])
    run = agent.commands["run"]
    context = run.make_context("run", argv[4:])
    assert context.params["desired"] == "/var/lib/vpnctl/desired"
    assert context.params["no_publish"] is False
    assert context.params["follow_store"] is True  # day two: it follows what apply wants
