"""Tunnel keys: OpenVPN's formats, one set per tunnel, deterministic when seeded, never printed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.builders import designed, doc
from vpnctl import keys
from vpnctl.design import Design

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def fingerprint_design() -> Design:
    return designed(doc(tunnel={"mode": "fingerprint"}))


def test_static_key_is_openvpn_static_key_v1_of_2048_bits() -> None:
    text = keys.static_key(keys.seeded(b"s"))
    lines = text.splitlines()
    assert lines[3] == "-----BEGIN OpenVPN Static key V1-----"
    assert lines[-1] == "-----END OpenVPN Static key V1-----"
    body = lines[4:-1]
    assert len(body) == 16
    assert all(re.fullmatch(r"[0-9a-f]{32}", line) for line in body)
    assert text.endswith("\n")


def test_psk_tunnel_has_one_key_under_its_own_name() -> None:
    d = designed(doc())
    made = keys.generate(d, d.tunnels[0], random=keys.seeded(b"s"))
    assert list(made.parameters()) == [
        "/vpnctl/t/east-a--west-a/gw-east-a/psk",
        "/vpnctl/t/east-a--west-a/gw-west-a/psk",
    ]
    other = keys.generate(d, d.tunnels[1], random=keys.seeded(b"t"))
    assert made.psk != other.psk


def test_seeded_keys_are_reproducible_and_fresh_ones_differ() -> None:
    d = fingerprint_design()
    one = keys.generate(d, d.tunnels[0], random=keys.seeded(b"s"), now=lambda: NOW)
    two = keys.generate(d, d.tunnels[0], random=keys.seeded(b"s"), now=lambda: NOW)
    assert one.parameters() == two.parameters()
    assert keys.generate(d, d.tunnels[0]).parameters() != one.parameters()


def test_fingerprint_mode_pins_each_end_with_the_other_ends_certificate() -> None:
    d = fingerprint_design()
    made = keys.generate(d, d.tunnels[0], random=keys.seeded(b"s"), now=lambda: NOW)
    params = made.parameters()
    prefix = "/vpnctl/t/east-a--west-a"
    assert sorted(params) == sorted(keys.parameter_names("t", d.tunnels[0]))
    east_cert = x509.load_pem_x509_certificate(params[f"{prefix}/gw-east-a/cert"].encode())
    assert params[f"{prefix}/gw-west-a/peer-fingerprint"] == keys.fingerprint(east_cert)
    assert east_cert.subject == east_cert.issuer  # self-signed
    assert east_cert.not_valid_before_utc < NOW < east_cert.not_valid_after_utc
    key = load_pem_private_key(params[f"{prefix}/gw-east-a/key"].encode(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert key.public_key() == east_cert.public_key()
    assert params[f"{prefix}/gw-east-a/tls-crypt"].startswith("#\n# 2048 bit OpenVPN static key")
    assert params[f"{prefix}/gw-east-a/tls-crypt"] == params[f"{prefix}/gw-west-a/tls-crypt"]


def test_psk_parameter_names_are_known_without_keys() -> None:
    d = designed(doc())
    assert keys.parameter_names("t", d.tunnels[0]) == (
        "/vpnctl/t/east-a--west-a/gw-east-a/psk",
        "/vpnctl/t/east-a--west-a/gw-west-a/psk",
    )


@pytest.mark.parametrize("mode", ["psk", "fingerprint"])
def test_no_key_material_in_repr_or_str(mode: str) -> None:
    d = designed(doc(tunnel={"mode": mode}))
    made = keys.generate(d, d.tunnels[0])
    shown = repr(made) + str(made) + "".join(repr(e) for e in made.ends.values())
    secrets = {n: v for n, v in made.parameters().items() if not n.endswith("peer-fingerprint")}
    for value in secrets.values():  # fingerprints are public; keys are not
        for line in value.splitlines():
            if len(line) >= 32 and "-----" not in line:
                assert line not in shown
    assert "BEGIN" not in shown
    assert "east-a--west-a" in shown
