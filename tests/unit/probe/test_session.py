import itertools
from ipaddress import IPv4Address

import pytest

from tests.unit.probe.fakes import FakeClock, FakeNetwork, constant
from vpnctl.probe import session
from vpnctl.probe.measure import Echo, summarise
from vpnctl.probe.session import Schedule
from vpnctl.probe.transport import Reply

A, B, C = (IPv4Address(f"10.0.0.{i}") for i in (1, 2, 3))


def run(
    network: FakeNetwork, addresses: list[IPv4Address], schedule: Schedule, clock: FakeClock
) -> tuple[tuple[Echo, ...], ...]:
    return session.run(addresses, schedule, network, clock, token=b"T" * 8)


def test_every_target_gets_count_echoes_on_schedule(clock: FakeClock) -> None:
    net = FakeNetwork(clock, constant(0.005))
    rows = run(net, [A, B], Schedule(count=4, interval_ms=100, timeout_ms=50), clock)
    assert [len(r) for r in rows] == [4, 4]
    times = sorted(t for t, addr, _ in net.sent if addr == A)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    assert gaps == [0.1, 0.1, 0.1]


def test_targets_are_spread_across_the_interval(clock: FakeClock) -> None:
    net = FakeNetwork(clock, constant(0.001))
    run(net, [A, B], Schedule(count=1, interval_ms=100, timeout_ms=50), clock)
    (t_a, *_), (t_b, *_) = net.sent
    assert t_b - t_a == pytest.approx(0.05)


def test_rtt_is_measured_on_the_clock(clock: FakeClock) -> None:
    net = FakeNetwork(clock, constant(0.0123))
    (row,) = run(net, [A], Schedule(count=3, interval_ms=100, timeout_ms=500), clock)
    assert [e.rtt_ms for e in row] == pytest.approx([12.3] * 3)


def test_loss_and_late_replies(clock: FakeClock) -> None:
    # seq 0 answered, 1 lost, 2 answered after the timeout but before the run ends
    delays = {0: (0.010,), 1: (), 2: (0.300,), 3: (0.010,)}
    net = FakeNetwork(clock, lambda _a, seq: delays[seq])
    (row,) = run(net, [A], Schedule(count=4, interval_ms=100, timeout_ms=200), clock)
    stats = summarise(row)
    assert (stats.received, stats.late) == (2, 1)
    assert stats.loss_pct == 25.0


def test_run_ends_when_everything_is_answered(clock: FakeClock) -> None:
    net = FakeNetwork(clock, constant(0.002))
    start = clock.now
    run(net, [A], Schedule(count=2, interval_ms=100, timeout_ms=5000), clock)
    assert clock.now - start < 0.2


def test_run_waits_one_timeout_after_the_last_send(clock: FakeClock) -> None:
    net = FakeNetwork(clock, lambda _a, _s: ())
    start = clock.now
    (row,) = run(net, [A], Schedule(count=2, interval_ms=100, timeout_ms=700), clock)
    assert clock.now - start == pytest.approx(0.1 + 0.7, abs=0.002)
    assert summarise(row).loss_pct == 100.0


def test_duplicates_are_counted_not_received_twice(clock: FakeClock) -> None:
    # The run ends once every echo is answered, so the duplicate is sent for an early seq.
    net = FakeNetwork(clock, lambda _a, seq: (0.01, 0.012) if seq == 1 else (0.01,))
    (row,) = run(net, [A], Schedule(count=3, interval_ms=100, timeout_ms=500), clock)
    stats = summarise(row)
    assert (stats.received, stats.duplicates) == (3, 1)
    assert [e.duplicates for e in row] == [0, 1, 0]


def test_unroutable_target_is_all_lost_and_others_unaffected(clock: FakeClock) -> None:
    net = FakeNetwork(clock, constant(0.001), unreachable=["10.0.0.2"])
    rows = run(net, [A, B], Schedule(count=3, interval_ms=10, timeout_ms=100), clock)
    good, bad = (summarise(r) for r in rows)
    assert good.loss_pct == 0.0
    assert (bad.loss_pct, bad.errors) == (100.0, 3)


def test_stray_replies_are_ignored(clock: FakeClock) -> None:
    net = FakeNetwork(clock, lambda _a, _s: ())
    start = clock.now
    mine = session.payload(b"T" * 8, 0, 0)
    net.inject(Reply(A, session.payload(b"X" * 8, 0, 0), start + 0.01))  # another prober's
    net.inject(Reply(B, mine, start + 0.01))  # right payload, wrong source
    net.inject(Reply(A, session.payload(b"T" * 8, 7, 0), start + 0.01))  # no such target
    net.inject(Reply(A, b"short", start + 0.01))
    (row,) = run(net, [A], Schedule(count=1, interval_ms=10, timeout_ms=100), clock)
    assert summarise(row).loss_pct == 100.0


def test_a_slow_prober_shows_as_lag_not_as_rtt(clock: FakeClock) -> None:
    slow = FakeClock(cost=0.004)  # every clock reading costs the prober 4 ms
    net = FakeNetwork(slow, constant(0.010))
    rows = session.run([A, B, C], Schedule(count=5, interval_ms=1, timeout_ms=500), net, slow)
    stats = [summarise(r) for r in rows]
    assert all(s.lag is not None and s.lag.max > 4.0 for s in stats)
    assert all(s.loss_pct == 0.0 for s in stats)
