"""The failover hook: events in, route tables moved to healthy gateways.

``events`` reads the AWS event shapes, ``decision`` chooses gateways (pure), ``signals``
derives each gateway's state; ``observe`` reads AWS, ``assess`` turns what it saw into work
(pure), ``act`` does it under a ``lease``, and ``hook`` wires them as one pipeline behind
``handler`` (Lambda) and ``vpnctl failover`` (CLI). ``bundle`` carries the design into the
Lambda package, ``package`` builds that package.

Importing this package imports nothing else: ``handler`` loads the hook (and boto3) on its
first call.
"""

from __future__ import annotations

from typing import Any


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda handler (``vpnctl.failover.handler``); see ``vpnctl.failover.hook``."""
    from vpnctl.failover import hook

    return hook.handler(event, context)
