"""Retries against the emulator's injected faults: transient failures are waited out as Binance
says, a ban stops the run at once with its end time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from dagster import DagsterInstance

from binance_assets_tests.runs import failure_messages, lake_resources, run_hours, node
from binance_emulator.process import EmulatorProcess

HOUR = "2025-01-01-00:00"
KLINES = "/api/v3/klines"


@pytest.fixture
def faulty_emulator() -> Iterator[EmulatorProcess]:
    """An emulator of our own, so injected faults and stats concern this test only."""
    with EmulatorProcess() as process:
        yield process


def retry_warnings(instance: DagsterInstance, run_id: str) -> list[str]:
    return [
        entry.user_message
        for entry in instance.all_logs(run_id)
        if entry.dagster_event is None and "retrying in" in entry.user_message
    ]


def test_429_and_503_are_retried_waiting_as_told(faulty_emulator: EmulatorProcess, lake: str) -> None:
    faulty_emulator.set_faults(
        [
            {"kind": "429", "path": KLINES, "count": 2, "retry_after": 1},
            {"kind": "5xx", "path": KLINES, "count": 1, "status": 503},
            {"kind": "5xx", "path": KLINES, "count": 1, "status": 502, "body": "html"},
        ]
    )
    resources = lake_resources(lake, faulty_emulator.url, backoff_seconds=0.05)
    instance = DagsterInstance.ephemeral()

    started = time.monotonic()
    result = run_hours(resources, HOUR, instance=instance)
    elapsed = time.monotonic() - started

    assert result.success, failure_messages(result)
    warnings = retry_warnings(instance, result.run_id)
    assert len(warnings) == 4, warnings
    assert sum("HTTP 429 rate limited, Retry-After 1.0" in w for w in warnings) == 2
    assert any("HTTP 503" in w for w in warnings)
    assert any("HTTP 502" in w for w in warnings)
    assert elapsed >= 2.0, "two 429s with Retry-After 1 must wait at least two seconds"

    stats = faulty_emulator.stats()
    assert stats["status_429"] == 2
    assert stats["statuses"]["503"] == 1 and stats["statuses"]["502"] == 1
    assert stats["requests"][KLINES] == 5
    metadata = result.asset_materializations_for_node(node("raw_candles"))[0].metadata
    assert metadata["binance_retries"].value == 4
    assert metadata["dagster/row_count"].value == 60


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "drop"},
        {"kind": "truncate"},
        {"kind": "html", "status": 200},
        {"kind": "slow", "seconds": 1.5},
    ],
    ids=lambda fault: fault["kind"],
)
def test_broken_connections_and_answers_are_retried(
    faulty_emulator: EmulatorProcess, lake: str, fault: dict
) -> None:
    """Dropped connections, cut or non-JSON bodies and timeouts are transient too."""
    faulty_emulator.set_faults([{**fault, "path": KLINES, "count": 1}])
    resources = lake_resources(lake, faulty_emulator.url, backoff_seconds=0.05, timeout_seconds=0.5)
    instance = DagsterInstance.ephemeral()

    result = run_hours(resources, HOUR, instance=instance)

    assert result.success, failure_messages(result)
    assert len(retry_warnings(instance, result.run_id)) == 1
    assert faulty_emulator.faults()["faults"] == [], "the fault was served"


def test_a_ban_fails_fast_with_its_end(faulty_emulator: EmulatorProcess, lake: str) -> None:
    faulty_emulator.set_faults([{"kind": "418", "path": KLINES, "retry_after": 300}])
    resources = lake_resources(lake, faulty_emulator.url, backoff_seconds=5)

    started = time.monotonic()
    result = run_hours(resources, HOUR)
    elapsed = time.monotonic() - started

    assert not result.success
    message = failure_messages(result)
    assert "Binance banned this IP" in message and "banned until" in message
    assert "Retry-After 300s" in message
    assert faulty_emulator.stats()["requests"][KLINES] == 1, "a ban must never be retried"
    assert elapsed < 10, "a ban must not wait out backoffs"


def test_persistent_failures_give_up_after_max_attempts(
    faulty_emulator: EmulatorProcess, lake: str
) -> None:
    faulty_emulator.set_faults([{"kind": "5xx", "path": KLINES, "status": 503}])
    resources = lake_resources(lake, faulty_emulator.url, backoff_seconds=0.01, max_attempts=3)

    result = run_hours(resources, HOUR)

    assert not result.success
    assert "failed 3 times; last cause: HTTP 503" in failure_messages(result)
    assert faulty_emulator.stats()["requests"][KLINES] == 3
