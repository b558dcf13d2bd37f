"""``status``'s report of a gateway whose instance has not yet taken its Elastic IP or turned
its source/destination check off: said as it is, and as the boot's and the hook's work, not
as a change apply would make."""

from __future__ import annotations

from dataclasses import replace

from tests.unit.aws import world
from tests.unit.aws.test_diff import empty, intent
from vpnctl.aws import live as lv
from vpnctl.aws.diff import diff
from vpnctl.aws.dns import Answer
from vpnctl.aws.intent import Intent
from vpnctl.aws.status import report


def fresh(live: lv.Live) -> lv.Live:
    """Every instance as its group launched it: the check on, no address on it."""
    regions = {
        key: replace(
            r,
            instances=tuple(replace(i, source_dest_check=True) for i in r.instances),
            addresses=tuple(replace(a, association_id=None, instance_id=None)
                            for a in r.addresses),
        )
        for key, r in live.regions.items()
    }  # fmt: skip
    return replace(live, regions=regions)


def unasked(it: Intent) -> dict[str, Answer]:
    return {g.fqdn: Answer(g.fqdn, error="not asked here", asked=False) for g in it.design.gateways}


def test_a_fresh_instance_is_flagged_as_boot_and_hook_work_not_as_drift() -> None:
    it = intent()
    live = fresh(world.built(it, empty(), diff(it, empty()).changes))
    found = report(it, live, unasked(it), diff(it, live))
    line = next(x for x in found.lines if x.startswith("  gateway gw-east-a:"))
    assert "ADDRESS NOT YET ON THE INSTANCE (its boot or the failover hook attaches it)" in line
    assert "SOURCE/DEST CHECK STILL ON (its boot or the failover hook turns it off)" in line
    assert found.lines[-1] == "drift: none; AWS matches the design"
    assert found.problems == len(it.design.gateways)


def test_a_gateway_once_booted_has_no_flag() -> None:
    it = intent()
    live = world.built(it, empty(), diff(it, empty()).changes)
    booted = {
        key: replace(
            r,
            instances=tuple(replace(i, source_dest_check=False) for i in r.instances),
            addresses=tuple(
                replace(a, instance_id=next(i.id for i in r.instances if i.name == a.name))
                for a in r.addresses
            ),
        )
        for key, r in live.regions.items()
    }
    live = replace(live, regions=booted)
    found = report(it, live, unasked(it), diff(it, live))
    gateways = [x for x in found.lines if x.startswith("  gateway ")]
    assert len(gateways) == 4
    assert not any("<--" in x for x in gateways), gateways
