"""The handler table: every change class has its handler, every handler its change class."""

from __future__ import annotations

import inspect

from vpnctl.aws import changes as c
from vpnctl.aws import hooks
from vpnctl.aws.handlers import HANDLERS

ABSTRACT = (c.Change, c.Removal)  # what the kinds derive from; never in a change set


def concrete(kind: type[c.Change]) -> set[type[c.Change]]:
    found = {kind} - set(ABSTRACT)
    for sub in kind.__subclasses__():
        found |= concrete(sub)
    return found


def declared() -> set[type[c.Change]]:
    """The change classes defined in ``changes`` and ``hooks`` (the failover hook's)."""
    return {
        k
        for module in (c, hooks)
        for _, k in inspect.getmembers(module, inspect.isclass)
        if issubclass(k, c.Change) and k.__module__ == module.__name__ and k not in ABSTRACT
    }


def test_every_change_class_has_a_handler() -> None:
    missing = sorted(k.__name__ for k in declared() - set(HANDLERS))
    assert missing == []


def test_every_handler_is_for_a_change_class_that_exists() -> None:
    unknown = sorted(k.__name__ for k in set(HANDLERS) - declared())
    assert unknown == []
    assert concrete(c.Change) == declared()  # no change class lives anywhere else


def test_a_handler_takes_the_class_it_is_filed_under() -> None:
    for kind, handler in HANDLERS.items():
        annotation = inspect.signature(handler).parameters["ch"].annotation
        assert annotation.rsplit(".", 1)[-1] == kind.__name__, handler.__name__
