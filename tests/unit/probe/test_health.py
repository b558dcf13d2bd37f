import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpnctl.probe.health import HISTORY, Health, Run, StateError, Store, step, wilson_lower
from vpnctl.topology import Failover

POLICY = Failover(consecutive_failures=3, recovery_successes=5)


def runs(statuses: str, health: Health | None = None) -> Health:
    """Feed runs: C critical, O ok, W warning, U unknown."""
    names = {"C": "CRITICAL", "O": "OK", "W": "WARNING", "U": "UNKNOWN"}
    health = health or Health()
    for at, code in enumerate(statuses):
        health = step(health, Run(float(at), names[code], None, None), POLICY)
    return health


def test_starts_up_and_survives_fewer_failures_than_the_threshold() -> None:
    assert runs("CC").state == "UP"
    assert runs("CC").failures == 2


def test_down_after_consecutive_failures() -> None:
    health = runs("OCCC")
    assert health.state == "DOWN"
    assert health.since == 3.0


def test_a_good_run_resets_the_failure_streak() -> None:
    assert runs("CCOCC").state == "UP"


def test_up_again_only_after_the_stricter_streak() -> None:
    assert runs("CCC" + "OOOO").state == "DOWN"
    assert runs("CCC" + "OOOOO").state == "UP"
    assert runs("CCC" + "OOOOCOOOO").state == "DOWN"  # a flap restarts the count


def test_warning_counts_as_good_and_unknown_as_neither() -> None:
    assert runs("CCC" + "WWWWW").state == "UP"
    assert runs("CC" + "U" + "C").state == "DOWN"  # unknown does not break the streak
    assert runs("CC" + "UUUU").failures == 2


def test_history_is_bounded() -> None:
    assert len(runs("O" * (HISTORY + 10)).runs) == HISTORY


@given(st.text(alphabet="COWU", max_size=40))
def test_state_is_whichever_streak_completed_last(statuses: str) -> None:
    """An independent definition: DOWN iff 3 failures in a row completed after the last time
    5 good runs in a row did (unknown runs ignored)."""
    seen = statuses.replace("U", "")
    downs = [i for i in range(len(seen)) if seen[max(0, i - 2) : i + 1] == "CCC"]
    ups = [i for i in range(len(seen)) if i >= 4 and set(seen[i - 4 : i + 1]) <= {"O", "W"}]
    expected = "DOWN" if max(downs, default=-1) > max(ups, default=-1) else "UP"
    assert runs(statuses).state == expected


def test_store_round_trips(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.json")
    assert store.load() == {}
    saved = {"l|g|10.0.0.1": runs("CCC"), "-|-|10.0.0.2": runs("O")}
    with store.locked():
        store.save(saved)
    assert store.load() == saved
    assert list(tmp_path.iterdir()) != []
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"format_version": 99, "targets": {}}',
        '{"format_version": 1, "targets": {"k": {"state": "SIDEWAYS"}}}',
    ],
)
def test_store_refuses_what_it_did_not_write(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(StateError, match="move it aside"):
        Store(path).load()


def test_store_file_is_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    Store(path).save({"k": runs("C")})
    document = json.loads(path.read_text())
    assert document["format_version"] == 1
    assert document["targets"]["k"]["failures"] == 1


# ------------------------------------------------------------------ sound for the sample size

LIMIT = 10.0  # the critical loss, %


def lossy_runs(loss_per_direction: float, count: int, echoes: int = 20, seed: int = 7) -> Health:
    """``count`` runs of ``echoes`` echoes over a path losing each way at random."""
    rng = random.Random(seed)
    health = Health()
    for at in range(count):
        received = sum(
            rng.random() >= loss_per_direction and rng.random() >= loss_per_direction
            for _ in range(echoes)
        )
        loss = 100.0 * (echoes - received) / echoes
        status = "CRITICAL" if received == 0 or loss >= LIMIT else "OK"
        run = Run(float(at), status, loss, 50.0 if received else None, echoes, received)
        health = step(health, run, POLICY, LIMIT)
        assert health.state == "UP", f"DOWN at run {at} under {loss_per_direction:.0%} loss"
    return health


@pytest.mark.parametrize("loss", [0.01, 0.03, 0.04, 0.05])
@pytest.mark.parametrize("seed", range(5))
def test_random_loss_below_the_threshold_never_goes_down(loss: float, seed: int) -> None:
    """Ten minutes of runs at one a second, each 20 echoes; 5% each way is 9.75% a round trip."""
    lossy_runs(loss, 600, seed=seed)


def counted(at: float, sent: int, received: int, slow: bool = False) -> Run:
    loss = 100.0 * (sent - received) / sent
    status = "CRITICAL" if received == 0 or slow or loss >= LIMIT else "OK"
    return Run(at, status, loss, None if received == 0 else 20.0, sent, received, slow)


def test_a_silent_tunnel_is_down_after_the_failure_streak() -> None:
    health = Health()
    states = []
    for at in range(4):
        health = step(health, counted(float(at), 20, 0), POLICY, LIMIT)
        states.append(health.state)
    assert states == ["UP", "UP", "DOWN", "DOWN"]


def test_a_slow_tunnel_is_down_after_the_failure_streak() -> None:
    health = Health()
    for at in range(3):
        health = step(health, counted(float(at), 20, 20, slow=True), POLICY, LIMIT)
    assert health.state == "DOWN"


def test_loss_well_above_the_threshold_goes_down_within_a_few_runs() -> None:
    health, at = Health(), 0
    while health.state == "UP":
        health = step(health, counted(float(at), 20, 10), POLICY, LIMIT)  # 50% loss
        at += 1
    assert at == POLICY.consecutive_failures


def test_one_unlucky_run_is_not_evidence() -> None:
    health = step(Health(), counted(0.0, 20, 17), POLICY, LIMIT)  # 15% in one run of 20
    assert health.failures == 0


def test_recovery_needs_runs_below_the_threshold_each() -> None:
    health = Health()
    for at in range(3):
        health = step(health, counted(float(at), 20, 0), POLICY, LIMIT)
    for at in range(3, 7):
        health = step(health, counted(float(at), 20, 20), POLICY, LIMIT)
    health = step(health, counted(7.0, 20, 16), POLICY, LIMIT)  # 20%: no good run
    assert (health.state, health.successes) == ("DOWN", 0)
    for at in range(8, 13):
        health = step(health, counted(float(at), 20, 20), POLICY, LIMIT)
    assert health.state == "UP"


@given(st.integers(0, 400), st.integers(1, 400))
def test_the_wilson_bound_is_below_the_observed_loss(lost: int, sent: int) -> None:
    lost = min(lost, sent)
    assert 0.0 <= wilson_lower(lost, sent) <= lost / sent + 1e-12
