"""Schedules evaluated at fixed times ask for the right hourly partitions of the right jobs."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from dagster import DefaultScheduleStatus, ScheduleDefinition, build_schedule_context

from binance_assets.definitions import build_definitions
from binance_assets.settings import Settings

PAIRS = ("BTCUSDT", "BTCUSDC")
defs = build_definitions(Settings.from_env({"BINANCE_SYMBOLS": ",".join(PAIRS)}))
REPOSITORY = defs.get_repository_def()


def by_name(name: str) -> ScheduleDefinition:
    return defs.get_schedule_def(name)


def tick(name: str, at: datetime):
    """What the daemon would get from the schedule's tick at ``at``."""
    context = build_schedule_context(scheduled_execution_time=at, repository_def=REPOSITORY)
    return by_name(name).evaluate_tick(context)


def requested_partitions(name: str, at: datetime) -> list[str]:
    data = tick(name, at)
    assert data.skip_message is None, data.skip_message
    return [request.partition_key for request in data.run_requests]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize("dataset", ["candles", "orders"])
@pytest.mark.parametrize(
    ("at", "partition"),
    [
        (utc(2025, 3, 10, 14, 5), "2025-03-10-13:00"),
        (utc(2025, 3, 11, 0, 5), "2025-03-10-23:00"),
        (utc(2025, 1, 1, 1, 5), "2025-01-01-00:00"),
    ],
)
def test_hourly_schedule_asks_for_the_hour_that_just_closed(
    dataset: str, at: datetime, partition: str
) -> None:
    assert requested_partitions(f"{dataset}_hourly", at) == [partition]


@pytest.mark.parametrize("dataset", ["candles", "orders"])
@pytest.mark.parametrize(
    ("at", "partition"),
    [
        (utc(2025, 3, 10, 14, 0), "2025-03-10-14:00"),
        (utc(2025, 3, 10, 14, 35), "2025-03-10-14:00"),
        (utc(2025, 3, 10, 23, 55), "2025-03-10-23:00"),
    ],
)
def test_near_real_time_schedule_asks_for_the_open_hour(
    dataset: str, at: datetime, partition: str
) -> None:
    assert requested_partitions(f"{dataset}_near_real_time", at) == [partition]


def test_the_open_hour_is_a_partition_of_the_job() -> None:
    """end_offset=1: the near-real-time run's partition exists at the time it is requested."""
    now = datetime.now(timezone.utc)
    key = requested_partitions("candles_near_real_time", now)[0]
    job = defs.resolve_job_def("candles_job")
    assert key in job.partitions_def.get_partition_keys(current_time=now)


def test_ticks_before_the_first_partition_skip() -> None:
    data = tick("candles_hourly", utc(2025, 1, 1, 0, 5))
    assert not data.run_requests
    assert "before BINANCE_START_DATE" in data.skip_message


def test_each_tick_has_its_own_run_key() -> None:
    """Two near-real-time ticks in one hour both run (a run key is launched only once)."""
    keys = {
        tick("candles_near_real_time", utc(2025, 3, 10, 14, minute)).run_requests[0].run_key
        for minute in (5, 10)
    }
    assert len(keys) == 2


def test_jobs_split_by_dataset_cover_every_pair_with_run_retries() -> None:
    """Candles never wait for (or fail with) orders, which need credentials; each pair's assets
    are steps of their own in the dataset's job."""
    for dataset in ("candles", "orders"):
        job = defs.resolve_job_def(f"{dataset}_job")
        selected = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
        assert selected == {f"{pair}/{name}" for pair in PAIRS for name in (f"raw_{dataset}", dataset)}
        assert len(job.asset_layer.asset_graph.asset_check_keys) >= 2 * len(PAIRS)  # valid and complete, at least
        assert job.tags["dagster/max_retries"] == "2"
    assert {s.job_name for s in defs.schedules} == {"candles_job", "orders_job"}


def test_default_states() -> None:
    """Candles run as soon as deployed; orders only when credentials are configured."""
    assert by_name("candles_hourly").default_status == DefaultScheduleStatus.RUNNING
    assert by_name("candles_near_real_time").default_status == DefaultScheduleStatus.RUNNING
    for environment, status in [
        ({}, DefaultScheduleStatus.STOPPED),
        ({"BINANCE_API_KEY": "k"}, DefaultScheduleStatus.STOPPED),
        ({"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s"}, DefaultScheduleStatus.RUNNING),
    ]:
        built = build_definitions(Settings.from_env(environment))
        assert built.get_schedule_def("orders_hourly").default_status == status
