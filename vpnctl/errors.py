"""Everything vpnctl raises on purpose, and the exit status each one means.

    VpnctlError                 exit 1: something failed while working
    ├── InputError              exit 2: the input is wrong; nothing was changed anywhere
    │                           (carries every Problem found, not only the first)
    ├── UsageError              exit 2: the command line asks for something impossible
    │                           (a file that cannot be read or written, an unknown --release)
    ├── EventError              exit 2: the failover hook was given an event it does not
    │                           handle; nothing was changed
    ├── SandboxError            exit 2: ``--sandbox`` / ``vpnctl sandbox`` cannot run the
    │                           emulator (extra not installed, none running, a dead one)
    ├── LockConflict            exit 1: the lock file would change under --frozen, or the
    │                           topology's apply lock is held by someone else
    ├── StaleChangeSet          exit 1: a saved change set no longer fits AWS or the topology
    ├── Declined                exit 1: the user answered no at the prompt; nothing changed
    ├── AwsError                exit 1: AWS refused; names account, region and resource
    └── LabError                exit 1: the machine refused something the lab needs
                                (defined in ``vpnctl.lab.shell``)

Modules below the shell raise their own small kinds, and the code that calls them turns each
into one of the above (or a click usage error, exit 2) at once, so none reaches the user as it
is: ``ImpairError`` (vpnctl.lab.impair), ``TargetError`` (vpnctl.probe.targets), ``SpecError``
(vpnctl.probe.spec), ``StateError`` (vpnctl.probe.health) and ``TransportUnavailable``
(vpnctl.probe.transport: the probe reports UNKNOWN). ``RenderError`` (vpnctl.render) marks a
template that failed, a bug: it reaches the exit point as one "internal error" line. ``vpnctl.cli`` is the one exit
point: it prints a ``VpnctlError`` as its message and exits with its status, and anything else
as one line with the ``--debug`` hint (exit 1).

A ``Problem`` is the pure core's way of saying what is wrong with the input: it names the
topology key (``vpcs.cn-north-1.cidr``) and the shell turns it into ``FILE:LINE: KEY: message``
with the key's source line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, located by its dotted topology key."""

    key: str
    message: str


@dataclass(frozen=True)
class Diagnostic:
    """A problem placed in its file: what the user reads."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}"


class VpnctlError(Exception):
    exit_code = 1


class InputError(VpnctlError):
    """Bad input. ``diagnostics`` holds one line per problem, all of them."""

    exit_code = 2

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class EventError(VpnctlError):
    """An event the failover hook refuses: unknown kind, or missing what its kind needs."""

    exit_code = 2


class UsageError(VpnctlError):
    """The command line cannot be carried out as given; nothing was changed."""

    exit_code = 2


class SandboxError(VpnctlError):
    """The AWS emulator behind ``--sandbox`` is missing, not running, or not answering."""

    exit_code = 2


class LockConflict(VpnctlError):
    exit_code = 1


class StaleChangeSet(VpnctlError):
    """A saved change set no longer fits: AWS or the topology moved since it was made."""

    exit_code = 1


class Declined(VpnctlError):
    """The user said no (or nothing) at a prompt before any change: the one rule for apply,
    destroy and keys rotate."""

    exit_code = 1

    def __init__(self) -> None:
        super().__init__("Nothing changed.")


class AwsError(VpnctlError):
    """AWS said no. The message names account, region, resource and what to try."""

    exit_code = 1

    def __init__(self, account: str, region: str, resource: str, message: str) -> None:
        self.account = account
        self.region = region
        self.resource = resource
        super().__init__(f"account {account}, region {region}, {resource}: {message}")
