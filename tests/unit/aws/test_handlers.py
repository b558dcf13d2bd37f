"""The handler table: every change class has its handler, every handler its change class."""

from __future__ import annotations

import inspect

import pytest

from tests.unit.aws.test_diff import intent
from vpnctl.aws import actions, hooks
from vpnctl.aws import changes as c
from vpnctl.aws.execute import Executor
from vpnctl.aws.handlers import HANDLERS
from vpnctl.aws.registry import Registry
from vpnctl.aws.session import Sessions
from vpnctl.errors import AwsError

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


def test_perform_called_directly_finds_its_handler_without_importing_anything_else() -> None:
    """No module has to be imported first for its handlers to exist: the refusal of an
    unfinished rotation, carried out by ``actions.perform`` alone, refuses (no KeyError)."""
    ex = Executor(
        Sessions({}),
        intent(),
        Registry(),
        lambda tunnel: {},
    )
    refusal = c.UnfinishedRotation(c.Where("main", "us-east-1"), "east-west", "half done")
    with pytest.raises(AwsError, match="run `vpnctl keys rotate --link east-west`"):
        actions.perform(ex, refusal)


def test_a_handler_table_can_be_given_to_the_executor() -> None:
    done: list[c.Change] = []
    ex = Executor(Sessions({}), intent(), Registry(), lambda tunnel: {})
    ex.handlers = {c.CreateVpc: lambda _ex, ch: done.append(ch)}
    vpc = c.CreateVpc(c.Where("main", "us-east-1", "east"), "east", "10.0.0.0/16")
    actions.perform_batch(ex, (vpc,))
    assert done == [vpc]
