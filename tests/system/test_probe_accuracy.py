"""The probe against injected loss and delay, and against fping, in network namespaces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.system import netns
from tests.system.netns import Namespace
from tests.system.probe_helpers import (
    binomial_interval,
    delayed_echo,
    fping,
    probe,
    probe_text,
    sampled_twice,
)

pytestmark = pytest.mark.needs("root", "netns", "nft")


@pytest.fixture
def path() -> Iterator[tuple[Namespace, Namespace]]:
    with netns.pair() as (near, far):
        yield near, far


@pytest.fixture(params=["raw", "dgram"])
def prober(request: pytest.FixtureRequest, path: tuple[Namespace, Namespace]) -> Namespace:
    """The near namespace, with a raw socket or an unprivileged datagram socket allowed."""
    near, _far = path
    if request.param == "dgram":
        near.run("sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
    return near


def entry(ns: Namespace, *args: str) -> dict[str, Any]:
    status, document = probe(ns, *args)
    assert status == 0, document
    (result,) = document["results"]
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize("loss", [0, 5, 20])
def test_loss_within_the_binomial_interval(
    loss: int, prober: Namespace, path: tuple[Namespace, Namespace]
) -> None:
    _near, far = path
    count = 400
    if loss:
        netns.drop_echo_requests(far, loss)
    args = ("--count", str(count), "--interval-ms", "2", "--timeout-ms", "300")
    lo, hi = binomial_interval(count, loss / 100)
    got = sampled_twice(
        lambda: entry(prober, "--target", far.address, *args),
        lambda got: lo <= got["loss_pct"] <= hi,
    )
    assert lo <= got["loss_pct"] <= hi, (loss, got)
    assert got["sent"] == count
    assert got["late"] == 0


def test_unreachable_is_all_lost_and_critical(prober: Namespace) -> None:
    status, document = probe(
        prober,
        "--target",
        "10.200.0.77",
        "--count",
        "5",
        "--interval-ms",
        "20",
        "--timeout-ms",
        "200",
    )
    (got,) = document["results"]
    assert (got["loss_pct"], got["status"], got["rtt_ms"]) == (100.0, "CRITICAL", None)
    status, text = probe_text(
        prober,
        "--target",
        "10.200.0.77",
        "--count",
        "3",
        "--interval-ms",
        "20",
        "--timeout-ms",
        "200",
        "--format",
        "nagios",
    )
    assert status == 2
    assert text.startswith("PROBE CRITICAL"), text


def test_late_answer_is_not_lost(path: tuple[Namespace, Namespace]) -> None:
    """Even echoes answered after 250 ms against a 200 ms timeout: late, not lost."""
    near, far = path
    args = ("--count", "10", "--interval-ms", "100", "--timeout-ms", "200")
    with delayed_echo(far, 1, even_delay_ms=250):
        got = entry(near, "--target", far.address, *args)
    assert (got["received"], got["late"], got["loss_pct"]) == (5, 5, 0.0), got
    assert got["rtt_ms"]["max"] == pytest.approx(250, abs=5)


@pytest.mark.parametrize("delay_ms", [20, 80])
def test_median_rtt_within_2ms_of_injected_delay(
    delay_ms: int, prober: Namespace, path: tuple[Namespace, Namespace]
) -> None:
    _near, far = path
    with delayed_echo(far, delay_ms):
        got = entry(
            prober,
            "--target",
            far.address,
            "--count",
            "30",
            "--interval-ms",
            "10",
            "--timeout-ms",
            "1000",
        )
    assert abs(got["rtt_ms"]["median"] - delay_ms) <= 2.0, got
    assert got["loss_pct"] == 0.0


@pytest.mark.needs("fping")
@pytest.mark.parametrize(("loss", "delay_ms"), [(0, None), (20, None), (0, 30), (5, 30)])
def test_agrees_with_fping(
    loss: int, delay_ms: int | None, path: tuple[Namespace, Namespace]
) -> None:
    near, far = path
    count = 200
    if loss:
        netns.drop_echo_requests(far, loss)
    args = (
        "--target",
        far.address,
        "--count",
        str(count),
        "--interval-ms",
        "5",
        "--timeout-ms",
        "500",
    )
    lo, hi = binomial_interval(count, loss / 100)
    with delayed_echo(far, delay_ms) if delay_ms else _nothing():
        ours, (their_loss, their_median) = sampled_twice(
            lambda: (entry(near, *args), fping(near, far.address, count, 5, 500)),
            lambda both: lo <= both[0]["loss_pct"] <= hi and lo <= both[1][0] <= hi,
        )
    assert lo <= ours["loss_pct"] <= hi, ours
    assert lo <= their_loss <= hi, their_loss
    assert their_median is not None
    assert abs(ours["rtt_ms"]["median"] - their_median) <= 1.0, (ours, their_median)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
