"""The lab's Lambda: one process per deployed hook function, running its handler on the
events the function's rules deliver.

moto's EventBridge cannot invoke a function (``emulator``), so the lab gave each hook rule a
queue of its own in the function's region; this process drains that queue (long polls, up to
10 messages a call) and calls ``vpnctl.failover.handler`` in-process on each event, as Lambda
would, in the environment the deployed function has: its configuration's variables (read
from the emulator with GetFunctionConfiguration, ``VPNCTL_ACCOUNT`` among them), the region,
the design apply packages (``VPNCTL_BUNDLE``, in the lab's state) and the emulator as
endpoint. moto does not fire schedules either: the reconcile rule's own
``ScheduleExpression`` (``rate(5 minutes)``) is kept here, as a "Scheduled Event" in the shape
EventBridge delivers:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html

    python -m vpnctl.lab.hookrunner STATE_DIR ACCOUNT REGION

Each event's run is one JSON line on stdout (``logs/hook-<region>.log``): what it was, how
long the handler took, what it changed; the handler's own decision lines come before it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vpnctl.lab import emulator

BUNDLE = "hook-bundle.json"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


def period_s(expression: str) -> float:
    """Seconds between runs of an EventBridge ``rate(...)`` expression."""
    found = _RATE.match(expression.strip())
    if not found:
        raise ValueError(f"not a rate expression: {expression!r}")
    return int(found[1]) * _UNIT_S[found[2].rstrip("s")]


def scheduled_event(account: str, region: str, rule_arn: str, at: float) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": account, "time": stamp, "region": region,
            "resources": [rule_arn], "detail": {}}  # fmt: skip


def _environment(state: Path, function: emulator.Function) -> None:
    lam = emulator.client("lambda", function.region)
    config = lam.get_function_configuration(FunctionName=function.name)
    variables = config.get("Environment", {}).get("Variables", {})
    os.environ.update({**variables, **emulator.environment(),
                       "VPNCTL_BUNDLE": str(state / BUNDLE),
                       "VPNCTL_ENDPOINT_URL": emulator.LOCAL,
                       "AWS_REGION": function.region, "AWS_DEFAULT_REGION": function.region,
                       "AWS_LAMBDA_FUNCTION_NAME": function.name})  # fmt: skip


def _invoke(event: dict[str, Any]) -> None:
    from vpnctl.failover import handler

    started = time.time()
    line: dict[str, Any] = {"at": started, "event": event.get("detail-type"),
                            "detail": event.get("detail")}  # fmt: skip
    try:
        result = handler(event, None)
        line["changes"] = result.get("changes", [])
    except Exception as exc:  # a failed invocation is logged; the next event runs anyway
        line["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    line["took_s"] = round(time.time() - started, 3)
    print(json.dumps(line, default=str), flush=True)


def run(state: Path, function: emulator.Function) -> None:
    _environment(state, function)
    sqs = emulator.client("sqs", function.region)
    every = period_s(function.schedule) if function.schedule else None
    rule = emulator.client("events", function.region).describe_rule(
        Name=f"{function.name}-reconcile")["Arn"] if every else ""  # fmt: skip
    next_at = time.time() + every if every else float("inf")
    while True:
        found = sqs.receive_message(QueueUrl=function.queue_url, MaxNumberOfMessages=10,
                                    WaitTimeSeconds=1).get("Messages", [])  # fmt: skip
        for message in found:
            sqs.delete_message(QueueUrl=function.queue_url,
                               ReceiptHandle=message["ReceiptHandle"])  # fmt: skip
            _invoke(json.loads(message["Body"]))
        if every and time.time() >= next_at:
            next_at += every
            _invoke(scheduled_event(function.account, function.region, rule, time.time()))


def main() -> None:
    state, account, region = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    function = next(f for f in emulator.functions(state) if (f.account, f.region) == (account,
                                                                                      region))  # fmt: skip
    run(state, function)


if __name__ == "__main__":
    main()
