from ipaddress import IPv4Address

from tests.unit.probe.fakes import CRIT, WARN, FakeClock, FakeNetwork
from vpnctl.probe import prober
from vpnctl.probe.report import Target
from vpnctl.probe.session import Schedule
from vpnctl.probe.transport import TransportUnavailable
from vpnctl.probe.verdict import Status

TARGETS = [Target(IPv4Address("10.0.0.1")), Target(IPv4Address("10.0.0.2"))]


def test_probe_judges_each_target_and_closes_the_socket(clock: FakeClock) -> None:
    net = FakeNetwork(clock, lambda a, _s: (0.7,) if a == IPv4Address("10.0.0.2") else (0.01,))
    rep = prober.probe(
        TARGETS,
        Schedule(3, 10, 1000),
        WARN,
        CRIT,
        opener=lambda _c: net,
        clock=clock,
        wall=lambda: 5.0,
    )
    assert [r.status for r in rep.results] == [Status.OK, Status.CRITICAL]
    assert (rep.transport, rep.started_at, net.closed) == ("fake", 5.0, True)
    assert rep.lag is not None


def test_no_socket_is_unknown_not_down(clock: FakeClock) -> None:
    def opener(_clock: object) -> FakeNetwork:
        raise TransportUnavailable("cannot open an ICMP socket")

    rep = prober.probe(TARGETS, Schedule(3, 10, 1000), WARN, CRIT, opener=opener, clock=clock)
    assert rep.status is Status.UNKNOWN
    assert rep.transport is None
    assert all(r.reason == "cannot open an ICMP socket" for r in rep.results)
