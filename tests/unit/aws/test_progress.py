"""Progress: a live status line on a terminal, plain greppable lines anywhere else."""

from __future__ import annotations

import io

from vpnctl.aws.changes import CreateVpc, Where
from vpnctl.aws.progress import Lines, Terminal, for_stream


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def vpc(region: str) -> CreateVpc:
    return CreateVpc(Where("main", region, "v"), "v", "10.0.0.0/16")


def test_not_a_terminal_gets_one_plain_line_per_change() -> None:
    out = io.StringIO()
    progress = for_stream(out)
    assert isinstance(progress, Lines)
    progress.begin(2)
    progress.done(vpc("us-west-2"))
    progress.waiting("vpc v to be available")
    progress.done(vpc("eu-west-1"))
    progress.end()
    assert out.getvalue().splitlines() == [
        "[1/2] main/us-west-2: + vpc v 10.0.0.0/16",
        "waiting: vpc v to be available",
        "[2/2] main/eu-west-1: + vpc v 10.0.0.0/16",
    ]
    assert "\x1b" not in out.getvalue()


def test_a_terminal_gets_one_line_rewritten_with_counts_per_region() -> None:
    out = Tty()
    progress = for_stream(out)
    assert isinstance(progress, Terminal)
    progress.begin(3)
    progress.done(vpc("us-west-2"))
    progress.done(vpc("us-west-2"))
    progress.waiting("instances to run")
    shown = out.getvalue().split("\r\x1b[2K")
    assert shown[-1] == "[2/3] main/us-west-2:2 | waiting for instances to run"
    progress.end()
    assert out.getvalue().endswith("\r\x1b[2K")
    assert "\n" not in out.getvalue()
