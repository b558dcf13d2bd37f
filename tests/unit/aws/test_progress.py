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
    assert shown[-1] == "[2/3] independent main/us-west-2:2 | waiting for instances to run"
    progress.end()
    assert out.getvalue().endswith("\r\x1b[2K")
    assert "\n" not in out.getvalue()


def test_the_terminal_line_fits_the_terminal_width() -> None:
    out = Tty()
    progress = Terminal(out, width=lambda: 80)
    progress.begin(500)
    for region in ("us-west-2", "eu-west-1", "ap-southeast-1", "eu-central-1", "sa-east-1"):
        progress.done(vpc(region))
    progress.waiting("instances " + "i-0123456789abcdef0 " * 20 + "to run")
    for shown in out.getvalue().split("\r\x1b[2K"):
        assert len(shown) < 80, shown
    assert out.getvalue().split("\r\x1b[2K")[-1].endswith("…")


def test_a_stream_without_a_terminal_size_counts_80_columns() -> None:
    from vpnctl.aws.progress import columns

    assert columns(Tty()) == 80
