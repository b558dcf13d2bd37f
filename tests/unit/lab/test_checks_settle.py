"""``lab test`` asks a surprising drop twice, never a pass: a reply proves the path."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address

from vpnctl.lab import checks
from vpnctl.lab.layout import HostNode


def host(name: str) -> HostNode:
    address = IPv4Address("10.0.0.10")
    return HostNode(ns=name, vpc=name, az=f"{name}a", address=address, router=address, routed=True)


def check(port: int, expect: bool) -> checks.Check:
    return checks.Check("tcp", host("src"), host("dst"), port, expect)


def scripted(answers: dict[int | None, list[bool]]) -> Callable[[list[checks.Check]], list[bool]]:
    """Per port, what each attempt answers in turn; asking once too often fails the test."""
    return lambda some: [answers[c.port].pop(0) for c in some]


def test_a_drop_that_should_pass_is_tried_once_more() -> None:
    answers: dict[int | None, list[bool]] = {1: [False, True], 2: [False, False], 3: [True]}
    got = checks.settle([check(1, True), check(2, True), check(3, True)], scripted(answers))
    assert [(o.passed, o.tries, o.expected) for o in got] == [
        (True, 2, True), (False, 2, False), (True, 1, True),
    ]  # fmt: skip
    assert answers == {1: [], 2: [], 3: []}
    assert "(2 tries)" in checks.describe(got)


def test_a_pass_and_a_wanted_drop_stand_at_once() -> None:
    answers: dict[int | None, list[bool]] = {
        1: [True],
        2: [False],
    }  # a second attempt would find the list empty
    got = checks.settle([check(1, False), check(2, False)], scripted(answers))
    assert [(o.passed, o.tries, o.expected) for o in got] == [(True, 1, False), (False, 1, True)]
