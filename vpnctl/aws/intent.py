"""What apply wants to exist, in AWS's terms: the design plus names, documents and digests.

The design says "gateway gw-us-west-2-a"; AWS needs a launch template name, an IAM role name
and path, a trust policy, user-data. ``Intent`` adds those to the design, purely, so the diff
and the executor agree on every name. The rendered user-data comes from ``vpnctl.render`` via
``vpnctl.aws.artifacts`` (the one place that plugs rendering and keys in).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from vpnctl.aws import names
from vpnctl.aws.live import canonical_json
from vpnctl.aws.store import Blob
from vpnctl.design import Design, Gateway, Tunnel
from vpnctl.keys import parameter_names
from vpnctl.partitions import PARTITIONS


@dataclass(frozen=True)
class HookPackage:
    """The failover hook's Lambda package (``vpnctl.failover.package``)."""

    data: bytes = field(repr=False)
    sha256: str  # base64, as Lambda reports CodeSha256
    handler: str
    runtime: str


@dataclass(frozen=True)
class Intent:
    design: Design
    instance_type: str
    images: Mapping[str, str]  # vpc -> image key ("ubuntu-22.04") or an ami- id
    userdata: Mapping[str, bytes]  # gateway -> what its launch template carries
    dns_account: str
    partitions: Mapping[str, str]  # account -> partition
    hook: HookPackage | None = None  # None: apply deploys no failover hook
    alarm_threshold: float = 10.0  # probe loss % (probe.crit.loss_pct) that alarms
    alarm_periods: int = 3  # minutes in a row (failover.consecutive_failures)
    # (account, region) pairs the lock file says VPCs of this topology lived in, and no VPC
    # does now: observed anyway, so what vpnctl left there is swept
    retired: tuple[tuple[str, str], ...] = ()
    # what the artifact bucket of each gateway's account and region holds for it
    # (``vpnctl.aws.store``): the vpnctl zipapp, and each gateway's desired configuration
    software: Blob | None = None
    configs: Mapping[str, Blob] = field(default_factory=dict)  # gateway -> its configuration

    @property
    def topology(self) -> str:
        return self.design.name

    def aws_name(self, name: str) -> str:
        """The name AWS shows (Name tag, template, group, role): prefixed by the topology."""
        return names.aws_name(self.topology, name)

    @property
    def iam_path(self) -> str:
        return names.iam_path(self.topology)

    def parameters(self, tunnel: Tunnel) -> tuple[str, ...]:
        return parameter_names(self.topology, tunnel)

    def parameters_at(self, tunnel: Tunnel, account: str, region: str) -> tuple[str, ...]:
        """The tunnel's SSM names this account and region stores: those of its gateways there."""
        gateways = (self.design.gateway_by_name[e.gateway] for e in tunnel.ends())
        here = {g.name for g in gateways if (g.account, g.region) == (account, region)}
        return parameter_names(self.topology, tunnel, here)

    def gateway_parameters(self, gateway: str) -> tuple[str, ...]:
        """The SSM names one gateway reads: its tunnels' shared keys and its own end's."""
        tunnels = self.design.tunnels_by_gateway[gateway]
        return tuple(n for t in tunnels for n in parameter_names(self.topology, t, {gateway}))

    def blobs(self, account: str, region: str) -> tuple[Blob, ...]:
        """What the artifact bucket of this account and region must hold for the topology."""
        here = [g.name for g in self.design.gateways if (g.account, g.region) == (account, region)]
        found = [self.configs[g] for g in here if g in self.configs]
        return (self.software, *found) if self.software and found else tuple(found)

    def gateway_blobs(self, gateway: str) -> tuple[Blob, ...]:
        """The objects one gateway reads: the software and its own configuration."""
        config = self.configs.get(gateway)
        return tuple(b for b in (self.software, config) if b is not None)

    def template_digest(self, gateway: Gateway, image_id: str) -> str:
        text = "\n".join([image_id, self.instance_type, self.aws_name(gateway.name)])
        digest = hashlib.sha256(text.encode() + b"\n" + self.userdata[gateway.name])
        return digest.hexdigest()[:16]


def trust_policy(partition: str) -> str:
    principal = PARTITIONS[partition].service_principal("ec2")
    return canonical_json(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": principal},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
