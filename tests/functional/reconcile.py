"""The failover hook's scheduled reconcile on moto, in process, through ``vpnctl failover``.

On AWS a gateway's boot associates its Elastic IP and turns its source/destination check off
(``userdata/gateway_aws.py``), and the hook's reconcile does both again for any instance that
lacks them (``vpnctl.failover.assess``); apply does neither. No boot runs under moto, so a test
that needs a gateway as it is once running runs this reconcile after apply.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import Result

from tests.functional.conftest import ROOT, Aws, fast
from vpnctl.aws.factory import Factory
from vpnctl.cli.failover import failover

SCHEDULED = ROOT / "tests" / "events" / "scheduled.json"


def reconcile(aws: Aws, path: Path, factory: Factory | None = None) -> Factory:
    """One scheduled run of the hook against every account of the topology at ``path``."""
    made = factory or fast()
    event = aws.home / "scheduled.json"
    shutil.copy(SCHEDULED, event)
    result: Result = aws.run(failover, str(path), "--event", str(event), factory=made)
    assert result.exit_code == 0, result.output
    return made
