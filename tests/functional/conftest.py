"""A real moto server over HTTP per test module, reset before each test, and the CLI to drive.

Each xdist worker is its own process with its own emulator state; within a worker the server
is reset before every test, so tests never see each other's objects.
"""

from __future__ import annotations

import logging
import shutil
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import click
import pytest
from click.testing import CliRunner, Result

from vpnctl.aws import sandbox
from vpnctl.aws.factory import Factory

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = "[default]\naws_access_key_id = test\naws_secret_access_key = test\n"
CREDENTIALS += "[china]\naws_access_key_id = test\naws_secret_access_key = test\n"


@pytest.fixture(autouse=True)
def _emulator_as_aws_behaves(monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``vpnctl.aws.sandbox.emulate_aws`` changes in moto, for this test only."""
    sandbox.emulate_aws(lambda o, n, v: monkeypatch.setattr(o, n, v, raising=False))


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Aws:
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    creds = tmp_path / "credentials"
    creds.write_text(CREDENTIALS)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return Aws(moto_url, tmp_path)


@dataclass
class Aws:
    url: str
    home: Path

    def topology(self, name: str, text: str | None = None) -> Path:
        """A copy of topologies/NAME.yaml (or ``text``) in this test's directory."""
        path = self.home / f"{name}.yaml"
        if text is None:
            shutil.copy(ROOT / "topologies" / f"{name}.yaml", path)
        else:
            path.write_text(text)
        return path

    def run(self, command: click.Command, *args: str, factory: Factory | None = None) -> Result:
        """``vpnctl COMMAND ARGS --endpoint-url URL``, through the root command (its one exit
        point turns errors into messages and exit codes, as a user sees them)."""
        from vpnctl.cli import cli

        made = factory or fast()
        # the root command itself takes its own options first (``cli, "--debug", "apply", ...``)
        named = [] if command is cli else [str(command.name)]
        argv = [*named, *args, "--endpoint-url", self.url]
        return CliRunner().invoke(cli, argv, obj=made, catch_exceptions=True)

    def client(self, service: str, region: str) -> Any:
        return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test").client(
            service, region_name=region, endpoint_url=self.url
        )


def fast() -> Factory:
    return Factory(sleep=lambda _s: None)
