"""Soak: repeated runs over random ranges under a seeded random mix of faults, for a bounded time;
afterwards the raw and cooked zones equal a clean run's byte for byte, and every failed run left
exactly one quarantined response."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from binance_assets.partitions import HOUR, partition_hour, partition_key
from binance_assets_tests.lake_backends import LakeUnderTest, clean_lake_files
from binance_assets_tests.runs import ALL_ASSETS, API_KEY, API_SECRET, failure_messages, run_hours
from binance_emulator.process import EmulatorProcess

SEED = 20250101
SOAK_SECONDS = 20  # per lake backend: the whole reliability suite stays within 3 minutes
FIRST, LAST = "2025-01-01-00:00", "2025-01-01-05:00"
PATHS = ("/api/v3/klines", "/api/v3/allOrders")
TRANSIENT = [
    {"kind": "5xx", "status": 503},
    {"kind": "5xx", "status": 502, "body": "html"},
    {"kind": "html", "status": 200},
    {"kind": "drop"},
    {"kind": "slow", "seconds": 1.5},
    {"kind": "truncate"},
]
MALFORMED = [
    {"kind": "missing_field"},
    {"kind": "bad_number"},
    {"kind": "wrong_field_count", "path": PATHS[0]},
    {"kind": "outside_window", "path": PATHS[0]},
]
MALFORMED_SHARE = 0.3


@pytest.fixture(scope="module")
def soaked() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET) as process:
        yield process


def random_faults(rng: random.Random, malformed: bool) -> list[dict]:
    """One to three transient faults, each once on a random endpoint (never enough to exhaust the
    six attempts of a request), plus sometimes one malformed answer."""
    faults = [{"path": rng.choice(PATHS), **rng.choice(TRANSIENT), "count": 1} for _ in range(rng.randint(1, 3))]
    if malformed:
        faults.append({"path": rng.choice(PATHS), **rng.choice(MALFORMED), "count": 1})
    return faults


def random_range(rng: random.Random) -> tuple[str, str]:
    hours = int((partition_hour(LAST) - partition_hour(FIRST)) / HOUR) + 1
    first = rng.randrange(hours)
    last = rng.randrange(first, hours)
    return partition_key(partition_hour(FIRST) + first * HOUR), partition_key(partition_hour(FIRST) + last * HOUR)


def test_lake_equals_a_clean_run_after_soaking_in_faults(
    soaked: EmulatorProcess, any_lake: LakeUnderTest, tmp_path
) -> None:
    clean = clean_lake_files(tmp_path / "clean", soaked.url, FIRST, LAST)
    rng = random.Random(SEED)
    failed_runs = 0
    deadline = time.monotonic() + SOAK_SECONDS
    while time.monotonic() < deadline:
        soaked.set_faults(random_faults(rng, malformed=rng.random() < MALFORMED_SHARE))
        result = run_hours(any_lake.resources(soaked.url), *random_range(rng), assets=ALL_ASSETS, refetch=True)
        if not result.success:
            assert "the answer is kept at" in failure_messages(result), failure_messages(result)
            failed_runs += 1

    soaked.set_faults(random_faults(rng, malformed=False))
    final = run_hours(any_lake.resources(soaked.url), FIRST, LAST, assets=ALL_ASSETS, refetch=True)

    assert final.success, failure_messages(final)
    assert failed_runs, "the soak must have met malformed answers"
    files = any_lake.files()
    quarantined = [key for key in files if key.startswith("quarantine/")]
    assert len(quarantined) == failed_runs
    kept = {key: data for key, data in files.items() if key not in quarantined}
    assert sorted(kept) == sorted(clean)
    assert [key for key in clean if kept[key] != clean[key]] == []
