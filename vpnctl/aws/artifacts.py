"""Where apply meets rendering and keys: the one place ``vpnctl.render`` and ``vpnctl.keys``
plug into the AWS side.

``intent(plan)`` builds the gateway software (the vpnctl zipapp), renders every gateway's
desired configuration and its user-data (what its launch template carries, pinning both by
sha256), builds the failover hook's Lambda package, and collects the facts apply needs beside
the design. ``KeyMaker`` generates a tunnel's keys the
first time the executor asks, once per apply, so both ends' regions store the same keys.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from vpnctl import keys, limits, render
from vpnctl.aws import store
from vpnctl.aws.intent import HookPackage, Intent
from vpnctl.design import Design, Gateway
from vpnctl.pipeline import Plan


def retired_regions(planned: Plan) -> tuple[tuple[str, str], ...]:
    """Where the lock file says VPCs lived that the topology no longer has (and no VPC does
    now), in accounts the topology still has credentials for."""
    topology = planned.topology
    live = {(v.account, v.region) for v in topology.vpcs.values()}
    found: set[tuple[str, str]] = set()
    for name, vpc in planned.lock.vpcs.items():
        account, region = vpc.account, vpc.region
        if name not in topology.vpcs and account in topology.accounts and account and region:
            found.add((account, region))
    return tuple(sorted(found - live))


def intent(planned: Plan) -> Intent:
    topology, design = planned.topology, planned.design
    software = gateway_software(topology.name)
    pin = render.Pin(software.key, software.sha256)
    configs = {g.name: gateway_config(planned, g.name) for g in design.gateways}
    return Intent(
        design=design,
        instance_type=topology.gateways.instance_type,
        images={n: v.image or topology.gateways.image for n, v in topology.vpcs.items()},
        userdata={g.name: userdata(planned, g, pin, configs[g.name].data) for g in design.gateways},
        dns_account=topology.dns.account,
        partitions={n: a.partition for n, a in topology.accounts.items()},
        hook=hook_package(planned),
        alarm_threshold=topology.probe.crit.loss_pct,
        alarm_periods=topology.failover.consecutive_failures,
        retired=retired_regions(planned),
        software=software,
        configs=configs,
    )


def gateway_software(topology: str) -> store.Blob:
    """The vpnctl zipapp every gateway runs, keyed by its digest in the topology's prefix."""
    from vpnctl.failover import package

    built = package.gateway_software()
    return store.Blob(store.software_key(topology, built.sha256), built.data, built.sha256)


def gateway_config(planned: Plan, gateway: str) -> store.Blob:
    data = render.gateway_config(planned.topology, planned.design, gateway)
    pin = render.config_pin(planned.topology, gateway, data)
    return store.Blob(pin.key, data, pin.sha256)


def designed(planned: Plan, intent: Intent) -> dict[str, str]:
    """Gateway -> the configuration digest its agent reports (``READY_TAG``) once it runs the
    design: over the configuration's files and the gateway.env that pins them, as a new
    instance lays them out and as ``vpnctl.agent.follow`` does (one function for both)."""
    from vpnctl.agent import follow

    software = intent.software
    if software is None:
        return {}
    pin = render.Pin(software.key, software.sha256)
    found: dict[str, str] = {}
    for name, config in intent.configs.items():
        env = render.gateway_env(
            planned.topology, planned.design, name, pin, render.Pin(config.key, config.sha256)
        )
        found[name] = follow.digest(config.data, env)
    return found


def userdata(planned: Plan, gateway: Gateway, software: render.Pin, config: bytes) -> bytes:
    """What the gateway's launch template carries, pinning ``config`` (its rendered desired
    configuration); too large is an input error (exit 2)."""
    topology, design = planned.topology, planned.design
    try:
        return render.launch_userdata(topology, design, gateway.name, software, config=config)
    except render.UserDataTooLarge:
        problem = limits.userdata_problem(planned.topology, planned.design, gateway)
        assert problem is not None
        raise planned.source.fail([problem]) from None


def hook_package(planned: Plan) -> HookPackage:
    """The failover hook's Lambda package, the design embedded."""
    from vpnctl.failover import package
    from vpnctl.failover.bundle import Bundle

    built = package.build(Bundle.from_plan(planned))
    return HookPackage(built.data, built.sha256, package.HANDLER, package.RUNTIME)


@dataclass
class KeyMaker:
    """Fresh keys per tunnel, generated at most once per apply. Holds secrets: never print it."""

    design: Design
    _made: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __repr__(self) -> str:
        return f"KeyMaker({self.design.name}, {len(self._made)} tunnels generated)"

    def __call__(self, tunnel: str) -> dict[str, str]:
        with self._lock:
            if tunnel not in self._made:
                self._made[tunnel] = keys.generate(self.design, tunnel).parameters()
            return self._made[tunnel]
