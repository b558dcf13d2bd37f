"""Secrets never reach a log: a formatter wrapper on every logging handler that redacts them.

``--debug`` turns on botocore's debug log, which carries whole request and response bodies:
the SSM ``PutParameter`` of every key vpnctl stores (also when the write fails) and the
``GetParameters`` answers it reads. Redaction happens where a record becomes text, after
every argument and traceback is formatted in, so nothing a library logs gets past it. It removes

- PEM blocks (certificates, private keys) and OpenVPN static key blocks, whole, also escaped
  inside a JSON body or a bytes repr, and from a BEGIN line to the end when a log cuts the
  block short;
- the value of every ``"Value": ...`` field (SSM parameters), in JSON bodies, Python reprs and
  bytes reprs, except where it is a tag's value (``"Key": ..., "Value": ...``), which is no
  secret and helps reading the log;
- every string ``register``\\ ed at runtime (``vpnctl.keys`` registers each key it makes or
  reads), exactly and in its JSON-escaped and repr-escaped forms, and each long line of it.

``install()`` puts the wrapper on every handler of the root logger and of any logger that has
handlers of its own; calling it again is harmless. Pure apart from that and the registry.
"""

from __future__ import annotations

import json
import logging
import re
import threading

REDACTED = "[redacted]"
MIN_LINE = 20  # lines of a registered secret at least this long are redacted on their own

_PEM = re.compile(r"-----BEGIN ([A-Za-z0-9 ]{1,64})-----(?:.*?-----END \1-----|.*)", re.DOTALL)
# "Value": "..." and 'Value': '...', the quotes kept. The value ends at a quote that a comma,
# a closing brace or bracket follows and that no escape reaches: none or 4k backslashes before
# it. (An escaped quote has one backslash in JSON and two in the repr of a JSON body, so
# neither ends the value early; a JSON value ending in an escaped backslash runs on, which
# redacts more, never less.)
_VALUE = re.compile(
    r"""(?P<head>(?P<q0>["'])Value(?P=q0)\s*:\s*)(?P<q>["']).*?(?<!\\)(?:\\{4})*(?P=q)(?=\s*(?:[,}\]]|$))""",
    re.DOTALL,
)
_TAG_KEY = re.compile(r"""["']Key["']\s*:\s*["'][^"'\\]{0,256}["']\s*,\s*$""")

_lock = threading.Lock()
_secrets: set[str] = set()


def register(*values: str) -> None:
    """Treat each value (and its escaped forms, and its long lines) as a secret from now on."""
    forms: set[str] = set()
    for value in values:
        if not value:
            continue
        for piece in {value, *(line for line in value.splitlines() if len(line) >= MIN_LINE)}:
            escaped = json.dumps(piece)[1:-1]
            forms |= {piece, escaped, escaped.replace("\\", "\\\\"), repr(piece)[1:-1]}
    with _lock:
        _secrets.update(f for f in forms if f)


def registered() -> int:
    with _lock:
        return len(_secrets)


def redact(text: str) -> str:
    text = _PEM.sub(lambda m: f"{REDACTED} {m.group(1)}", text)
    text = _VALUE.sub(_value, text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _value(match: re.Match[str]) -> str:
    before = match.string[max(0, match.start() - 300) : match.start()]
    if _TAG_KEY.search(before):
        return match.group(0)
    quote = match.group("q")
    return f"{match.group('head')}{quote}{REDACTED}{quote}"


class RedactingFormatter(logging.Formatter):
    """Formats with the handler's own formatter, then redacts the text."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


def install(root: logging.Logger | None = None) -> int:
    """Wrap the formatter of every handler there is now; returns how many were wrapped."""
    loggers = [root or logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and logger.handlers
    ]
    wrapped = 0
    for logger in loggers:
        for handler in logger.handlers:
            if not isinstance(handler.formatter, RedactingFormatter):
                handler.setFormatter(RedactingFormatter(handler.formatter))
                wrapped += 1
    return wrapped
