"""``--sandbox``: an AWS emulator (moto's server) on 127.0.0.1, inside this process.

It needs the optional extra ``vpnctl[sandbox]``. Everything it holds vanishes when the process
ends: it exists so the whole apply flow runs on a machine with no AWS account.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vpnctl.errors import VpnctlError

CREDENTIALS = {
    "aws_access_key_id": "sandbox",
    "aws_secret_access_key": "sandbox",
}


class SandboxUnavailable(VpnctlError):
    exit_code = 2


@contextmanager
def sandbox() -> Iterator[str]:
    """Start the emulator on a free loopback port; yield its endpoint URL; stop it."""
    server = _server()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _server() -> Any:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise SandboxUnavailable(
            "--sandbox needs the AWS emulator: pip install 'vpnctl[sandbox]'"
        ) from exc
    return ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
