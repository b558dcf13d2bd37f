"""Fixtures for the probe's unit tests; the fakes themselves live in ``fakes.py``."""

import pytest

from tests.unit.probe.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
