"""Rendered gateway artifacts: golden files for the example topologies, and their promises."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from benchmarks.hubs import hub_topology
from tests.builders import designed, doc, parse, vpc
from vpnctl import keys, render
from vpnctl.design import Design, design
from vpnctl.ipam import allocate
from vpnctl.partitions import PARTITIONS
from vpnctl.summary import merge
from vpnctl.topology import Topology

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "render"
EXAMPLES = ("demo", "china-hub", "mesh")
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
# mesh has 10 gateways; its largest and a 3-AZ one say enough (the rest is the same template)
GOLDEN_GATEWAYS = {"mesh": ("gw-euw1-data-a", "gw-use1-data-c")}
# a stand-in for the vpnctl zipapp's pin, so golden files do not change with every code change
SOFTWARE = render.Pin("demo/software/vpnctl-" + "5" * 64 + ".pyz", "5" * 64)


def example(name: str, **tunnel: object) -> tuple[Topology, Design]:
    """An example topology, freshly allocated (no lock file), with tunnel options overridden."""
    document = yaml.safe_load((ROOT / "topologies" / f"{name}.yaml").read_text())
    if tunnel:
        document["tunnel"] = {**(document.get("tunnel") or {}), **tunnel}
    topology = parse(document, f"{name}.yaml")
    return topology, design(topology, allocate(topology, None).lock)


def golden(relative: str, text: str) -> None:
    """Compare with tests/golden/render/RELATIVE; VPNCTL_UPDATE_GOLDEN=1 rewrites it instead."""
    path = GOLDEN / relative
    if os.environ.get("VPNCTL_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with VPNCTL_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"{path} differs"


# --------------------------------------------------------------------------- golden files


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_artifacts_match_their_golden_files(name: str) -> None:
    topology, d = example(name)
    chosen = GOLDEN_GATEWAYS.get(name)
    for gateway in (g for g in d.gateways if chosen is None or g.name in chosen):
        text = render.gateway_userdata(topology, d, gateway.name, SOFTWARE)
        golden(f"{name}/{gateway.name}/user-data", text)
        config = render.gateway_config(topology, d, gateway.name).decode()
        golden(f"{name}/{gateway.name}/config.json", config)
        for tunnel in d.tunnels_by_gateway[gateway.name]:
            text = render.tunnel_config(topology, d, gateway.name, tunnel.name)
            golden(f"{name}/{gateway.name}/openvpn/{tunnel.name}.conf", text)


@pytest.mark.parametrize("mode", ["psk", "fingerprint"])
def test_configs_with_seeded_keys_match_their_golden_files(mode: str) -> None:
    topology, d = example("demo", mode=mode)
    tunnel = d.tunnels[0]
    held = keys.generate(d, tunnel, random=keys.seeded(b"golden"), now=lambda: NOW)
    for end in tunnel.ends():
        text = render.tunnel_config(topology, d, end.gateway, tunnel.name, held)
        golden(f"demo-with-keys-{mode}/{end.gateway}/{tunnel.name}.conf", text)


# --------------------------------------------------------------------------- OpenVPN


def test_psk_config_starts_on_2_5_to_2_7_with_opposite_key_directions() -> None:
    topology, d = example("demo")
    # pinned AMIs: OpenVPN unknown, so one config for 2.5 to 2.7 (vpnctl.images.dialect)
    pinned = {n: replace(v, image="ami-0123456789abcdef0") for n, v in topology.vpcs.items()}
    topology = replace(topology, vpcs=pinned)
    tunnel = d.tunnels[0]
    a = render.tunnel_config(topology, d, tunnel.a.gateway, tunnel.name).splitlines()
    b = render.tunnel_config(topology, d, tunnel.b.gateway, tunnel.name).splitlines()
    ignore = a.index("ignore-unknown-option allow-deprecated-insecure-static-crypto")
    assert ignore < a.index("allow-deprecated-insecure-static-crypto")
    assert {"cipher AES-256-CBC", "auth SHA256", "key-direction 0"} <= set(a)
    assert "key-direction 1" in b
    assert f"secret /etc/openvpn/vpnctl/keys/{tunnel.name}/psk.key" in a


def test_fingerprint_config_pins_the_far_end_and_inlines_keys_only_when_given() -> None:
    topology, d = example("demo", mode="fingerprint")
    tunnel = d.tunnels[0]
    held = keys.generate(d, tunnel, random=keys.seeded(b"k"), now=lambda: NOW)
    server = render.tunnel_config(topology, d, tunnel.a.gateway, tunnel.name, held).splitlines()
    client = render.tunnel_config(topology, d, tunnel.b.gateway, tunnel.name, held).splitlines()
    assert {"tls-server", "dh none"} <= set(server)
    assert "tls-client" in client
    assert "dh none" not in client
    assert f"peer-fingerprint {held.end(tunnel.b.gateway).fingerprint}" in server
    assert f"peer-fingerprint {held.end(tunnel.a.gateway).fingerprint}" in client
    assert "<tls-crypt>" in server
    assert "data-ciphers AES-256-GCM:CHACHA20-POLY1305" in server
    bare = render.tunnel_config(topology, d, tunnel.a.gateway, tunnel.name)
    assert "BEGIN" not in bare
    assert f"config /etc/openvpn/vpnctl/keys/{tunnel.name}/peer.conf" in bare


def explained(lines: list[str], index: int) -> bool:
    """A comment precedes the line within its paragraph (options may share one reason)."""
    for line in reversed(lines[:index]):
        if not line.strip():
            return False
        if line.startswith("#"):
            return True
    return False


def test_robust_p2p_options_each_with_its_reason() -> None:
    topology, d = example("china-hub", keepalive=7, ping_restart=40)
    tunnel = d.tunnels[0]
    text = render.tunnel_config(topology, d, "gw-cn-north-1-a", tunnel.name, routes=True)
    lines = text.splitlines()
    expected = [
        "proto udp", "dev tun1194", "float", "resolv-retry infinite", "persist-tun",
        "remote gw-ap-southeast-1-a.vpn.example.com 1194", "keepalive 7 40",
        "ifconfig 169.254.64.2 169.254.64.1", "route 10.64.0.0 255.240.0.0",
        "explicit-exit-notify 1", "user nobody", "tun-mtu 1380", "mssfix 1360",
        f"status /run/vpnctl/{tunnel.name}.status 10",
    ]  # fmt: skip
    for option in expected:
        assert option in lines
        assert explained(lines, lines.index(option)), f"{option!r} has no comment saying why"
    assert "fragment" not in {line.split()[0] for line in lines if line}


def test_a_gateway_tunnel_config_leaves_its_routes_to_the_agent() -> None:
    topology, d = example("china-hub")
    tunnel = d.tunnels[0]
    bare = render.tunnel_config(topology, d, "gw-cn-north-1-a", tunnel.name)
    assert not [line for line in bare.splitlines() if line.startswith("route ")]
    assert "from routes.json" in bare
    routes = json.loads(render.routes_file(d, "gw-cn-north-1-a"))
    here, _ = tunnel.end("gw-cn-north-1-a")
    assert routes["devices"][render.device_name(tunnel, "gw-cn-north-1-a")] == [
        str(r) for r in here.routes
    ]


def test_a_key_set_for_another_tunnel_is_refused() -> None:
    topology, d = example("demo")
    held = keys.generate(d, d.tunnels[1])
    with pytest.raises(ValueError, match="do not fit"):
        render.tunnel_config(topology, d, d.tunnels[0].a.gateway, d.tunnels[0].name, held)


def test_a_render_failure_names_the_template() -> None:
    with pytest.raises(render.RenderError, match=r"openvpn/tunnel.conf.j2"):
        render._render("openvpn/tunnel.conf.j2")


# --------------------------------------------------------------------------- user-data


def written_files(text: str) -> dict[str, dict[str, str]]:
    return {f["path"]: f for f in yaml.safe_load(text)["write_files"]}


@pytest.mark.parametrize("name", EXAMPLES)
def test_user_data_is_a_bootstrap_that_pins_the_software_and_the_config(name: str) -> None:
    topology, d = example(name)
    for gateway in d.gateways:
        payload = render.launch_userdata(topology, d, gateway.name, SOFTWARE)
        assert len(payload) <= render.USERDATA_LIMIT
        text = render.read_userdata(payload)
        assert text == render.gateway_userdata(topology, d, gateway.name, SOFTWARE)
        assert text.startswith("#cloud-config\n")
        config = render.gateway_config(topology, d, gateway.name)
        pin = render.config_pin(topology, gateway.name, config)
        written = written_files(text)
        for expected in render.gateway_files(topology, d, gateway.name, SOFTWARE, pin):
            assert written[str(expected.path)]["content"] == expected.content
            assert written[str(expected.path)]["permissions"] == expected.mode
        env = written["/etc/vpnctl/gateway.env"]["content"]
        assert f"VPNCTL_SOFTWARE_SHA256={SOFTWARE.sha256}\n" in env
        assert f"VPNCTL_CONFIG_SHA256={hashlib.sha256(config).hexdigest()}\n" in env
        assert f"VPNCTL_CONFIG_KEY={topology.name}/gateways/{gateway.name}/" in env
        for tunnel in d.tunnels_by_gateway[gateway.name]:  # tunnels are in the config only
            assert tunnel.name not in text
        assert "BEGIN" not in text + config.decode()
        assert "Static key" not in text + config.decode()
        assert not re.search(r"\bpip3?\b|index-url|venv", text)


def test_the_config_holds_what_grows_with_the_topology_and_no_keys() -> None:
    topology, d = example("china-hub")
    gateway = "gw-ap-southeast-1-a"
    document = json.loads(render.gateway_config(topology, d, gateway))
    assert document["format_version"] == render.CONFIG_FORMAT
    files = {f["path"]: f["content"] for f in document["files"]}
    assert files["/etc/vpnctl/firewall.nft"] == render.firewall(d, gateway)
    assert files["/etc/vpnctl/probe.json"] == render.probe_plan(topology, d, gateway)
    tunnels = d.tunnels_by_gateway[gateway]
    assert document["tunnels"] == [{"name": t.name, "mode": t.mode} for t in tunnels]
    for tunnel in tunnels:
        path = f"/etc/openvpn/vpnctl/{tunnel.name}.conf"
        assert files[path] == render.tunnel_config(topology, d, gateway, tunnel.name)
    assert all(not p.startswith("/etc/openvpn/vpnctl/keys") for p in files)


@pytest.mark.parametrize("name", EXAMPLES)
def test_user_data_is_gzipped_byte_for_byte_as_in_one_go(name: str) -> None:
    """Only a gateway's own part is compressed per gateway (the rest once per run): the bytes
    must be gzip's of the whole, for every gateway, whichever was compressed first."""
    topology, d = example(name)
    for gateway in (*d.gateways, *reversed(d.gateways)):
        text = render.gateway_userdata(topology, d, gateway.name, SOFTWARE)
        shared, mark, own = text.encode().rpartition(render.OWN_PART)
        assert mark
        assert b"gateway.env" in own
        assert gateway.name.encode() not in shared
        payload = render.launch_userdata(topology, d, gateway.name, SOFTWARE)
        assert payload == gzip.compress(text.encode(), render.GZIP_LEVEL, mtime=0)


def test_user_data_without_a_gateways_own_part_is_gzipped_whole() -> None:
    text = "#cloud-config\n" + "# no gateway of its own here\n" * 1000
    assert render.fit_userdata(text) == gzip.compress(text.encode(), render.GZIP_LEVEL, mtime=0)


def test_spoke_user_data_is_the_same_size_however_large_the_hub() -> None:
    sizes = []
    for vpcs in (80, 1000):
        topology = parse(yaml.safe_load(hub_topology(f"hub{vpcs}", vpcs)), f"hub{vpcs}.yaml")
        d = design(topology, allocate(topology, None).lock)
        for gateway in ("gw-v00-a", f"gw-v{vpcs - 1:02d}-a"):
            packed = gzip.compress(
                render.gateway_userdata(topology, d, gateway, SOFTWARE).encode(), 9, mtime=0
            )
            sizes.append(len(packed))
    spoke_80, spoke_1000 = sizes[1], sizes[3]
    assert abs(spoke_1000 - spoke_80) <= 0.05 * spoke_80, sizes
    assert max(sizes) < render.USERDATA_LIMIT * 5 // 8, sizes  # the hub too: far under 16 KB


def test_user_data_uses_the_partitions_mirror_and_keeps_its_vpc_via_the_router() -> None:
    topology, d = example("china-hub")
    china = render.gateway_userdata(topology, d, "gw-cn-north-1-a", SOFTWARE)
    assert "uri: http://mirrors.aliyun.com/ubuntu" in china
    us = render.gateway_userdata(topology, d, "gw-us-west-2-a", SOFTWARE)
    assert "mirrors.aliyun.com" not in us
    config = render.config_pin(topology, "gw-cn-north-1-a", b"{}")
    env = render.gateway_env(topology, d, "gw-cn-north-1-a", SOFTWARE, config)
    # its tunnel route 10.64.0.0/12 covers its own 10.70.0.0/16: boot.sh routes that via the VPC
    assert "VPNCTL_VPC_CIDR=10.70.0.0/16" in env
    assert "VPNCTL_VPC_ROUTER=10.70.255.241" in env
    # the bucket's endpoint in the gateway's own partition
    assert "VPNCTL_S3_URL=https://{bucket}.s3.cn-north-1.amazonaws.com.cn\n" in env
    assert "VPNCTL_S3_URL=https://{bucket}.s3.us-west-2.amazonaws.com\n" in us


def test_every_tunnel_gets_a_systemd_instance_started_by_the_boot_script() -> None:
    topology, d = example("china-hub")
    pin = render.config_pin(topology, "gw-ap-southeast-1-a", b"{}")
    files = {
        str(f.path): f.content
        for f in render.gateway_files(topology, d, "gw-ap-southeast-1-a", SOFTWARE, pin)
    }
    unit = files["/etc/systemd/system/vpnctl-openvpn@.service"]
    assert "Restart=always" in unit
    assert "StartLimitIntervalSec=0" in unit
    assert "Requires=vpnctl-boot.service" in unit
    boot = files["/usr/local/lib/vpnctl/boot.sh"]
    assert "vpnctl-openvpn@" in boot
    assert boot.index('gateway_aws.py" fetch') < boot.index("nft -f")
    assert 'gateway_aws.py" tunnels' in boot


# --------------------------------------------------------------------------- firewall


def test_firewall_forwards_only_allow_flows_statelessly() -> None:
    d = designed(
        doc(allow=[{"from": "east", "to": "west", "proto": "tcp", "ports": [443, "8300-8302"]}])
    )
    text = render.firewall(d, "gw-east-a")
    assert "policy drop" in text
    assert "ct state" not in text.split("chain forward")[1]
    (east,) = merge(s.cidr for s in d.vpcs["east"].routing_subnets)
    (west,) = merge(s.cidr for s in d.vpcs["west"].routing_subnets)
    lines = [line.strip() for line in text.splitlines()]
    assert [f"{east} . {west} . 443,", f"{east} . {west} . 8300-8302,"] == [
        line for line in lines if line.startswith(f"{east} . {west} . ")
    ]
    assert "ip saddr . ip daddr . tcp dport @tcp_flows accept" in lines
    # replies: from the server port, to a client's ephemeral port, never a bare SYN
    assert (
        "ip daddr . ip saddr . tcp sport @tcp_flows tcp dport 32768-65535 "
        "tcp flags & (syn | rst | ack) { ack, syn | ack, rst, rst | ack } accept"
    ) in lines
    assert "ip daddr . ip saddr . udp sport @udp_flows udp dport 32768-65535 accept" in lines
    assert "masquerade" not in text


def hub(vpcs: int) -> dict[str, object]:
    """A hub of ``vpcs`` VPCs; each spoke opens tcp/443 on the hub and tcp/5432 on the next."""
    names = [f"v{i:03d}" for i in range(vpcs)]
    regions = ("us-east-1", "us-west-2", "eu-west-1")
    allow: list[dict[str, object]] = []
    for i, name in enumerate(names[1:], 1):
        allow.append({"from": name, "to": "v000", "proto": "tcp", "ports": [443]})
        if i + 1 < vpcs:
            allow.append({"from": name, "to": names[i + 1], "proto": "udp", "ports": [5432]})
    return doc(
        addressing={"pool": "10.0.0.0/8", "vpc_prefix": 20},
        vpcs={n: vpc(regions[i % 3]) for i, n in enumerate(names)},
        links={"hub": "v000"},
        allow=allow,
    )


def test_a_spokes_files_are_byte_identical_in_hubs_of_20_and_200_vpcs() -> None:
    small = parse(hub(20))
    lock = allocate(small, None).lock
    large = parse(hub(200))
    few, many = design(small, lock), design(large, allocate(large, lock).lock)
    spoke = "gw-v007-a"
    assert render.firewall(few, spoke) == render.firewall(many, spoke)
    assert render.configured_files(small, few, spoke) == render.configured_files(large, many, spoke)
    # the hub carries every flow: its filter is what grows
    assert len(render.firewall(many, "gw-v000-a")) > 5 * len(render.firewall(few, "gw-v000-a"))


def test_gateway_masquerades_only_where_the_region_has_no_nat_gateway() -> None:
    d = designed(doc())
    no_nat = {"aws": replace(PARTITIONS["aws"], nat_gateway_regions=frozenset())}
    assert render.nat_instance(d.gateway_by_name["gw-east-a"], no_nat)
    text = render.firewall(d, "gw-east-a", no_nat)
    assert "masquerade" in text
    assert 'oifname != "tun*"' in text
    # what the VPC routes to its gateways never leaves for the internet
    routes = ", ".join(map(str, d.route_table_by_name["rt-east-a"].destinations))
    assert "elements = { " + routes + " }" in text.split("set remote")[1]
    assert 'ip daddr != @remote oifname != "tun*" accept' in text
    assert not render.nat_instance(d.gateway_by_name["gw-east-a"])


def test_the_probe_plan_names_the_gateways_other_azs_as_siblings() -> None:
    from vpnctl.probe import spec

    topology, d = example("mesh")
    for gateway in d.gateways:
        plan = spec.loads(render.probe_plan(topology, d, gateway.name), "probe.json")
        others = sorted(
            g.name for g in d.gateways if g.vpc == gateway.vpc and g.name != gateway.name
        )
        assert list(plan.siblings) == others
        assert gateway.name not in plan.siblings
    assert any(
        spec.loads(render.probe_plan(topology, d, g.name), "probe.json").siblings
        for g in d.gateways
    ), "mesh has a multi-AZ VPC: some plan must name siblings"


def test_gateways_carry_the_agent_and_no_minute_probe_timer() -> None:
    topology, d = example("demo")
    files = {
        str(f.path): f
        for f in render.gateway_files(topology, d, "gw-eu-west-1-a", SOFTWARE, render.Pin("c", "0"))
    }
    assert files["/etc/systemd/system/vpnctl-agent.service"].content == render.static_file(
        "vpnctl-agent.service"
    )
    assert not [p for p in files if "vpnctl-probe" in p or "probe-hook" in p]
    boot = files["/usr/local/lib/vpnctl/boot.sh"].content
    # the agent starts after the tunnels, without waiting on the boot that runs it
    assert boot.index("vpnctl-openvpn@") < boot.index("start --no-block vpnctl-agent.service")
    assert "enable vpnctl-agent.service" in boot
