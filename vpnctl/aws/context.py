"""What a handler is given: the executor's state, as a protocol, and the handler's type.

``actions`` and ``hookactions`` write to this protocol, ``execute.Executor`` fulfils it, and
``handlers`` is the table from change class to handler. Defined apart from all three so that
none of them imports another in a circle (``tests/unit/test_import_cycles.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from vpnctl.aws.changes import Change
from vpnctl.aws.door import Door
from vpnctl.aws.intent import Intent
from vpnctl.aws.progress import Progress
from vpnctl.aws.registry import Registry
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions

KeySource = Callable[[str], dict[str, str]]  # tunnel -> {ssm name: secret value}


class Executor(Protocol):
    """The state one apply's handlers share: clients, the intent, what was made so far."""

    sessions: Sessions
    intent: Intent
    registry: Registry
    retry: Retry
    progress: Progress
    wait_s: float  # for a gateway instance to appear, or to go
    zone_id: str | None  # the hosted zone, when it exists already
    handlers: Mapping[type[Change], Handler]  # ``handlers.HANDLERS``, unless a test says

    @property
    def door(self) -> Door: ...  # every AWS call goes through it (``vpnctl.aws.door``)

    def keys(self, tunnel: str) -> dict[str, str]: ...  # {ssm name: secret value}
    def sleep(self, seconds: float) -> None: ...
    def clock(self) -> float: ...


Handler = Callable[[Executor, Any], None]  # its change: the class the table files it under
