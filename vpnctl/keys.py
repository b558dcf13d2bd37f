"""Tunnel key material: generated here, stored in SSM by apply, fetched by gateways at boot.

Each tunnel has its own keys, never shared with another tunnel, so one leaked or rotated key
touches one tunnel only:

- mode ``psk``: one 2048-bit OpenVPN "Static key V1" shared by both ends.
- mode ``fingerprint``: per end a self-signed EC (P-256) certificate and its private key,
  pinned by the far end with its SHA256 fingerprint, plus one tls-crypt key for the tunnel
  (it hides the TLS handshake from scanners and drops unauthenticated packets cheaply).

Everything is generated in Python from ``secrets`` (or an injected byte source, so tests and
golden files are deterministic); nothing is shelled out, so no key passes through argv, a
temporary file or another process. Key material is never part of a ``repr``/``str``: objects
holding it print their names only, so a log line or a traceback cannot leak it. Every secret
made here or read back (``hold``) is registered with ``vpnctl.redact``, so no log shows it either
(botocore's debug log carries whole SSM request and response bodies).

``TunnelKeys.parameters()`` is the one place that names where each piece lives in SSM
Parameter Store (SecureString), every piece under the gateway that reads it:
``/vpnctl/<topology>/<tunnel>/<gateway>/psk`` (the tunnel's one static key, stored once per
end), ``.../<gateway>/tls-crypt`` (likewise), ``.../<gateway>/cert``, ``.../<gateway>/key`` and
``.../<gateway>/peer-fingerprint`` (the far end's fingerprint, which the gateway pins). So a
gateway's role reads its keys through one name pattern, ``/vpnctl/<topology>/*/<gateway>/*``,
whatever its tunnel count: a hub gateway's policy naming each shared key was over IAM's
10,240 characters past about a hundred spokes.

Each region stores only the pieces under its own gateways (``parameter_names(..., gateways)``):
an end's private key never leaves the region of the gateway that uses it, so nobody who can
read one region's (or partition's) parameters holds the far end's key, and a cross-region
tunnel costs one write per piece, not two.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vpnctl import redact
from vpnctl.design import Design, Tunnel

RandomBytes = Callable[[int], bytes]
Clock = Callable[[], dt.datetime]

STATIC_KEY_BYTES = 256  # 2048 bits: what `openvpn --genkey secret` writes
CERT_LIFETIME = dt.timedelta(
    days=3650
)  # pinned by fingerprint: expiry adds no safety, only outages
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def static_key(random: RandomBytes = secrets.token_bytes) -> str:
    """A 2048-bit key in OpenVPN's "Static key V1" text format (for ``secret``, ``tls-crypt``)."""
    hexed = random(STATIC_KEY_BYTES).hex()
    lines = [hexed[i : i + 32] for i in range(0, len(hexed), 32)]
    redact.register(hexed, *lines)
    return "\n".join(
        [
            "#",
            "# 2048 bit OpenVPN static key",
            "#",
            "-----BEGIN OpenVPN Static key V1-----",
            *lines,
            "-----END OpenVPN Static key V1-----",
            "",
        ]
    )


@dataclass(frozen=True, repr=False)
class EndKeys:
    """One tunnel end's certificate and private key (fingerprint mode). Prints no key."""

    gateway: str
    cert_pem: str
    key_pem: str
    fingerprint: str  # SHA256, colon-separated upper-case hex, as peer-fingerprint wants it

    def __repr__(self) -> str:
        return f"EndKeys(gateway={self.gateway!r}, fingerprint={self.fingerprint!r})"

    __str__ = __repr__


def self_signed(
    gateway: str, random: RandomBytes = secrets.token_bytes, now: Clock | None = None
) -> EndKeys:
    """A self-signed P-256 certificate for ``gateway``; deterministic for a given ``random``.

    The private scalar is drawn from ``random`` and the signature is RFC 6979 deterministic, so
    an injected byte source gives byte-identical certificates (golden files need that).
    """
    scalar = int.from_bytes(random(40), "big") % (_P256_ORDER - 1) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    issued = (now or _utcnow)().replace(microsecond=0) - dt.timedelta(days=1)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, gateway)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(random(16), "big") >> 1 or 1)
        .not_valid_before(issued)
        .not_valid_after(issued + CERT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    redact.register(key_pem)
    return EndKeys(
        gateway,
        cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem,
        fingerprint(cert),
    )


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, repr=False)
class TunnelKeys:
    """All key material of one tunnel, and where each piece lives in SSM. Prints no key."""

    topology: str
    tunnel: str
    mode: str
    psk: str | None = None  # mode psk
    tls_crypt: str | None = None  # mode fingerprint
    ends: Mapping[str, EndKeys] = field(default_factory=dict)  # mode fingerprint, by gateway
    gateways: tuple[str, ...] = ()  # the tunnel's two gateways, in name order

    def __repr__(self) -> str:
        held = sorted(self.parameters())
        return f"TunnelKeys({self.topology}/{self.tunnel}, mode={self.mode}, parameters={held})"

    __str__ = __repr__

    @property
    def prefix(self) -> str:
        return parameter_prefix(self.topology, self.tunnel)

    def parameters(self) -> dict[str, str]:
        """SSM parameter name -> value, every one to be stored as a SecureString."""
        if self.mode == "psk":
            assert self.psk is not None
            return {f"{self.prefix}/{g}/psk": self.psk for g in self.gateways}
        assert self.tls_crypt is not None
        found = {f"{self.prefix}/{g}/tls-crypt": self.tls_crypt for g in self.gateways}
        for gateway, end in sorted(self.ends.items()):
            far = next(e for g, e in self.ends.items() if g != gateway)
            found[f"{self.prefix}/{gateway}/cert"] = end.cert_pem
            found[f"{self.prefix}/{gateway}/key"] = end.key_pem
            found[f"{self.prefix}/{gateway}/peer-fingerprint"] = far.fingerprint
        return found

    def end(self, gateway: str) -> EndKeys:
        return self.ends[gateway]

    def far(self, gateway: str) -> EndKeys:
        return next(e for g, e in self.ends.items() if g != gateway)


def hold(values: Mapping[str, str]) -> Mapping[str, str]:
    """Key material read back (from SSM, to copy it): registered as secret, then returned."""
    redact.register(*values.values())
    return values


def parameter_prefix(topology: str, tunnel: str) -> str:
    return f"/vpnctl/{topology}/{tunnel}"


def parameter_names(
    topology: str, tunnel: Tunnel, gateways: Collection[str] | None = None
) -> tuple[str, ...]:
    """The SSM names a tunnel's keys use, known without generating any key (for IAM, apply):
    all of them, or those under some of its gateways (what one region stores)."""
    prefix = parameter_prefix(topology, tunnel.name)
    ends = sorted(end.gateway for end in tunnel.ends())
    gateways = [g for g in ends if gateways is None or g in gateways]
    if tunnel.mode == "psk":
        return tuple(f"{prefix}/{g}/psk" for g in gateways)
    shared = [f"{prefix}/{g}/tls-crypt" for g in gateways]
    per_end = [
        f"{prefix}/{g}/{what}" for g in gateways for what in ("cert", "key", "peer-fingerprint")
    ]
    return (*shared, *per_end)


def generate(
    design: Design,
    tunnel: Tunnel | str,
    *,
    random: RandomBytes = secrets.token_bytes,
    now: Clock | None = None,
) -> TunnelKeys:
    """Fresh keys for one tunnel of ``design``, in the tunnel's mode."""
    if isinstance(tunnel, str):
        tunnel = next(t for t in design.tunnels if t.name == tunnel)
    gateways = tuple(sorted(e.gateway for e in tunnel.ends()))
    if tunnel.mode == "psk":
        return TunnelKeys(
            design.name, tunnel.name, "psk", psk=static_key(random), gateways=gateways
        )
    ends = {e.gateway: self_signed(e.gateway, random, now) for e in tunnel.ends()}
    return TunnelKeys(
        design.name,
        tunnel.name,
        "fingerprint",
        tls_crypt=static_key(random),
        ends=MappingProxyType(ends),
        gateways=gateways,
    )


def generate_all(
    design: Design, *, random: RandomBytes = secrets.token_bytes, now: Clock | None = None
) -> dict[str, TunnelKeys]:
    """Keys for every tunnel of ``design``, by tunnel name."""
    return {t.name: generate(design, t, random=random, now=now) for t in design.tunnels}


def seeded(seed: bytes) -> RandomBytes:
    """A deterministic byte source (SHAKE-256 stream) for tests and golden files. Not secret."""
    import hashlib

    counter = 0

    def take(n: int) -> bytes:
        nonlocal counter
        counter += 1
        return hashlib.shake_256(seed + counter.to_bytes(8, "big")).digest(n)

    return take
