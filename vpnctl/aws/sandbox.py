"""``--sandbox``: an AWS emulator (moto's server) on 127.0.0.1, so the whole apply flow runs on
a machine with no AWS account. It needs the optional extra ``vpnctl[sandbox]``.

Two lives, and every ``--sandbox`` command says which one it uses:

* ``vpnctl sandbox up`` starts the emulator as a process of its own, in the background. It
  keeps what every command made until ``vpnctl sandbox down``; its address and process id are
  in a small state file (``state_path``), which ``--sandbox`` reads.
* With no such process running, ``--sandbox`` starts an emulator inside the command itself: the
  world it shows is empty and new, and vanishes when the command ends.

``python -m vpnctl.aws.sandbox --state FILE [--port N]`` is the background process itself.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vpnctl.errors import SandboxError

CREDENTIALS = {
    "aws_access_key_id": "sandbox",
    "aws_secret_access_key": "sandbox",
}
INSTALL_HINT = "the sandbox needs the AWS emulator: pip install 'vpnctl[sandbox]'"
EPHEMERAL_NOTICE = (
    "sandbox: no `vpnctl sandbox up` is running, so this command runs against a new, empty "
    "emulator that is gone when it ends; start one with `vpnctl sandbox up` to keep state "
    "across commands"
)
START_WAIT_S = 30.0
STOP_WAIT_S = 10.0
# emulators this process started, kept so that stopping one here reaps it (a test starts and
# stops them in one process); ``vpnctl sandbox up`` exits and leaves its emulator running
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Running:
    url: str
    pid: int
    started_at: float


def state_path() -> Path:
    """``$VPNCTL_SANDBOX_STATE``, else ``$XDG_STATE_HOME/vpnctl/sandbox.json``."""
    given = os.environ.get("VPNCTL_SANDBOX_STATE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "vpnctl" / "sandbox.json"


def running(path: Path | None = None) -> Running | None:
    """The background emulator, if one is alive; a state file left by a dead one is removed."""
    path = path or state_path()
    try:
        found = Running(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise SandboxError(f"{path}: not a sandbox state file ({exc}); remove it") from None
    if not _alive(found.pid):
        path.unlink(missing_ok=True)
        return None
    return found


def start(path: Path | None = None, port: int = 0, wait_s: float = START_WAIT_S) -> Running:
    """Start the background emulator (or return the one already running)."""
    path = path or state_path()
    already = running(path)
    if already is not None:
        return already
    if importlib.util.find_spec("moto") is None:
        raise SandboxError(INSTALL_HINT)
    path.parent.mkdir(parents=True, exist_ok=True)
    log = path.with_suffix(".log")
    command = [
        sys.executable,
        "-m",
        "vpnctl.aws.sandbox",
        "--state",
        str(path),
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    _STARTED[child.pid] = child
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        found = running(path)
        if found is not None and found.pid == child.pid:
            return found
        if child.poll() is not None:
            _STARTED.pop(child.pid, None)
            raise SandboxError(f"the sandbox did not start: {_tail(log)} (log: {log})")
        time.sleep(0.05)
    _stop_pid(child.pid)
    raise SandboxError(f"the sandbox did not start within {wait_s:.0f} s (log: {log})")


def stop(path: Path | None = None) -> Running | None:
    """Stop the background emulator and forget its state; None if none was running."""
    path = path or state_path()
    found = running(path)
    if found is None:
        return None
    _stop_pid(found.pid)
    path.unlink(missing_ok=True)
    return found


@contextmanager
def sandbox() -> Iterator[str]:
    """The endpoint URL of the background emulator, or of one made for this block only."""
    found = running()
    if found is not None:
        yield found.url
        return
    server = _server(0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        # moto's backends belong to the process, not the server: an earlier emulator in this
        # process (a caller's own, say) would show through. The world promised is empty.
        reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(reset, timeout=10):
            pass
        yield url
    finally:
        server.stop()


def _server(port: int) -> Any:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise SandboxError(INSTALL_HINT) from exc
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    emulate_aws()
    return ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)


Setter = Callable[[object, str, Any], None]


def emulate_aws(set_attribute: Setter = setattr) -> None:
    """Make the emulator do two things as AWS does that apply relies on (the functional tests
    apply the same, through pytest's monkeypatch):

    * moto copies a launch template's tags once, when it is made, so a later CreateTags never
      shows in DescribeLaunchTemplates; on AWS it does, and apply records there what a template
      was made from. Its templates read their tags when asked.
    * moto evaluates a bucket policy on object calls, and a statement whose condition it cannot
      meet comes back DENIED, a Deny whose condition does not hold too
      (moto/iam/access_control.py, IAMPolicyStatement.is_action_permitted): the artifact
      bucket's policy, all Deny-with-condition, would refuse apply's own PutObject, which AWS
      allows. Its buckets store the policy and do not judge it; what the policy means is
      tested against AWS's documented evaluation (tests/unit/aws/test_store.py).
    * moto ignores CreateAutoScalingGroup's LifecycleHookSpecificationList, which AWS takes:
      "One or more lifecycle hooks to add to the Auto Scaling group before instances are
      launched" (Amazon EC2 Auto Scaling API Reference, CreateAutoScalingGroup). Its groups
      get them, as PutLifecycleHook would give them.
    * moto keeps a CreateLaunchTemplateVersion's UserData as a plain string where its group's
      launch asserts an encoded one, so a group launching from a new version answers 500; on
      AWS the group launches from the template's default version. Its versions hand it over
      encoded.
    """
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateVersion
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    live = property(lambda self: self.get_tags(), lambda self, value: None)
    set_attribute(LaunchTemplate, "tags", live)
    set_attribute(FakeBucket, "get_permission", lambda *_a: PermissionResult.NEUTRAL)
    set_attribute(LaunchTemplateVersion, "user_data", property(_encoded_user_data))
    create = AutoScalingResponse.create_auto_scaling_group
    if not getattr(create, "takes_lifecycle_hooks", False):  # once, whoever calls this
        set_attribute(AutoScalingResponse, "create_auto_scaling_group", _with_hooks(create))


def _encoded_user_data(version: Any) -> Any:
    from moto.core.types import Base64EncodedString

    found = version.data.get("UserData")
    return Base64EncodedString(found) if isinstance(found, str) else found


def _with_hooks(create: Any) -> Any:
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

    create_with_hooks.takes_lifecycle_hooks = True  # type: ignore[attr-defined]
    return create_with_hooks


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    with suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    return False


def _stop_pid(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    while _alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    if _alive(pid):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _reap(pid, wait=True)


def _reap(pid: int, wait: bool = False) -> None:
    """Collect the exit of an emulator this process started (``start`` then ``stop`` in one)."""
    child = _STARTED.get(pid)
    if child is None:
        return
    with suppress(subprocess.TimeoutExpired):
        child.wait(STOP_WAIT_S if wait else 0)
        del _STARTED[pid]


def _tail(log: Path) -> str:
    with suppress(OSError):
        lines = log.read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"
    return "no output"


# ----------------------------------------------------------------- the background process


def serve(path: Path, port: int) -> None:
    """Run the emulator until SIGTERM or SIGINT; publish its address in ``path`` meanwhile."""
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _n, _f: stopping.set())
    server = _server(port)
    server.start()
    try:
        host, bound = server.get_host_and_port()
        state = Running(f"http://{host}:{bound}", os.getpid(), time.time())
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(state)), encoding="utf-8")
        temporary.replace(path)
        while not stopping.wait(0.5):
            pass
    finally:
        server.stop()
        with suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m vpnctl.aws.sandbox")
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    serve(args.state, args.port)


if __name__ == "__main__":
    _main()
