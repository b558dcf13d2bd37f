"""The failover hook's scheduled reconcile on moto, in process, through ``vpnctl failover``.

On AWS a gateway's boot associates its Elastic IP and turns its source/destination check off
(``userdata/gateway_aws.py``), and the hook's reconcile does both again for any instance that
lacks them (``vpnctl.failover.assess``); apply does neither. No boot runs under moto, so a test
that needs a gateway as it is once running runs this reconcile after apply.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import Result

from tests.functional.conftest import ROOT, Aws, fast
from vpnctl.aws.factory import Factory
from vpnctl.cli.failover import failover

SCHEDULED = ROOT / "tests" / "events" / "scheduled.json"


def run_event(
    aws: Aws, path: Path, event: dict[str, Any], factory: Factory | None = None
) -> tuple[Result, Factory]:
    """One run of the hook on ``event`` against every account of the topology at ``path``."""
    made = factory or fast()
    saved = aws.home / "event.json"
    saved.write_text(json.dumps(event))
    return aws.run(failover, str(path), "--event", str(saved), factory=made), made


def reconcile(aws: Aws, path: Path, factory: Factory | None = None) -> Factory:
    """One scheduled run of the hook (EventBridge's Scheduled Event, as the sample has it)."""
    result, made = run_event(aws, path, json.loads(SCHEDULED.read_text()), factory)
    assert result.exit_code == 0, result.output
    return made
