import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpnctl.probe.health import HISTORY, Health, Run, StateError, Store, step
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
