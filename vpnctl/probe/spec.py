"""A gateway's probe plan as a small JSON file: what a gateway instance probes, every minute.

``vpnctl render`` writes one per gateway (``/etc/vpnctl/probe.json``) from the design; the
probe timer on the instance runs ``vpnctl probe --spec`` on it. The file carries only what the
probe needs, the targets with their links and far gateways, the thresholds and the up/down
policy, so the gateway needs neither the topology nor its lock file (which for a large
topology would not fit in user-data), and no key material.

``siblings`` names the other gateways of the gateway's VPC (its other AZs), which the gateway
agent probes on their VPC-side address: the only observers of a gateway inside its own region
when the far ends of its tunnels are in another partition. Their addresses are not known when
the plan is written (an instance gets its private address at launch), so the agent finds them
at run time; a plan without siblings (an older render) lists none, and the key is written
only when there are some, so a plan without siblings reads as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from vpnctl.probe.report import Target
from vpnctl.topology import Failover, Probe, Thresholds

FORMAT_VERSION = 1


class SpecError(ValueError):
    """The file is not a probe plan vpnctl wrote; the message says what is wrong."""


@dataclass(frozen=True)
class Spec:
    topology: str | None  # None for ad-hoc targets
    gateway: str | None  # the gateway that probes
    probe: Probe
    failover: Failover
    targets: tuple[Target, ...]
    siblings: tuple[str, ...] = field(default=())  # the VPC's other gateways, by name


def dumps(spec: Spec) -> str:
    p, f = spec.probe, spec.failover
    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "topology": spec.topology,
        "gateway": spec.gateway,
        "count": p.count,
        "interval_ms": p.interval_ms,
        "warn": {"loss_pct": p.warn.loss_pct, "rtt_ms": p.warn.rtt_ms},
        "crit": {"loss_pct": p.crit.loss_pct, "rtt_ms": p.crit.rtt_ms},
        "consecutive_failures": f.consecutive_failures,
        "recovery_successes": f.recovery_successes,
        "targets": [
            {"address": str(t.address), "link": t.link, "gateway": t.gateway} for t in spec.targets
        ],
    }
    if spec.siblings:
        doc["siblings"] = list(spec.siblings)
    return json.dumps(doc, indent=1) + "\n"


def loads(text: str, file: str) -> Spec:
    try:
        doc = json.loads(text)
        if doc["format_version"] != FORMAT_VERSION:
            raise ValueError(f"format_version {doc['format_version']!r} is not {FORMAT_VERSION}")
        return Spec(
            topology=str(doc["topology"]),
            gateway=str(doc["gateway"]),
            probe=Probe(
                int(doc["count"]),
                int(doc["interval_ms"]),
                _limits(doc["warn"]),
                _limits(doc["crit"]),
            ),
            failover=Failover(int(doc["consecutive_failures"]), int(doc["recovery_successes"])),
            targets=tuple(_target(t) for t in doc["targets"]),
            siblings=tuple(_sibling(s) for s in doc.get("siblings", ())),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SpecError(f"{file}: not a vpnctl probe plan ({exc}); re-render it") from None


def _limits(raw: Mapping[str, Any]) -> Thresholds:
    return Thresholds(float(raw["loss_pct"]), float(raw["rtt_ms"]))


def _target(raw: Mapping[str, Any]) -> Target:
    return Target(IPv4Address(raw["address"]), raw.get("link"), raw.get("gateway"))


def _sibling(raw: Any) -> str:
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"sibling {raw!r} is not a gateway name")
    return raw


def for_gateway(
    topology: str,
    gateway: str,
    probe: Probe,
    failover: Failover,
    targets: Sequence[Target],
    siblings: Sequence[str] = (),
) -> Spec:
    return Spec(topology, gateway, probe, failover, tuple(targets), tuple(siblings))
