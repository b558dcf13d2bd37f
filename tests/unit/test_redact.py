"""``vpnctl.redact`` on the shapes botocore logs: JSON bodies, bytes reprs, dict reprs."""

from __future__ import annotations

import json

from vpnctl import keys, redact
from vpnctl.keys import seeded


def test_a_json_body_keeps_names_and_tags_and_loses_the_value() -> None:
    body = {
        "Name": "/vpnctl/t/x/psk",
        "Value": 'not "registered", a secret',
        "Tags": [{"Key": "vpnctl:topology", "Value": "t"}],
    }
    for text in (json.dumps(body), repr(json.dumps(body).encode()), repr({"body": body})):
        out = redact.redact(text)
        assert "registered" not in out
        assert "a secret" not in out
        assert "/vpnctl/t/x/psk" in out
        assert "vpnctl:topology" in out
        assert "'t'" in out or '"t"' in out  # the tag's value stays


def test_pem_and_static_key_blocks_go_whole_also_cut_short() -> None:
    end = keys.self_signed("gw-a", seeded(b"redact"))
    static = keys.static_key(seeded(b"redact"))
    for secret in (end.key_pem, end.cert_pem, static, end.key_pem[:90]):
        for text in (secret, json.dumps(secret), repr(json.dumps(secret).encode())):
            out = redact.redact(f"before {text}")
            assert "BEGIN" not in out
            assert "[redacted]" in out
            assert "-----END" not in out


def test_registered_secrets_go_in_every_escaping_and_line_by_line() -> None:
    secret = "first line of a secret 0123456789\nsecond line of a secret 9876543210"
    redact.register(secret)
    for text in (secret, json.dumps(secret), repr(json.dumps(secret).encode())):
        assert "line of a secret" not in redact.redact(f"x {text} y")
    assert "line of a secret" not in redact.redact(secret.splitlines()[1])


def test_keys_registers_what_it_makes() -> None:
    static = keys.static_key(seeded(b"registered"))
    line = static.splitlines()[6]
    assert line not in redact.redact(f"a line: {line}")


def test_ordinary_text_is_left_alone() -> None:
    text = "DEBUG botocore.endpoint: Making request for OperationModel(name=DescribeVpcs)"
    assert redact.redact(text) == text
