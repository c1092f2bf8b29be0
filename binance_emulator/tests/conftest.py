"""What the emulator's tests share: one emulator per test module, with an API key, and the same
emulator reset for each test that asks for ``fresh``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from binance_emulator.process import EmulatorProcess
from binance_emulator.tests.test_emulator_orders import KEY, SECRET


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(api_key=KEY, api_secret=SECRET, seed=0) as emu:
        yield emu


@pytest.fixture()
def fresh(emulator: EmulatorProcess) -> EmulatorProcess:
    """The shared emulator with stats, weights, faults, clock skew, revisions and outages cleared."""
    emulator.reset()
    return emulator
