"""Which gateways change in place and which need a new instance: the launch template's boot
digest leaves the configuration pin out. Pure."""

from __future__ import annotations

import gzip
from dataclasses import replace

from tests.unit.aws.test_diff import empty, intent
from vpnctl.aws import changes as c
from vpnctl.aws import live as lv
from vpnctl.aws import store
from vpnctl.aws.diff import boot_digest, diff
from vpnctl.aws.intent import Intent

OLD, NEW = "a" * 64, "b" * 64


def pinned(sha: str, instance_type: str = "t3.micro", gz: bool = False) -> Intent:
    base = intent()
    configs = {g.name: store.Blob(store.config_key("t", g.name, sha), b"{}", sha)
               for g in base.design.gateways}  # fmt: skip
    userdata = {}
    for g in base.design.gateways:
        text = (
            f"#cloud-config\nVPNCTL_CONFIG_KEY={configs[g.name].key}\nVPNCTL_CONFIG_SHA256={sha}\n"
        )
        userdata[g.name] = gzip.compress(text.encode()) if gz else text.encode()
    return replace(base, configs=configs, userdata=userdata, instance_type=instance_type)


def test_the_boot_digest_ignores_the_configuration_pin_and_nothing_else() -> None:
    gateway = pinned(OLD).design.gateways[0]
    before = boot_digest(pinned(OLD), gateway, "ami-1")
    assert boot_digest(pinned(NEW), gateway, "ami-1") == before
    assert boot_digest(pinned(NEW, gz=True), gateway, "ami-1") == before  # gzipped user-data
    assert boot_digest(pinned(NEW), gateway, "ami-2") != before  # image
    assert boot_digest(pinned(NEW, "c6in.large"), gateway, "ami-1") != before  # instance type
    assert pinned(NEW).template_digest(gateway, "ami-1") != pinned(OLD).template_digest(
        gateway, "ami-1")  # the template still moves on: a new instance boots the new config  # fmt: skip


def templates_of(wanted: Intent, image: str, boot_of: Intent) -> lv.Live:
    live = empty()
    regions = dict(live.regions)
    for g in wanted.design.gateways:
        key = (g.account, g.region)
        region = regions.get(key, lv.Region(g.account, g.region))
        template = lv.LaunchTemplate(f"lt-{g.name}", f"t-{g.name}", g.name, "old",
                                     boot_digest(boot_of, g, image))  # fmt: skip
        regions[key] = replace(region, launch_templates=(*region.launch_templates, template))
    return replace(live, regions=regions)


def updates(wanted: Intent, live: lv.Live) -> list[c.UpdateLaunchTemplate]:
    return [ch for ch in diff(wanted, live).changes if isinstance(ch, c.UpdateLaunchTemplate)]


def test_a_configuration_change_is_in_place_and_an_instance_type_change_a_replacement() -> None:
    image = "ami-0123456789abcdef0"
    wanted = replace(pinned(NEW), images=dict.fromkeys(pinned(NEW).images, image))
    in_place = updates(wanted, templates_of(wanted, image, pinned(OLD)))
    assert in_place
    assert all(not u.replace for u in in_place)
    assert all("changes in place" in u.describe() for u in in_place)
    bigger = replace(wanted, instance_type="c6in.large")
    replaced = updates(bigger, templates_of(bigger, image, pinned(OLD)))
    assert replaced
    assert all(u.replace and "REPLACED" in u.describe() for u in replaced)
    # a template made before the boot tag existed: not known to be in place, so replaced
    unknown = templates_of(wanted, image, pinned(OLD))
    untagged = {k: replace(r, launch_templates=tuple(replace(t, boot=None) for t in r.launch_templates))
                for k, r in unknown.regions.items()}  # fmt: skip
    assert all(u.replace for u in updates(wanted, replace(unknown, regions=untagged)))
