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

from vpnctl.aws.factory import Factory

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = "[default]\naws_access_key_id = test\naws_secret_access_key = test\n"
CREDENTIALS += "[china]\naws_access_key_id = test\naws_secret_access_key = test\n"


@pytest.fixture(autouse=True)
def _launch_template_tags_follow_create_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto copies a launch template's tags once, when it is made, so a later CreateTags never
    shows in DescribeLaunchTemplates (on AWS it does, and apply relies on it to record what a
    template was made from). Let moto's templates read their tags when asked."""
    from moto.ec2.models.launch_templates import LaunchTemplate

    live = property(lambda self: self.get_tags(), lambda self, value: None)
    monkeypatch.setattr(LaunchTemplate, "tags", live, raising=False)


@pytest.fixture(autouse=True)
def _bucket_policies_are_checked_by_our_evaluator(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto evaluates a bucket policy on object calls, but any statement whose condition it
    cannot meet comes back DENIED, a Deny whose condition does not hold too
    (moto/iam/access_control.py, IAMPolicyStatement.is_action_permitted): the artifact
    bucket's policy, all Deny-with-condition, would refuse apply's own PutObject. AWS
    evaluates such a Deny as not applying. The policy's meaning is tested against AWS's
    documented evaluation in tests/unit/aws/test_store.py; here moto only stores it."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    monkeypatch.setattr(FakeBucket, "get_permission", lambda *_a: PermissionResult.NEUTRAL)


@pytest.fixture(autouse=True)
def _groups_take_their_lifecycle_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto ignores CreateAutoScalingGroup's LifecycleHookSpecificationList, which AWS takes:
    "One or more lifecycle hooks to add to the Auto Scaling group before instances are
    launched" (Amazon EC2 Auto Scaling API Reference, CreateAutoScalingGroup). Let moto add
    them, as PutLifecycleHook does."""
    from moto.autoscaling.responses import AutoScalingResponse

    monkeypatch.setattr(
        AutoScalingResponse,
        "create_auto_scaling_group",
        with_lifecycle_hooks(AutoScalingResponse.create_auto_scaling_group),
    )


def with_lifecycle_hooks(create: Any) -> Any:
    def create_with_hooks(self: Any) -> Any:
        done = create(self)
        for spec in self._get_params().get("LifecycleHookSpecificationList", []):
            self.autoscaling_backend.create_lifecycle_hook(
                name=spec["LifecycleHookName"],
                as_name=self._get_param("AutoScalingGroupName"),
                transition=spec["LifecycleTransition"],
                timeout=int(spec.get("HeartbeatTimeout", 3600)),
                result=spec.get("DefaultResult", "ABANDON"),
            )
        return done

    return create_with_hooks


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
