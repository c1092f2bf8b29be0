"""Jobs and schedules: the hourly batch and the near-real-time refresh, per dataset.

Candles and orders have jobs and schedules of their own, so a deployment without an API key
still gets its candles on time and never sees a run fail for missing credentials; an orders
failure (a revoked key, say) never holds candles back either.

Every job covers a dataset's whole graph (raw asset, cooked asset and its checks) and has two
schedules:

* ``*_hourly`` at five past each hour (UTC) materializes the hour that just closed: the raw zone
  gets its final rows and ``_SUCCESS``, the cooked table is rebuilt from them.
* ``*_near_real_time`` every five minutes refreshes the still-open current hour (a partition
  thanks to ``end_offset=1``); the raw hour is written without ``_SUCCESS`` until the hourly run
  completes it.

Candle schedules ship running: collecting candles unattended is what a deployment is for, and
they need no secret. Orders schedules ship running only when ``BINANCE_API_KEY`` and
``BINANCE_API_SECRET`` are set where the code location loads, else stopped (they would only fail).
A state set in the UI overrides the default and is kept in the instance across deploys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    HourlyPartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from binance_assets.assets.pair import DatasetAssets
from binance_assets.partitions import HOUR, partition_hour, partition_key

# What define_asset_job returns (a job resolved when the Definitions load; Dagster does not export
# its class name).
AssetJob = Any

# Dagster's run retries (enabled in deploy/dagster.yaml) re-execute a failed run from the failed
# step, after the resource's own retries of single requests have given up.
RUN_RETRY_TAGS = {"dagster/max_retries": "2", "dagster/retry_strategy": "FROM_FAILURE"}
HOURLY_CRON = "5 * * * *"
NEAR_REAL_TIME_CRON = "*/5 * * * *"


def dataset_job(dataset: str, pairs: Sequence[DatasetAssets]) -> AssetJob:
    """One dataset's raw and cooked assets with their checks, for every pair: each pair's assets
    are steps of their own, so a failing pair never holds another back."""
    selection = AssetSelection.assets(*[a for pair in pairs for a in (pair.raw, pair.cooked)])
    return define_asset_job(
        name=f"{dataset}_job",
        selection=selection,
        tags=RUN_RETRY_TAGS,
        description=f"Every pair's raw {dataset} → {dataset} and its checks.",
    )


def last_closed_hour(moment: datetime) -> datetime:
    """The hour that ended most recently at ``moment``."""
    return current_hour(moment) - HOUR


def current_hour(moment: datetime) -> datetime:
    """The still-open hour ``moment`` falls in."""
    return moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def hour_request(hour: datetime, run_key: str, hours: HourlyPartitionsDefinition) -> RunRequest | SkipReason:
    """A run for ``hour``'s partition, or a skip when the hour precedes the first partition."""
    key = partition_key(hour)
    first = hours.get_first_partition_key()
    if first is None or hour < partition_hour(first):
        return SkipReason(f"{key} is before BINANCE_START_DATE ({first})")
    return RunRequest(run_key=run_key, partition_key=key)


def hour_schedule(
    job: AssetJob,
    hours: HourlyPartitionsDefinition,
    name: str,
    cron: str,
    pick_hour: Callable[[datetime], datetime],
    default_status: DefaultScheduleStatus,
    description: str,
) -> ScheduleDefinition:
    """A schedule that runs ``job`` for the hour ``pick_hour`` chooses from the tick's time."""

    @schedule(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=default_status,
        description=description,
    )
    def _schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        tick = context.scheduled_execution_time
        return hour_request(pick_hour(tick), f"{name}:{tick:%Y-%m-%dT%H:%M}", hours)

    return _schedule


def dataset_schedules(
    job: AssetJob, hours: HourlyPartitionsDefinition, dataset: str, default_status: DefaultScheduleStatus
) -> list[ScheduleDefinition]:
    """The hourly batch and the near-real-time refresh of one dataset, all pairs."""
    return [
        hour_schedule(
            job, hours, f"{dataset}_hourly", HOURLY_CRON, last_closed_hour, default_status,
            f"At :05 UTC, every pair's {dataset} of the hour that just closed, with _SUCCESS.",
        ),
        hour_schedule(
            job, hours, f"{dataset}_near_real_time", NEAR_REAL_TIME_CRON, current_hour, default_status,
            f"Every 5 minutes, every pair's {dataset} of the open hour so far (no _SUCCESS yet).",
        ),
    ]


def orders_default_status(credentials: bool) -> DefaultScheduleStatus:
    """Running when credentials are configured, else stopped: without them every run would fail."""
    return DefaultScheduleStatus.RUNNING if credentials else DefaultScheduleStatus.STOPPED
