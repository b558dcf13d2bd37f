import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.probe.fakes import echoes
from vpnctl.probe.measure import Echo, jitter, percentile, summarise


def test_counts_loss_from_echoes_that_got_no_reply() -> None:
    stats = summarise(echoes([10.0, None, 12.0, None, 11.0]))
    assert (stats.sent, stats.received, stats.late) == (5, 3, 0)
    assert stats.loss_pct == pytest.approx(40.0)


def test_late_replies_are_neither_received_nor_lost() -> None:
    stats = summarise(echoes([10.0, 1500.0, None, 11.0], late_after=1000.0))
    assert (stats.received, stats.late) == (2, 1)
    assert stats.loss_pct == pytest.approx(25.0)
    assert stats.rtt is not None
    assert stats.rtt.max == 1500.0


def test_rtt_figures() -> None:
    rtts = [float(r) for r in range(1, 21)]  # 1..20 ms
    stats = summarise(echoes(rtts))
    assert stats.rtt is not None
    assert (stats.rtt.min, stats.rtt.max) == (1.0, 20.0)
    assert stats.rtt.median == 10.5
    assert stats.rtt.p95 == 19.0  # nearest rank: ceil(0.95 * 20) = 19th
    assert stats.rtt.mean == 10.5


def test_nothing_back_has_no_rtt_or_jitter() -> None:
    stats = summarise(echoes([None, None]))
    assert stats.rtt is None
    assert stats.jitter is None
    assert stats.loss_pct == 100.0


def test_mdev_is_pings_population_deviation() -> None:
    got = jitter([10.0, 20.0, 30.0])
    assert got is not None
    assert got.mdev == pytest.approx(math.sqrt(200.0 / 3.0))


def test_mean_abs_diff_follows_sequence_order() -> None:
    shuffled = [
        Echo(seq=s, scheduled=0, sent=0, rtt_ms=r) for s, r in [(2, 30.0), (0, 10.0), (1, 40.0)]
    ]
    stats = summarise(shuffled)
    assert stats.jitter is not None
    assert stats.jitter.mean_abs_diff == pytest.approx((30.0 + 10.0) / 2)


def test_one_reply_has_no_consecutive_jitter() -> None:
    got = jitter([5.0])
    assert got is not None
    assert got.mean_abs_diff is None
    assert got.mdev == 0.0


def test_duplicates_and_refused_sends_are_counted_apart() -> None:
    rows = [
        Echo(seq=0, scheduled=0.0, sent=0.0, rtt_ms=1.0, duplicates=2),
        Echo(seq=1, scheduled=1.0, sent=None),
    ]
    stats = summarise(rows)
    assert (stats.duplicates, stats.errors, stats.received) == (2, 1, 1)
    assert stats.loss_pct == 50.0


def test_lag_is_how_late_each_echo_left() -> None:
    rows = [Echo(seq=i, scheduled=float(i), sent=i + d) for i, d in enumerate([0.0, 0.002, 0.010])]
    stats = summarise(rows)
    assert stats.lag is not None
    assert stats.lag.max == pytest.approx(10.0)
    assert stats.lag.mean == pytest.approx(4.0)


@given(st.lists(st.floats(0.0, 1e4), min_size=1, max_size=200))
def test_percentiles_are_values_and_ordered(values: list[float]) -> None:
    p95 = percentile(values, 95)
    assert p95 in values
    assert min(values) <= statistics.median(values) or p95 >= min(values)
    assert percentile(values, 100) == max(values)
    assert percentile(values, 0) == min(values)


@given(st.lists(st.one_of(st.none(), st.floats(0.0, 1e4)), min_size=1, max_size=100))
def test_every_echo_is_received_late_or_lost(rtts: list[float | None]) -> None:
    stats = summarise(echoes(rtts, late_after=500.0))
    lost = stats.sent * stats.loss_pct / 100.0
    assert stats.received + stats.late + lost == pytest.approx(stats.sent)
    if stats.rtt is not None:
        assert stats.rtt.min <= stats.rtt.median <= stats.rtt.max
        assert stats.rtt.min <= stats.rtt.p95 <= stats.rtt.max
