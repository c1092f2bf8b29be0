"""Jobs, schedules and the daily tables' automation: per dataset a job over every pair's raw and
cooked assets (each pair in steps of its own, so a failing pair holds no other back), its hourly
and near-real-time schedules, and ``daily_tables``, the sensor of ``assets.daily.DAY_READY``.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from dagster import (
    AssetSelection, AutomationConditionSensorDefinition, DefaultScheduleStatus, DefaultSensorStatus,
    HourlyPartitionsDefinition, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, SkipReason,
    define_asset_job, schedule,
)

from binance_assets.assets.pair import DatasetAssets
from binance_assets.datasets.contract import Dataset
from binance_assets.partitions import HOUR, partition_key, since_first

AssetJob = Any  # what define_asset_job returns (Dagster does not export its class name)

# Dagster's run retries (deploy/dagster.yaml): from the failed step, once the request retries gave up.
RUN_RETRY_TAGS = {"dagster/max_retries": "2", "dagster/retry_strategy": "FROM_FAILURE"}
HOURLY_CRON = "5 * * * *"
NEAR_REAL_TIME_CRON = "*/5 * * * *"


def dataset_job(dataset: Dataset, pairs: Sequence[DatasetAssets]) -> AssetJob:
    return define_asset_job(
        name=f"{dataset.name}_job", selection=AssetSelection.assets(*[a for pair in pairs for a in (pair.raw, pair.cooked)]),
        tags=RUN_RETRY_TAGS, description=f"Every pair's raw {dataset.name} → {dataset.name} and its checks.",
    )


def current_hour(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def last_closed_hour(moment: datetime) -> datetime:
    return current_hour(moment) - HOUR


def hour_request(hour: datetime, run_key: str, hours: HourlyPartitionsDefinition) -> RunRequest | SkipReason:
    """A run for ``hour``'s partition, or a skip when the hour precedes the first partition."""
    key = partition_key(hour)
    if not since_first(hours, [key]):
        return SkipReason(f"{key} is before BINANCE_START_DATE ({hours.get_first_partition_key()})")
    return RunRequest(run_key=run_key, partition_key=key)


def hour_schedule(
    job: AssetJob, hours: HourlyPartitionsDefinition, name: str, cron: str,
    pick_hour: Callable[[datetime], datetime], status: DefaultScheduleStatus, description: str,
) -> ScheduleDefinition:
    """Runs ``job`` for the hour ``pick_hour`` chooses from the tick's time, the host's: an hour
    Binance has not closed yet is stored open and healed by ``heal_hours``."""

    @schedule(name=name, job=job, cron_schedule=cron, execution_timezone="UTC", default_status=status,
              description=description)
    def _schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        tick = context.scheduled_execution_time
        return hour_request(pick_hour(tick), f"{name}:{tick:%Y-%m-%dT%H:%M}", hours)

    return _schedule


def dataset_schedules(
    job: AssetJob, hours: HourlyPartitionsDefinition, dataset: Dataset, running: bool
) -> list[ScheduleDefinition]:
    status = DefaultScheduleStatus.RUNNING if running else DefaultScheduleStatus.STOPPED
    name = dataset.name
    return [
        hour_schedule(job, hours, f"{name}_hourly", HOURLY_CRON, last_closed_hour, status,
                      f"At :05 UTC, every pair's {name} of the hour that just closed, with _SUCCESS."),
        hour_schedule(job, hours, f"{name}_near_real_time", NEAR_REAL_TIME_CRON, current_hour, status,
                      f"Every 5 minutes, every pair's {name} of the open hour so far (no _SUCCESS yet)."),
    ]


def daily_tables(pairs: Sequence[DatasetAssets]) -> AutomationConditionSensorDefinition:
    return AutomationConditionSensorDefinition(
        "daily_tables", target=AssetSelection.assets(*[pair.daily for pair in pairs]), default_status=DefaultSensorStatus.RUNNING,
        description="Builds each pair's day in the Iceberg tables once its 24 hours are complete and "
        "passed their blocking checks, and rebuilds it when one of them is re-materialized.",
    )
