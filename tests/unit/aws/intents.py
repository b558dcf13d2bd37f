"""What apply would deploy for a test topology: the ``Intent`` the diff and executor tests
start from, with stand-ins for what real apply builds (images, user-data, the hook package,
the stored software and configurations)."""

from __future__ import annotations

from typing import Any

from tests.builders import allocated, parse
from vpnctl.aws import store
from vpnctl.aws.intent import HookPackage, Intent
from vpnctl.design import design as make_design
from vpnctl.ipam import Lock


def intent(
    d: dict[str, Any],
    *,
    hook: HookPackage | None = None,
    lock: Lock | None = None,
    stored: bool = False,
) -> Intent:
    """``d``'s intent, allocated afresh or after ``lock``; ``stored``: with the artifact
    store's software and per-gateway configurations (``store.stand_ins``)."""
    topo = parse(d)
    design = make_design(topo, allocated(d, lock).lock)
    gateways = [g.name for g in design.gateways]
    software, configs = store.stand_ins(design.name, gateways) if stored else (None, {})
    return Intent(
        design=design,
        instance_type="t3.small",
        images=dict.fromkeys(topo.vpcs, "ami-0123"),
        userdata=dict.fromkeys(gateways, b"#cloud-config\n"),
        dns_account=topo.dns.account,
        partitions={n: a.partition for n, a in topo.accounts.items()},
        hook=hook,
        software=software,
        configs=configs,
    )
