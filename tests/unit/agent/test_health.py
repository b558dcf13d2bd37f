"""The agent's health loop: tunnels and siblings through the probe's state machine."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Sequence
from ipaddress import IPv4Address

from tests.unit.agent import healthfakes
from tests.unit.agent.healthfakes import FAR, SIBLING, TUNNEL, Clock, Net, Sink, config, loop
from vpnctl.agent import health
from vpnctl.agent.config import Config
from vpnctl.probe import report, spec, targets
from vpnctl.probe.health import Run
from vpnctl.probe.measure import Echo
from vpnctl.probe.report import Report, Target
from vpnctl.probe.session import Schedule
from vpnctl.topology import Failover, Probe


def test_far_ends_come_from_each_tunnel_config() -> None:
    cfg = config({"x--y": IPv4Address("169.254.1.2"), "x--z": IPv4Address("169.254.1.6")})
    assert health.far_ends(cfg) == {
        "x--y": IPv4Address("169.254.1.2"),
        "x--z": IPv4Address("169.254.1.6"),
    }


def test_a_tunnel_config_without_ifconfig_is_not_watched() -> None:
    cfg = Config.of({"openvpn/x--y.conf": b"dev tun\n", "openvpn/x--z.conf": b"ifconfig a b\n"})
    assert health.far_ends(cfg) == {}


def test_a_new_watch_is_undecided_and_publishes_no_state() -> None:
    w = health.Watch("tunnel", TUNNEL, FAR)
    good = Run(1.0, "OK", 0.0, 12.0, 5, 5)
    board, moved = health.advance({}, [(w, good)], Failover(), 10.0)
    assert not board[w.key].decided
    assert not board[w.key].up
    assert moved == ()


def test_a_tunnel_is_up_after_recovery_successes_good_runs() -> None:
    clock = Clock()
    sink = Sink()
    agent = loop(Net(clock), sink)
    agent.run(runs=Failover().recovery_successes - 1)
    assert sink.moved == []
    agent.run(runs=1)
    assert [(t.kind, t.name, t.state) for t in sink.moved] == [("tunnel", TUNNEL, "UP")]


def test_a_hung_far_end_is_down_within_consecutive_failures_runs_with_one_event() -> None:
    clock = Clock()
    hung = {"now": False}
    sink = Sink()
    agent = loop(Net(clock, lambda _a, _n: not hung["now"]), sink)
    agent.run(runs=10)
    assert [t.state for t in sink.moved] == ["UP"]
    hung["now"] = True
    failures = Failover().consecutive_failures
    for run in range(1, failures + 1):
        agent.run(runs=1)
        assert (agent.board[f"tunnel:{TUNNEL}"].health.state == "DOWN") == (run == failures)
    agent.run(runs=50)
    assert [t.state for t in sink.moved] == ["UP", "DOWN"]


def test_random_loss_below_the_threshold_moves_nothing() -> None:
    """5% of echoes lost (the threshold is 10%), runs of 5 for over half an hour."""
    rng = random.Random(13)
    clock = Clock()
    sink = Sink()
    agent = loop(Net(clock, lambda _a, _n: rng.random() >= 0.05), sink)
    agent.run(runs=2000)
    assert [t.state for t in sink.moved] == ["UP"]


def test_loss_well_above_the_threshold_is_down() -> None:
    rng = random.Random(7)
    clock = Clock()
    sink = Sink()
    agent = loop(Net(clock, lambda _a, n: n < 100 or rng.random() >= 0.5), sink)
    agent.run(runs=200)
    assert [t.state for t in sink.moved] == ["UP", "DOWN"]


def test_ready_is_said_once_when_converged_and_every_tunnel_is_up() -> None:
    clock = Clock()
    sink = Sink()
    agent = loop(Net(clock), sink)
    agent.run(runs=Failover().recovery_successes - 1)
    assert sink.readies == []
    agent.run(runs=30)
    assert sink.readies == [config().digest]


def test_not_converged_is_not_ready() -> None:
    sink = Sink()
    loop(Net(Clock()), sink, converged=False).run(runs=30)
    assert sink.readies == []
    assert [t.state for t in sink.moved] == ["UP"]


def test_a_silent_sibling_goes_down_and_its_replacement_starts_undecided() -> None:
    clock = Clock()
    sink = Sink()
    dead = {IPv4Address("10.64.0.20")}
    found = {"gw-a-b": SIBLING}
    agent = loop(Net(clock, lambda a, n: a not in dead or n < 60), sink, siblings=found)
    agent.run(runs=30)
    assert [(t.kind, t.state) for t in sink.moved if t.kind == "sibling"] == [
        ("sibling", "UP"),
        ("sibling", "DOWN"),
    ]
    found["gw-a-b"] = IPv4Address("10.64.0.21")  # the group launched a replacement
    agent.run(runs=int(health.REFIND_LOST_S))  # a DOWN sibling is looked up again this soon
    replaced = agent.board["sibling:gw-a-b"]
    assert replaced.watch.address == IPv4Address("10.64.0.21")
    assert not replaced.decided
    assert len(replaced.health.runs) < Failover().recovery_successes


def test_a_finder_that_fails_keeps_the_probes_running() -> None:
    clock = Clock()
    sink = Sink()
    agent = loop(Net(clock), sink, siblings={"gw-a-b": SIBLING})

    def broken(_names: object) -> dict[str, IPv4Address]:
        raise RuntimeError("DescribeInstances: throttled")

    agent.find = broken
    agent.run(runs=10)
    assert sink.ticks == 10


def test_nothing_to_measure_idles_instead_of_spinning() -> None:
    clock = Clock()
    net = Net(clock)
    agent = health.Loop(net, Sink(), lambda _n: {}, net_schedule(), clock, clock.sleep)
    start = clock.now
    agent.run(runs=3)
    assert net.runs == 0
    assert clock.now - start == 3 * health.IDLE_S


def net_schedule() -> Schedule:
    return Schedule(5, 200)


def test_siblings_are_the_other_gateways_of_the_vpc_and_round_trip_in_the_plan() -> None:
    from tests.unit.probe.test_targets import Design, Gateway

    design = Design(
        (Gateway("gw-a-a", "a"), Gateway("gw-a-b", "a"), Gateway("gw-a-c", "a"),
         Gateway("gw-b-a", "b")),
        (),
    )  # fmt: skip
    assert targets.siblings(design, "gw-a-b") == ("gw-a-a", "gw-a-c")
    assert targets.siblings(design, "gw-b-a") == ()
    made = spec.for_gateway("t", "gw-a-b", health_probe(), Failover(), (), ("gw-a-a", "gw-a-c"))
    assert spec.loads(spec.dumps(made), "probe.json") == made
    without = spec.for_gateway("t", "gw-b-a", health_probe(), Failover(), ())
    assert "siblings" not in spec.dumps(without)


def health_probe() -> Probe:
    return Probe()


def test_a_hang_is_down_within_seconds_through_the_real_session() -> None:
    """The real prober and session on a fake network: 30 ms answers until the far end hangs.
    With the agent's defaults (runs of 5 echoes 200 ms apart, lost after the critical 600 ms)
    a silent run lasts 1.4 s, so DOWN comes ``consecutive_failures`` such runs after the hang,
    plus the run it fell into."""
    from tests.unit.probe.fakes import FakeClock, FakeNetwork
    from vpnctl.probe import prober

    clock = FakeClock()
    hang_at = clock.now + 20.0
    net = FakeNetwork(clock, lambda _a, _s: () if clock.now >= hang_at else (0.03,))
    plan_ = healthfakes.plan()
    schedule = Schedule(5, 200, plan_.probe.crit.rtt_ms)

    def measure(targets: Sequence[Target], sched: Schedule) -> Report:
        crit = plan_.probe.crit
        return prober.probe(targets, sched, plan_.probe.warn, crit, opener=lambda _c: net,
                            clock=clock, wall=clock)  # fmt: skip

    sink = Sink()
    agent = health.Loop(measure, sink, lambda _n: {}, schedule, clock, lambda _s: None)
    cfg = config()
    agent.update(health.Converged(cfg.digest, True, cfg), plan_)
    agent.run(stop=lambda: len(sink.moved) >= 2 or clock.now > hang_at + 60)
    down = [t for t in sink.moved if t.state == "DOWN"]
    assert [t.state for t in sink.moved] == ["UP", "DOWN"]
    runs = Failover().consecutive_failures + 1
    assert down[0].at - hang_at <= runs * (0.8 + 0.6)
    assert clock.now - hang_at <= runs * (0.8 + 0.6) + 0.01  # when the event is sent


class Timed:
    """A far end in real time, for the overlapping loop: each run lasts what a real one would
    (echoes ``interval`` apart, the last one waited on for ``timeout`` when unanswered) and is
    answered until ``hang_at``. Records when each run began and ended."""

    def __init__(self, hang_at: float = float("inf")) -> None:
        self.hang_at = hang_at
        self.spans: list[tuple[float, float]] = []

    def __call__(self, targets: Sequence[Target], schedule: Schedule) -> Report:
        began = time.time()
        rows = []
        for _target in targets:
            row = []
            for seq in range(schedule.count):
                sent = began + seq * schedule.interval_ms / 1000
                row.append(Echo(seq, sent, sent, 1.0 if sent < self.hang_at else None))
            rows.append(row)
        answered = all(e.rtt_ms is not None for row in rows for e in row)
        tail = 0.001 if answered else schedule.timeout_ms / 1000
        time.sleep((schedule.count - 1) * schedule.interval_ms / 1000 + tail)
        self.spans.append((began, time.time()))
        results, lag = report.measured(targets, rows, Probe().warn, Probe().crit)
        return Report(results, Probe().warn, Probe().crit, began, "fake", lag)


def streamed(net: Timed, sink: Sink, schedule: Schedule) -> health.Loop:
    made = health.Loop(net, sink, lambda _n: {}, schedule, clock=time.time, sleep=time.sleep)
    cfg = config()
    made.update(health.Converged(cfg.digest, True, cfg), healthfakes.plan())
    return made


def test_streamed_runs_overlap_so_echoes_leave_without_a_gap() -> None:
    """Silent runs last ``(count - 1) * interval + timeout``; streamed, one begins every
    ``count * interval`` instead, at most two are in flight, and they are judged in order."""
    schedule = Schedule(5, 20, 60)  # a silent run: 80 ms of echoes, then 60 ms of waiting
    net, sink = Timed(hang_at=0.0), Sink()
    deadline = time.time() + 1.5
    streamed(net, sink, schedule).stream(stop=lambda: time.time() > deadline)
    starts = [b for b, _ in net.spans]
    gaps = sorted(b - a for a, b in itertools.pairwise(starts))
    assert len(starts) >= 10
    assert 0.095 <= gaps[len(gaps) // 2] < 0.14  # one send phase apart, not one whole run
    flying = max(sum(b <= t < e for b, e in net.spans) for t in starts)
    assert flying == 2
    assert sink.ticks == len(net.spans)  # every run judged, the last ones too


class Clocked(Sink):
    """Also notes when, in real time, each transition was handed over."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[tuple[str, float]] = []

    def tick(
        self, report: Report, board: health.Board, moved: Sequence[health.Transition], now: float
    ) -> None:
        super().tick(report, board, moved, now)
        self.told += [(t.state, time.time()) for t in moved]


def test_a_hang_is_down_one_timeout_after_consecutive_failures_send_phases() -> None:
    """With overlapping runs a far end that falls silent is DOWN within ``consecutive_failures``
    send phases, plus the one it fell into and the last echo's timeout; whole runs one after
    the other would take ``consecutive_failures + 1`` runs of send phase and timeout."""
    schedule = Schedule(5, 100, 300)  # send phase 0.5 s; a silent run 0.7 s
    hang_at = time.time() + 3.0  # UP first: recovery_successes good runs
    net, sink = Timed(hang_at), Clocked()
    streamed(net, sink, schedule).stream(
        stop=lambda: len(sink.told) >= 2 or time.time() > hang_at + 8
    )
    assert [state for state, _ in sink.told] == ["UP", "DOWN"]
    took = sink.told[1][1] - hang_at
    runs = Failover().consecutive_failures + 1
    assert took < runs * (0.4 + 0.3)  # 2.8 s: whole runs in a row; streamed, about 2.3 s
