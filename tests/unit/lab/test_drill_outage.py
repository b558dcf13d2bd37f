"""A drill's outage, from the echoes a stream sent and got back: pure, on recorded times."""

from __future__ import annotations

from ipaddress import IPv4Address

from vpnctl.lab.drill import Stream
from vpnctl.lab.layout import HostNode

HOST = HostNode("ns", "vpc", "az", IPv4Address("10.0.0.10"), IPv4Address("10.0.0.1"), True)


def stream(answered_from: float, lost: tuple[float, float], stop: float) -> Stream:
    """Echoes every 0.1 s from 0 to ``stop``; those sent in ``lost`` get no answer."""
    made = Stream(HOST, HOST, period=0.1)
    for seq in range(int(stop * 10) + 1):
        at = seq / 10
        made.sent[seq] = at
        if not lost[0] <= at < lost[1] and at >= answered_from:
            made.answered[seq] = at + 0.001
    return made


def test_the_outage_runs_from_the_first_echo_lost_to_the_first_answer_after_the_last() -> None:
    seconds, lost = stream(0.0, (2.0, 4.5), stop=8.0).outage(since=1.0)
    assert lost == 25
    assert seconds is not None
    assert abs(seconds - (4.5 + 0.001 - 2.0)) < 1e-9


def test_an_answer_in_the_streams_last_second_ends_the_outage() -> None:
    """The drill stops once answers have come for a second since the last loss; the answer
    that ended the outage may have been sent within the last second of the stream. It counts
    (an unanswered echo of that second does not: its answer may still be on the way)."""
    seconds, lost = stream(0.0, (2.0, 4.9), stop=5.5).outage(since=1.0)
    assert seconds is not None
    assert abs(seconds - (4.9 + 0.001 - 2.0)) < 1e-9
    assert lost == 26  # those sent from 2.0 to 4.5: the last second's are not yet counted


def test_no_answer_after_the_last_loss_is_no_recovery() -> None:
    seconds, _ = stream(0.0, (2.0, 99.0), stop=8.0).outage(since=1.0)
    assert seconds is None
