"""``vpnctl --debug apply`` on a moto server: botocore's debug log shows every call, no key.

The keys are the ones that apply generated and stored, read back from the emulator's SSM
afterwards; one write is made to fail first (a parameter vpnctl did not write holds its name),
since botocore logs a failed request's body too.
"""

from __future__ import annotations

import logging
from pathlib import Path

from click.testing import Result

from tests.functional.conftest import ROOT, Aws
from vpnctl import pipeline
from vpnctl.cli import cli

FINGERPRINT = "\ntunnel:\n  mode: fingerprint\n"


def debug_run(aws: Aws, *args: str) -> Result:
    """``vpnctl --debug ARGS`` with an empty root logger, as a fresh process has, so ``--debug``
    configures its own handler (pytest's capture handlers, added once the test body runs, would
    make ``basicConfig`` a no-op); the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        return aws.run(cli, "--debug", *args)
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def stored(aws: Aws, region: str) -> dict[str, str]:
    ssm = aws.client("ssm", region)
    found: dict[str, str] = {}
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/vpnctl/demo", Recursive=True, WithDecryption=True
    )
    for page in pages:
        found.update({p["Name"]: p["Value"] for p in page["Parameters"]})
    return found


def secrets(aws: Aws) -> dict[str, str]:
    keys = {**stored(aws, "us-west-2"), **stored(aws, "eu-west-1")}
    return {n: v for n, v in keys.items() if n.endswith(("/tls-crypt", "/key", "/cert"))}


def pieces(secret: str) -> list[str]:
    """The secret and each line of it long enough to mean something (a hex or base64 line)."""
    return [secret, *(line for line in secret.splitlines() if len(line) >= 16)]


def test_debug_log_shows_the_calls_and_none_of_the_keys(aws: Aws) -> None:
    path = aws.topology("demo", (ROOT / "topologies" / "demo.yaml").read_text() + FINGERPRINT)
    tunnel = pipeline.plan(path).design.tunnels[0].name
    taken = f"/vpnctl/demo/{tunnel}/gw-{tunnel.split('--')[0]}/tls-crypt"
    ssm = aws.client("ssm", "eu-west-1")
    ssm.put_parameter(Name=taken, Value="taken", Type="SecureString")

    refused = debug_run(aws, "apply", str(path), "--yes")
    assert refused.exit_code == 1, refused.output + str(refused.exception)
    said = str(refused.exception)  # --debug lets it through, traceback and all
    assert f"account main, region eu-west-1, ssm parameter {taken}" in said
    assert "a parameter vpnctl did not write holds this key's name" in said
    written = secrets(aws)  # before the refusal, and what the next apply may overwrite
    ssm.delete_parameter(Name=taken)
    result = debug_run(aws, "apply", str(path), "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)

    kept = secrets(aws)
    assert len(kept) == 2 * 2 * 3  # 2 tunnels, 2 ends: each end's tls-crypt, cert and key
    assert any("PRIVATE KEY" in v for v in kept.values())
    assert kept[taken] != "taken"
    for log, keys in ((refused.stderr, written), (result.stderr, kept)):
        assert keys
        for name, value in keys.items():
            for piece in pieces(value):
                assert piece not in log, f"{name} is in the debug log"
                assert piece.replace("\n", "\\n") not in log, f"{name} is in the debug log"
        assert "-----BEGIN" not in log
        # the log still tells what happened: calls, bodies (redacted)
        assert "DEBUG botocore" in log
        assert "PutParameter" in log
        assert '"Value": "[redacted]"' in log
        assert '"Key": "vpnctl:topology", "Value": "demo"' in log  # a tag's value is no secret
    assert taken in refused.stderr  # and the failed write
    assert "ParameterAlreadyExists" in refused.stderr


def test_a_rotations_new_keys_are_not_in_its_debug_log(aws: Aws) -> None:
    path = aws.topology("demo")
    assert aws.run(cli, "apply", str(path), "--yes").exit_code == 0
    link = pipeline.plan(path).design.tunnels[0].link
    result = debug_run(aws, "keys", "rotate", str(path), "--link", link, "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)
    log = result.stderr
    keys = stored(aws, "us-west-2")
    assert keys
    for name, value in keys.items():
        for piece in pieces(value):
            assert piece not in log, f"{name} is in the debug log"
    assert "PutParameter" in log


def test_a_log_file_of_the_path_stays_clean(tmp_path: Path) -> None:
    """Redaction is on every handler, not only stderr's."""
    from vpnctl import keys, redact

    logger = logging.getLogger("vpnctl.test.redaction")
    handler = logging.FileHandler(tmp_path / "log")
    logger.addHandler(handler)
    try:
        redact.install()
        secret = keys.static_key()
        logger.warning("body: %r", {"Value": secret})
        logger.warning("again: %s", secret.splitlines()[5])
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = (tmp_path / "log").read_text()
    assert secret.splitlines()[5] not in text
    assert "[redacted]" in text
