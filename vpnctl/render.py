"""Gateway artifacts from the design: OpenVPN configs, firewall, and cloud-init user-data. Pure.

One jinja2 ``Environment`` (StrictUndefined, so a missing value fails the render instead of
writing an empty option) loads the OpenVPN template from ``vpnctl/templates`` and the gateway's
cloud-init template, units and shell scripts from ``userdata/`` (the ``vpnctl.userdata``
package). Everything here returns strings; the CLI writes files.

Per gateway, two things. Its user-data (``gateway_userdata``) is a bootstrap of constant size:
cloud-init's ``write_files`` with the boot script, the AWS helper, systemd units, sysctls and a
small ``gateway.env`` that pins, by sha256, the vpnctl software and the gateway's desired
configuration. That configuration (``gateway_config``: one JSON document) holds everything that
grows with the topology: one OpenVPN config per tunnel that points at key files (never the
keys: the instance fetches them from SSM at boot), the forward firewall and the probe plan.
apply stores it content-addressed in the artifact bucket (``vpnctl.aws.store``); the gateway
fetches it at boot and checks its digest. ``tunnel_config(..., keys=...)`` gives the
self-contained variant with keys inline, for ``render --with-keys`` and the lab.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from types import ModuleType

import jinja2

from vpnctl import images
from vpnctl.aws import store
from vpnctl.design import Design, Gateway, Tunnel
from vpnctl.errors import VpnctlError
from vpnctl.firewall import gateway_filter
from vpnctl.keys import TunnelKeys, parameter_prefix
from vpnctl.partitions import PARTITIONS, Partition
from vpnctl.probe import spec, targets
from vpnctl.topology import Topology

ROUTES_FORMAT = 1
USERDATA_LIMIT = 16384  # bytes: EC2 refuses larger user-data
GZIP_LEVEL = 6
GZIP_WBITS = 31  # zlib's gzip wrapper, a 32 KiB window: what gzip.compress(..., mtime=0) uses

# Where things live on a gateway instance.
OPENVPN_DIR = PurePosixPath("/etc/openvpn/vpnctl")
KEY_DIR = OPENVPN_DIR / "keys"
LIB_DIR = PurePosixPath("/usr/local/lib/vpnctl")
ETC_DIR = PurePosixPath("/etc/vpnctl")
STATUS_DIR = PurePosixPath("/run/vpnctl")
UNIT_DIR = PurePosixPath("/etc/systemd/system")

# Static files copied verbatim from userdata/ onto the gateway: (name, destination, mode).
# The agent (vpnctl-agent.service, started by boot.sh once the tunnels are) measures the tunnels
# and siblings continuously and publishes the figures the backstop alarms watch (LossPercent):
# it replaces the minute probe timer, which gateways no longer carry.
STATIC_FILES = (
    ("boot.sh", LIB_DIR / "boot.sh", "0755"),
    ("gateway_aws.py", LIB_DIR / "gateway_aws.py", "0755"),
    ("vpnctl-boot.service", UNIT_DIR / "vpnctl-boot.service", "0644"),
    ("vpnctl-openvpn@.service", UNIT_DIR / "vpnctl-openvpn@.service", "0644"),
    ("vpnctl-agent.service", UNIT_DIR / "vpnctl-agent.service", "0644"),
)
SYSCTL_PATH = PurePosixPath("/etc/sysctl.d/90-vpnctl.conf")


class RenderError(VpnctlError):
    """A template failed; the message names the template and line. A bug, not bad input."""


class UserDataTooLarge(RenderError):
    """A gateway's user-data would not fit EC2's 16 KB even gzipped: bad input, which
    ``vpnctl.limits`` reports at plan time."""


@dataclass(frozen=True)
class GatewayFile:
    """One file the gateway's user-data writes."""

    path: PurePosixPath
    content: str
    mode: str = "0644"


@dataclass(frozen=True)
class Artifact:
    """One file ``vpnctl render`` writes under DIR; ``secret`` ones are written 0600."""

    path: PurePosixPath  # relative to DIR
    content: str | bytes
    secret: bool = False


@functools.cache
def _userdata_dir() -> Path:
    """The userdata/ templates: the installed ``vpnctl.userdata`` package, or the checkout's."""
    try:
        return Path(str(resources.files("vpnctl.userdata")))
    except ModuleNotFoundError:  # an editable install made before vpnctl.userdata was mapped
        return Path(__file__).resolve().parent.parent / "userdata"


def _environment() -> jinja2.Environment:
    loader = jinja2.ChoiceLoader(
        [
            jinja2.PackageLoader("vpnctl", "templates"),
            jinja2.FileSystemLoader(str(_userdata_dir())),
        ]
    )
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        auto_reload=False,  # templates do not change during a run: no stat per render
    )
    # Every gateway's user-data indents the same static files (boot.sh, gateway_aws.py: most
    # of its bytes): indent each once per run, not once per gateway.
    env.filters["indent"] = functools.lru_cache(maxsize=32)(env.filters["indent"])
    return env


ENV = _environment()


def _render(template: str, **context: object) -> str:
    try:
        return ENV.get_template(template).render(**context)
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{template}:{line}" if line else template
        raise RenderError(f"{where}: {exc}") from exc


def userdata_path(name: str) -> Path:
    """Where a file of userdata/ is."""
    return _userdata_dir() / name


@functools.cache
def userdata_module(name: str) -> ModuleType:
    """A Python script of userdata/ (``gateway_aws.py``) loaded as a gateway runs it: a file,
    not a vpnctl module. For what calls its functions off a gateway: the lab, the tests."""
    path = userdata_path(name)
    spec = importlib.util.spec_from_file_location(f"vpnctl_userdata_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise RenderError(f"{path}: not a Python script")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache  # the same for every gateway: read once, not once per gateway
def static_file(name: str) -> str:
    """A file from userdata/ as it is (shell scripts, units): shellcheck-able on disk."""
    return userdata_path(name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- OpenVPN


def device_name(tunnel: Tunnel, gateway: str) -> str:
    """``tun<port>``: ports are unique per gateway, so this is too, and fits IFNAMSIZ."""
    here, _ = tunnel.end(gateway)
    return f"tun{here.port}"


def _tunnel(design: Design, gateway: str, tunnel: str) -> Tunnel:
    found = design.tunnel_by_name.get(tunnel)  # an index: a hub's gateway has many tunnels
    if found is None or gateway not in (found.a.gateway, found.b.gateway):
        raise KeyError(f"gateway {gateway} serves no tunnel {tunnel}")
    return found


def tunnel_config(
    topology: Topology,
    design: Design,
    gateway_name: str,
    tunnel_name: str,
    keys: TunnelKeys | None = None,
    routes: bool = False,
) -> str:
    """The OpenVPN config of one tunnel on one gateway; keys inline when ``keys`` is given.

    A gateway's config carries no routes: its agent sets them from ``routes.json``
    (``routes_file``), so a route the design changes (a VPC or AZ added elsewhere) never
    changes, and so never restarts, a tunnel. ``routes=True`` writes them in as ``route``
    lines, for a config that runs as it is with ``openvpn --config`` (``render --with-keys``)."""
    tunnel = _tunnel(design, gateway_name, tunnel_name)
    here, far = tunnel.end(gateway_name)
    if keys is not None and (keys.tunnel, keys.mode) != (tunnel.name, tunnel.mode):
        raise ValueError(f"keys for {keys.tunnel} ({keys.mode}) do not fit tunnel {tunnel.name}")
    return _render(
        "openvpn/tunnel.conf.j2",
        topology=topology.name,
        tunnel=tunnel,
        here=here,
        far=far,
        server=tunnel.a.gateway == gateway_name,
        device=device_name(tunnel, gateway_name),
        routes=[(str(r.network_address), str(r.netmask)) for r in here.routes] if routes else None,
        status_path=STATUS_DIR / f"{tunnel.name}.status",
        key_dir=KEY_DIR / tunnel.name,
        keys_prefix=parameter_prefix(topology.name, tunnel.name),
        keys=keys,
        # what the OpenVPN of this gateway's image needs and tolerates (vpnctl.images)
        openvpn=images.dialect(
            images.openvpn_of(topology, design.gateway_by_name[gateway_name].vpc)
        ),
    )


def routes_file(design: Design, gateway_name: str) -> str:
    """/etc/vpnctl/routes.json: per tun device of the gateway, the prefixes it sends into that
    tunnel (``TunnelEnd.routes``). The agent makes the kernel's routes on the tunnels' devices
    match it, in place, without touching the OpenVPN processes."""
    devices = {
        device_name(t, gateway_name): [str(r) for r in t.end(gateway_name)[0].routes]
        for t in design.tunnels_by_gateway[gateway_name]
    }
    document = {"format_version": ROUTES_FORMAT, "devices": dict(sorted(devices.items()))}
    return json.dumps(document, indent=1) + "\n"


# --------------------------------------------------------------------------- firewall


def nat_instance(gateway: Gateway, partitions: Mapping[str, Partition] = PARTITIONS) -> bool:
    """Whether this gateway also masquerades for its VPC: its region has no NAT gateway."""
    return not partitions[gateway.partition].has_nat_gateway(gateway.region)


def firewall(
    design: Design, gateway_name: str, partitions: Mapping[str, Partition] = PARTITIONS
) -> str:
    """The gateway's nftables ruleset (``nft -f``): only the ``allow`` flows it carries are
    forwarded (``vpnctl.firewall`` says which, and how replies are told)."""
    gateway = design.gateway_by_name[gateway_name]
    return _render(
        "firewall.nft.j2",
        design=design,
        gateway=gateway,
        vpc=design.vpcs[gateway.vpc],
        filter=gateway_filter(design, gateway_name),
        nat=nat_instance(gateway, partitions),
    )


# --------------------------------------------------------------------------- user-data

CONFIG_FORMAT = 1


@dataclass(frozen=True)
class Pin:
    """An object of the artifact store a gateway fetches at boot: its key and sha256 (hex)."""

    key: str
    sha256: str


def sysctl() -> str:
    """Forwarding on, loose reverse-path filtering: the same on every gateway (and in the lab)."""
    return _render("sysctl.conf.j2")


def gateway_env(
    topology: Topology, design: Design, gateway_name: str, software: Pin, config: Pin
) -> str:
    """/etc/vpnctl/gateway.env: what the boot script and the AWS helper need to know. Of
    constant size: nothing in it grows with the topology (its tunnels are in the config)."""
    gateway = design.gateway_by_name[gateway_name]
    return _render(
        "gateway.env.j2",
        topology=topology.name,
        gateway=gateway,
        vpc=design.vpcs[gateway.vpc],
        router=gateway.subnet.network_address + 1,  # the VPC router: the subnet's base + 1
        prefix=f"/vpnctl/{topology.name}",
        s3_url=f"https://{{bucket}}.s3.{gateway.region}.{PARTITIONS[gateway.partition].dns_suffix}",
        software=software,
        config=config,
    )


def probe_plan(topology: Topology, design: Design, gateway_name: str) -> str:
    """/etc/vpnctl/probe.json: what the gateway's agent measures: the far end of each tunnel
    and, across AZs inside its VPC, its siblings (whose view counts as evidence in the region)."""
    found = targets.from_design(design, gateway_name, hosts=topology.probe.targets)
    plan = spec.for_gateway(
        topology.name,
        gateway_name,
        topology.probe,
        topology.failover,
        found,
        siblings=targets.siblings(design, gateway_name),
    )
    return spec.dumps(plan)


def configured_files(
    topology: Topology,
    design: Design,
    gateway_name: str,
    partitions: Mapping[str, Partition] = PARTITIONS,
) -> tuple[GatewayFile, ...]:
    """What grows with the topology: the gateway's firewall, probe plan, routes and tunnel
    configs (pointing at key files, never holding keys). Its desired configuration carries
    them."""
    configs = [
        GatewayFile(
            OPENVPN_DIR / f"{t.name}.conf",
            tunnel_config(topology, design, gateway_name, t.name),
        )
        for t in design.tunnels_by_gateway[gateway_name]
    ]
    return (
        GatewayFile(ETC_DIR / "firewall.nft", firewall(design, gateway_name, partitions)),
        GatewayFile(ETC_DIR / "probe.json", probe_plan(topology, design, gateway_name)),
        GatewayFile(ETC_DIR / "routes.json", routes_file(design, gateway_name)),
        *configs,
    )


def gateway_config(
    topology: Topology,
    design: Design,
    gateway_name: str,
    partitions: Mapping[str, Partition] = PARTITIONS,
) -> bytes:
    """The gateway's desired configuration: one JSON document, stored content-addressed in its
    account and region's artifact bucket, fetched and checked by digest at boot."""
    files = configured_files(topology, design, gateway_name, partitions)
    return _config_document(topology, design, gateway_name, files)


def _config_document(
    topology: Topology, design: Design, gateway_name: str, files: tuple[GatewayFile, ...]
) -> bytes:
    """``gateway_config`` of the gateway's ``configured_files``."""
    document = {
        "format_version": CONFIG_FORMAT,
        "topology": topology.name,
        "gateway": gateway_name,
        "tunnels": [
            {"name": t.name, "mode": t.mode} for t in design.tunnels_by_gateway[gateway_name]
        ],
        "files": [{"path": str(f.path), "mode": f.mode, "content": f.content} for f in files],
    }
    return (json.dumps(document, sort_keys=True, indent=1) + "\n").encode()


def config_pin(topology: Topology, gateway_name: str, config: bytes) -> Pin:
    digest = hashlib.sha256(config).hexdigest()
    return Pin(store.config_key(topology.name, gateway_name, digest), digest)


def gateway_files(
    topology: Topology, design: Design, gateway_name: str, software: Pin, config: Pin
) -> tuple[GatewayFile, ...]:
    """Every file the gateway's user-data writes: the same few for every gateway, whatever
    the size of the topology, none of them holding key material. The one that differs from
    gateway to gateway, gateway.env, comes last (``_gzip`` says why)."""
    return (
        GatewayFile(SYSCTL_PATH, sysctl()),
        *(GatewayFile(dest, static_file(name), mode) for name, dest, mode in STATIC_FILES),
        GatewayFile(
            ETC_DIR / "gateway.env", gateway_env(topology, design, gateway_name, software, config)
        ),
    )


def gateway_userdata(
    topology: Topology,
    design: Design,
    gateway_name: str,
    software: Pin,
    partitions: Mapping[str, Partition] = PARTITIONS,
    config: bytes | None = None,
) -> str:
    """The cloud-init user-data of one gateway, exactly what its launch template carries: a
    bootstrap that fetches ``software`` and the gateway's configuration, both pinned.
    ``config`` is that configuration (``gateway_config``) when the caller has it already:
    rendering it is most of a gateway's work, so it is not rendered twice."""
    gateway = design.gateway_by_name[gateway_name]
    if config is None:
        config = gateway_config(topology, design, gateway_name, partitions)
    pin = config_pin(topology, gateway_name, config)
    return _render(
        "cloud-config.yaml.j2",
        topology=topology.name,
        gateway=gateway,
        mirror=topology.gateways.mirrors.get(gateway.partition),
        files=gateway_files(topology, design, gateway_name, software, pin),
    )


def launch_userdata(
    topology: Topology,
    design: Design,
    gateway_name: str,
    software: Pin,
    partitions: Mapping[str, Partition] = PARTITIONS,
    config: bytes | None = None,
) -> bytes:
    """The bytes the launch template carries: ``gateway_userdata``, gzipped when it would not
    fit EC2's 16 KB (cloud-init recognises and inflates gzip user-data by itself)."""
    text = gateway_userdata(topology, design, gateway_name, software, partitions, config)
    return fit_userdata(text)


# Where a gateway's own part of its user-data begins (cloud-config.yaml.j2): all before it is
# the same for every gateway of a partition.
OWN_PART = b"\n  # vpnctl gateway "


def fit_userdata(text: str) -> bytes:
    raw = text.encode()
    if len(raw) <= USERDATA_LIMIT:
        return raw
    packed = _gzip(raw)
    if len(packed) > USERDATA_LIMIT:
        raise UserDataTooLarge(
            f"user-data is {len(packed):,} bytes gzipped, over EC2's {USERDATA_LIMIT:,}"
        )
    return packed


def _gzip(raw: bytes) -> bytes:
    """``gzip.compress(raw, GZIP_LEVEL, mtime=0)``, byte for byte, at a fraction of the cost
    when many gateways share the part before ``OWN_PART``: deflate's output does not depend on
    how its input is fed (without a flush), so the shared part is compressed once per run and
    each gateway's compressor starts as a copy of that state (compressing whole was a third of
    a 2,000-gateway render). Level 6 (zlib's default): within 0.5% of level 9's size on gateway
    user-data, 2.5-3x faster. mtime 0 (zlib's gzip header): same input, same bytes."""
    shared, mark, own = raw.rpartition(OWN_PART)
    if not mark:
        return zlib.compress(raw, GZIP_LEVEL, wbits=GZIP_WBITS)
    head, started = _compressed_start(shared)
    rest = started.copy()
    return head + rest.compress(mark + own) + rest.flush()


@functools.lru_cache(maxsize=8)  # one per partition (its mirror) and topology in a run
def _compressed_start(shared: bytes) -> tuple[bytes, zlib._Compress]:
    """``shared`` fed to a gzip compressor: its output so far, and the compressor (never
    used itself: callers continue copies of it)."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    return compressor.compress(shared), compressor


def read_userdata(payload: bytes) -> str:
    """The cloud-config text of a payload from ``launch_userdata``, compressed or not."""
    return (gzip.decompress(payload) if payload[:2] == b"\x1f\x8b" else payload).decode()


# --------------------------------------------------------------------------- everything


def artifacts(
    topology: Topology,
    design: Design,
    software: Pin,
    keys: Mapping[str, TunnelKeys] | None = None,
    partitions: Mapping[str, Partition] = PARTITIONS,
) -> tuple[Artifact, ...]:
    """What ``vpnctl render`` writes: per gateway its user-data, its desired configuration
    (``config.json``, what apply stores for it) and one config per tunnel (self-contained
    with ``keys``: keys and routes inline, so it runs as it is). Each file is rendered once:
    a tunnel's config without keys is the one its gateway's configuration carries."""
    found = []
    for gateway in design.gateways:
        files = configured_files(topology, design, gateway.name, partitions)
        config = _config_document(topology, design, gateway.name, files)
        user_data = launch_userdata(topology, design, gateway.name, software, partitions, config)
        found.append(Artifact(PurePosixPath(gateway.name, "user-data"), user_data))
        found.append(Artifact(PurePosixPath(gateway.name, "config.json"), config))
        carried = {f.path: f.content for f in files}
        for tunnel in design.tunnels_by_gateway[gateway.name]:
            held = keys[tunnel.name] if keys is not None else None
            text = (
                carried[OPENVPN_DIR / f"{tunnel.name}.conf"]
                if held is None
                else tunnel_config(topology, design, gateway.name, tunnel.name, held, routes=True)
            )
            path = PurePosixPath(gateway.name, "openvpn", f"{tunnel.name}.conf")
            found.append(Artifact(path, text, secret=held is not None))
    return tuple(found)
