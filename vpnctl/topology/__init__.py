"""The topology: what the user's file says (``model``), and how it is read (``reader``).

``model`` holds the frozen dataclasses and every default; ``reader`` loads a file, validates it
against ``formats`` (what each string's consumer accepts) and builds the model, leaving each
default to the model. The names other modules use are importable from here.

The contract is ``spec/topology.md``. Keys added here beyond it (all optional):
``vpcs.X.prefix`` (size of this VPC when allocated), ``vpcs.X.image`` (AMI for this VPC),
``addressing.summarise`` and ``addressing.route_quota``, ``tunnel.keepalive`` and
``tunnel.ping_restart``, ``gateways.vpnctl`` and ``gateways.pip_indexes``, ``probe.targets``,
``failover.recovery_successes`` and ``failover.hold_down_s``.
"""

from vpnctl.topology.model import (
    DEFAULT_PORT,
    DEFAULT_TUNNEL_POOL,
    PROTOCOLS,
    TUNNEL_MODES,
    Account,
    Addressing,
    Dns,
    Failover,
    Flow,
    Gateways,
    Link,
    Probe,
    Thresholds,
    Topology,
    Transit,
    TunnelOptions,
    Vpc,
    ordered,
    recovery_after,
    thresholds_disorder,
)
from vpnctl.topology.reader import did_you_mean, parse, read

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_TUNNEL_POOL",
    "PROTOCOLS",
    "TUNNEL_MODES",
    "Account",
    "Addressing",
    "Dns",
    "Failover",
    "Flow",
    "Gateways",
    "Link",
    "Probe",
    "Thresholds",
    "Topology",
    "Transit",
    "TunnelOptions",
    "Vpc",
    "did_you_mean",
    "ordered",
    "parse",
    "read",
    "recovery_after",
    "thresholds_disorder",
]
