"""Bounded retries with jitter for throttling and AWS's eventual consistency.

A call is retried when AWS says "slow down" or "not there yet" (an ID created a moment ago that
another endpoint has not seen). Those answers are definite refusals, so retrying them can never
duplicate anything. A lost connection is different: the request may have happened, so only calls
that are safe to repeat (reads, or creates carrying an idempotency token) are retried then.
``sleep`` is passed in, so tests never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import botocore.exceptions
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

T = TypeVar("T")

THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TooManyRequestsException",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
    }
)
NOT_YET_VISIBLE = frozenset(
    {
        "InvalidVpcID.NotFound",
        "InvalidSubnetID.NotFound",
        "InvalidRouteTableID.NotFound",
        "InvalidGroup.NotFound",
        "InvalidInternetGatewayID.NotFound",
        "InvalidAllocationID.NotFound",
        "InvalidNetworkInterfaceID.NotFound",
        "InvalidInstanceID.NotFound",
        "InvalidLaunchTemplateId.NotFound",
        "InvalidLaunchTemplateName.NotFoundException",
        "NoSuchHostedZone",
    }
)
# IAM is eventually consistent: a fresh instance profile is refused for a while by EC2/ASG.
NOT_YET_VISIBLE_HINTS = ("iamInstanceProfile", "Invalid IamInstanceProfile", "instance profile")
CONNECTION = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectTimeoutError,
)


def error_code(exc: BaseException) -> str:
    """AWS's error code of a ``ClientError`` (else the exception's type)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def transient(exc: BaseException) -> bool:
    """A definite refusal worth asking again: throttled, or not visible yet."""
    code = error_code(exc)
    if code in THROTTLING or code in NOT_YET_VISIBLE:
        return True
    if code in ("ValidationError", "InvalidParameterValue", "InvalidParameterCombination"):
        return any(hint in str(exc) for hint in NOT_YET_VISIBLE_HINTS)
    return False


@dataclass(frozen=True)
class Retry:
    attempts: int = 8
    base_s: float = 0.5
    cap_s: float = 20.0
    sleep: Callable[[float], None] = time.sleep

    def call(self, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        def retryable(exc: BaseException) -> bool:
            return transient(exc) or (idempotent and isinstance(exc, CONNECTION))

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_random_exponential(multiplier=self.base_s, max=self.cap_s),
            retry=retry_if_exception(retryable),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(fn)


NO_WAIT = Retry(attempts=3, base_s=0.0, cap_s=0.0, sleep=lambda _s: None)
