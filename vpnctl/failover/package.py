"""vpnctl's own bundler: the Lambda deployment package and the gateway's software.

The Lambda package is vpnctl's code, the design as JSON, and the few pure-Python libraries the
hook imports that Lambda's Python runtime lacks. The gateway software (``gateway_software``) is
the same code and the libraries the gateway side imports (the probe's command line), as one
zipapp the gateway runs with its system ``python3``; apply ships it to the topology's artifact
bucket and user-data pins it by sha256, so a gateway never installs anything by name.

Why bundle rather than strip: the pure decision reads ``vpnctl.design``, whose module imports
the allocator (netaddr) and the topology reader (PyYAML). Keeping the handler free of them
would mean a second model of the design; bundling costs about a megabyte. Only pure Python
goes in (no compiled extension: PyYAML falls back to its pure reader, which the hook never
uses anyway), so one zip runs on x86_64 and arm64 and on any Python from 3.11. boto3 and
botocore come from the runtime. netaddr's MAC vendor databases (8 MB, for EUI lookups the
hook never makes) stay out.

The zip is deterministic: entries sorted, fixed timestamps and modes, so the same code and
design give the same bytes, and apply compares its SHA-256 with the function's
``CodeSha256`` to know whether to update it.

Built once per content digest: finding the libraries means importing the modules afresh in a
child process (0.3 s), so the list is kept in vpnctl's cache directory (``VPNCTL_CACHE_DIR``,
else ``$XDG_CACHE_HOME/vpnctl`` or ``~/.cache/vpnctl``), keyed by the interpreter and the
digest of vpnctl's own code, and used only while the libraries' files still have the digest
they had; a Lambda package is kept there by the digest of its files, and an apply whose code
and design are unchanged reads it back instead of zipping again. A directory that cannot be
written only means no cache.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vpnctl.failover.bundle import Bundle

HANDLER = "vpnctl.failover.handler"
RUNTIME = "python3.12"
# What Lambda's Python runtime provides (certifi is optional for botocore).
PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "certifi"}
)
SKIP_SUFFIXES = (".pyc", ".so", ".pyd", ".dylib")
SKIP_FILES = frozenset({"netaddr/eui/oui.txt", "netaddr/eui/oui.idx", "netaddr/eui/iab.txt",
                        "netaddr/eui/iab.idx"})  # fmt: skip
STAMP = (1980, 1, 1, 0, 0, 0)
HOOK_MODULES = ("vpnctl.failover.hook",)
# What a gateway runs: the command line, its probe and its agent (AWS through the system's
# boto3, from the distribution's python3-boto3, as on Lambda; the door's retries need tenacity).
GATEWAY_MODULES = ("vpnctl.cli", "vpnctl.cli.probe", "vpnctl.cli.agent")
SHEBANG = b"#!/usr/bin/env python3\n"
ZIPAPP_MAIN = """\
import sys

if sys.version_info < (3, 11):
    sys.exit("vpnctl needs Python 3.11 or newer; this is " + sys.version.split()[0])
from vpnctl.cli import main

main()
"""


@dataclass(frozen=True)
class Package:
    data: bytes

    @property
    def sha256(self) -> str:
        """As Lambda reports ``CodeSha256``: base64 of the SHA-256 of the zip."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


def build(bundle: Bundle) -> Package:
    files = _code_and_libraries(HOOK_MODULES)
    files["vpnctl/failover/bundle.json"] = bundle.to_json().encode()
    cached = _cache_dir() / f"hook-{_digest(files)}.zip"
    try:
        data = cached.read_bytes()
    except OSError:
        data = _zip(files)
        _keep(cached, data)
    return Package(data)


@dataclass(frozen=True)
class Software:
    """The gateway's vpnctl as one zipapp: ``python3 vpnctl.pyz probe ...``."""

    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@functools.cache
def gateway_software() -> Software:
    """Built once per process: the same installed code gives the same bytes."""
    files = _code_and_libraries(GATEWAY_MODULES)
    files["__main__.py"] = ZIPAPP_MAIN.encode()
    return Software(_zip(files, prefix=SHEBANG))


def _code_and_libraries(modules: tuple[str, ...]) -> dict[str, bytes]:
    code = dict(_vpnctl_files())
    key = _digest({**code, "": f"{sys.executable} {sys.version} {modules}".encode()})
    entry = _cache_dir() / f"libraries-{key}.json"
    try:
        known = json.loads(entry.read_text())
        names, digest = frozenset(known["libraries"]), str(known["digest"])
    except (OSError, ValueError, KeyError, TypeError):
        names, digest = None, ""
    found = _libraries_files(names) if names is not None else {}
    if names is None or _digest(found) != digest:  # new code, or a library changed
        names = libraries(modules)
        found = _libraries_files(names)
        _keep(entry, json.dumps({"libraries": sorted(names), "digest": _digest(found)}).encode())
    return {**code, **found}


def _libraries_files(names: frozenset[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for name in sorted(names):
        files.update(_library_files(name))
    return files


def _digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}\0{len(files[name])}\0".encode())
        h.update(files[name])
    return h.hexdigest()


def _cache_dir() -> Path:
    if os.environ.get("VPNCTL_CACHE_DIR"):
        return Path(os.environ["VPNCTL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vpnctl"


def _keep(path: Path, data: bytes) -> None:
    """Write atomically (a concurrent apply reads a whole file or none); no cache on error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.{os.getpid()}")
        part.write_bytes(data)
        part.replace(path)
    except OSError:
        pass


def libraries(modules: tuple[str, ...] = ("vpnctl.failover.hook",)) -> frozenset[str]:
    """Third-party top-level packages ``modules`` import, found by importing them afresh."""
    script = (
        f"import json, sys, {', '.join(modules)}; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    found = set(json.loads(out)) - set(sys.stdlib_module_names) - PROVIDED - {"vpnctl"}
    return frozenset(n for n in found if not n.startswith("_") and n != "cython_runtime")


def _vpnctl_files() -> Iterator[tuple[str, bytes]]:
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield f"vpnctl/{path.relative_to(root).as_posix()}", path.read_bytes()


def _library_files(name: str) -> Iterator[tuple[str, bytes]]:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return
    if not spec.submodule_search_locations:
        path = Path(spec.origin)
        yield path.name, path.read_bytes()
        return
    root = Path(next(iter(spec.submodule_search_locations)))
    for path in sorted(root.rglob("*")):
        arcname = f"{name}/{path.relative_to(root).as_posix()}"
        if _wanted(path, arcname):
            yield arcname, path.read_bytes()


def _wanted(path: Path, arcname: str) -> bool:
    return (
        path.is_file()
        and "__pycache__" not in path.parts
        and not path.name.endswith(SKIP_SUFFIXES)
        and arcname not in SKIP_FILES
    )


def _zip(files: dict[str, bytes], prefix: bytes = b"") -> bytes:
    buffer = io.BytesIO(prefix)
    buffer.seek(len(prefix))  # a zipapp: the shebang line, then the archive (zipimport allows it)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, STAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()
