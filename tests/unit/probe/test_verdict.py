import pytest

from tests.unit.probe.fakes import CRIT, WARN, echoes
from vpnctl.probe.measure import summarise
from vpnctl.probe.verdict import Status, judge, parse_thresholds, worst
from vpnctl.topology import Thresholds


@pytest.mark.parametrize(
    ("rtts", "expected"),
    [
        ([10.0] * 100, Status.OK),
        ([10.0] * 98 + [None] * 2, Status.WARNING),  # 2% loss reaches warn (>=, as check_ping)
        ([10.0] * 90 + [None] * 10, Status.CRITICAL),
        ([300.0] * 10, Status.WARNING),
        ([700.0] * 10, Status.CRITICAL),
        ([10.0] * 9 + [5000.0], Status.OK),  # one slow echo: the median is still fine
        ([None] * 10, Status.CRITICAL),
    ],
)
def test_judge(rtts: list[float | None], expected: Status) -> None:
    assert judge(summarise(echoes(rtts, late_after=10_000)), WARN, CRIT) is expected


def test_nothing_back_is_critical_even_with_lax_thresholds() -> None:
    lax = Thresholds(loss_pct=100.0, rtt_ms=1e9)
    assert judge(summarise(echoes([None])), lax, lax) is Status.CRITICAL


def test_unmeasured_is_unknown() -> None:
    assert judge(None, WARN, CRIT) is Status.UNKNOWN


def test_worst_ranks_unknown_above_ok() -> None:
    assert worst([Status.OK, Status.UNKNOWN]) is Status.UNKNOWN
    assert worst([Status.UNKNOWN, Status.WARNING]) is Status.WARNING
    assert worst([Status.WARNING, Status.CRITICAL, Status.OK]) is Status.CRITICAL
    assert worst([]) is Status.UNKNOWN


def test_parse_thresholds_reads_check_ping_form() -> None:
    assert parse_thresholds("250,2%") == Thresholds(loss_pct=2.0, rtt_ms=250.0)
    assert parse_thresholds("0.5,12.5%") == Thresholds(loss_pct=12.5, rtt_ms=0.5)


@pytest.mark.parametrize("text", ["250", "250,2", "x,2%", "250,200%", "-1,2%", ""])
def test_parse_thresholds_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="RTT"):
        parse_thresholds(text)
