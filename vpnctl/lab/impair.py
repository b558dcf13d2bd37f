"""``--impair`` values: which links get loss and delay. Pure.

``cn-north-1:loss=5%,delay=120ms`` impairs every link of VPC cn-north-1;
``ap-southeast-1--cn-north-1:loss=2%`` one link; ``*:delay=50ms`` all of them. Loss is dropped
by nftables in each direction independently; delay is added in each direction by the relay
(so the round trip grows by twice the delay), as netem on both ends would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from vpnctl.design import Design

_SPEC = re.compile(r"^(?P<target>[a-z0-9*][a-z0-9-]*(?:--[a-z0-9-]+)?):(?P<params>.+)$")


class ImpairError(ValueError):
    pass


@dataclass(frozen=True)
class Impairment:
    loss_pct: float = 0.0
    delay_ms: float = 0.0


def parse(specs: Iterable[str], design: Design) -> dict[str, Impairment]:
    """link name -> its impairment, for every link the specs name."""
    links = sorted({t.link for t in design.tunnels})
    result: dict[str, Impairment] = {}
    for spec in specs:
        target, impairment = _one(spec)
        chosen = [link for link in links if _matches(target, link)]
        if not chosen:
            raise ImpairError(f"--impair {spec}: {target!r} names no link or VPC of the topology"
                              f" (links: {', '.join(links)})")  # fmt: skip
        for link in chosen:
            result[link] = impairment
    return result


def _matches(target: str, link: str) -> bool:
    return target in ("*", link) or target in link.split("--")


def _one(spec: str) -> tuple[str, Impairment]:
    match = _SPEC.match(spec.strip())
    if not match:
        raise ImpairError(f"--impair {spec}: expected TARGET:loss=N%,delay=Nms")
    loss, delay = 0.0, 0.0
    for param in match["params"].split(","):
        key, _, value = param.partition("=")
        try:
            if key == "loss" and value.endswith("%"):
                loss = float(value[:-1])
            elif key == "delay" and value.endswith("ms"):
                delay = float(value[:-2])
            else:
                raise ValueError
        except ValueError:
            raise ImpairError(f"--impair {spec}: {param!r} is not loss=N% or delay=Nms") from None
    if not 0 <= loss < 100 or not 0 <= delay <= 10000:
        raise ImpairError(f"--impair {spec}: loss must be 0-99%, delay 0-10000ms")
    return match["target"], Impairment(loss, delay)
