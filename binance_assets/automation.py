"""Jobs, schedules and the sensors that keep the lake true.

Per dataset, a job over every pair's raw and cooked assets (each pair in steps of its own, so a
failing pair never holds another back) and two schedules: ``*_hourly`` at :05 UTC for the hour
that just closed, ``*_near_real_time`` every 5 minutes for the still-open hour. Candle schedules
ship running; orders schedules only when ``BINANCE_API_KEY`` and ``BINANCE_API_SECRET`` are set.

Sensors, all shipped running and acting on their first evaluation after the daemon starts:

* ``daily_tables`` — declarative automation of the daily assets (``assets.daily.DAY_READY``).
* ``heal_hours`` — every closed hour (by Binance's clock) of the look-back
  (``BINANCE_HEAL_LOOKBACK_HOURS``) that is not complete in the lake, or whose cooked hour is open,
  missing, or was left unchecked by a run that died, is materialized again: one run per pair and
  dataset for all of them. A schedule that ran while Binance's clock lagged, an interrupted run, a
  quarantined answer: each heals within a tick once Binance has the data.
* ``dead_runs`` — a run whose process died is marked failed (``run_process``).
"""


from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from dagster import (
    AssetPartitionStatus,
    AssetRecordsFilter,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    HourlyPartitionsDefinition,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from binance_assets import run_process
from binance_assets.assets.pair import DatasetAssets
from binance_assets.binance.client import BinanceResource
from binance_assets.datasets.contract import Dataset
from binance_assets.lake.resource import Lake
from binance_assets.lake.zones import Place
from binance_assets.partitions import HOUR, HOUR_MS, key_of_ms, partition_hour, partition_key
from binance_assets.settings import Settings

AssetJob = Any  # what define_asset_job returns (Dagster does not export its class name)

# Dagster's run retries (enabled in deploy/dagster.yaml) re-execute a failed run from the failed
# step, after the resource's own retries of single requests have given up.
RUN_RETRY_TAGS = {"dagster/max_retries": "2", "dagster/retry_strategy": "FROM_FAILURE"}
# How a run request names a single-run range of partitions (the CLI and the UI write the same).
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
HOURLY_CRON = "5 * * * *"
NEAR_REAL_TIME_CRON = "*/5 * * * *"
HEAL_INTERVAL_S = 120


def dataset_job(dataset: Dataset, pairs: Sequence[DatasetAssets]) -> AssetJob:
    """One dataset's raw and cooked assets (with the cooked table's checks), for every pair."""
    return define_asset_job(
        name=f"{dataset.name}_job",
        selection=AssetSelection.assets(*[a for pair in pairs for a in (pair.raw, pair.cooked)]),
        tags=RUN_RETRY_TAGS,
        description=f"Every pair's raw {dataset.name} → {dataset.name} and its checks.",
    )


def current_hour(moment: datetime) -> datetime:
    """The still-open hour ``moment`` falls in."""
    return moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def last_closed_hour(moment: datetime) -> datetime:
    """The hour that ended most recently at ``moment``."""
    return current_hour(moment) - HOUR


def hour_request(hour: datetime, run_key: str, hours: HourlyPartitionsDefinition) -> RunRequest | SkipReason:
    """A run for ``hour``'s partition, or a skip when the hour precedes the first partition."""
    key, first = partition_key(hour), hours.get_first_partition_key()
    if first is None or hour < partition_hour(first):
        return SkipReason(f"{key} is before BINANCE_START_DATE ({first})")
    return RunRequest(run_key=run_key, partition_key=key)


def hour_schedule(
    job: AssetJob, hours: HourlyPartitionsDefinition, name: str, cron: str,
    pick_hour: Callable[[datetime], datetime], status: DefaultScheduleStatus, description: str,
) -> ScheduleDefinition:
    """A schedule that runs ``job`` for the hour ``pick_hour`` chooses from the tick's time. The
    tick's time is the host's: an hour it calls closed that Binance has not closed yet is stored
    open and healed by ``heal_hours``."""

    @schedule(name=name, job=job, cron_schedule=cron, execution_timezone="UTC", default_status=status,
              description=description)
    def _schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        tick = context.scheduled_execution_time
        return hour_request(pick_hour(tick), f"{name}:{tick:%Y-%m-%dT%H:%M}", hours)

    return _schedule


def dataset_schedules(job: AssetJob, hours: HourlyPartitionsDefinition, dataset: Dataset, running: bool) -> list[ScheduleDefinition]:
    """The hourly batch and the near-real-time refresh of one dataset, all pairs."""
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
        "daily_tables",
        target=AssetSelection.assets(*[pair.daily for pair in pairs]),
        default_status=DefaultSensorStatus.RUNNING,
        description="Builds each pair's day in the Iceberg tables once its 24 hours are complete and "
        "passed their blocking checks, and rebuilds it when one of them is re-materialized.",
    )


def hours_to_heal(
    context: SensorEvaluationContext, pair: DatasetAssets, lake: Lake, keys: list[str], hours: HourlyPartitionsDefinition
) -> list[str]:
    """The closed ``keys`` of one pair's dataset that are not complete and checked."""
    instance, cooked = context.instance, pair.cooked.key
    place = Place(pair.dataset.name, pair.symbol, pair.dataset.raw_file)
    complete = lake.raw_zone().complete_hours(place, keys)
    status = instance.get_status_by_partition(cooked, keys, hours) or {}
    latest = {}
    for record in instance.fetch_materializations(AssetRecordsFilter(cooked, asset_partitions=keys), limit=2 * len(keys)).records:
        latest.setdefault(record.partition_key, record)
    failed_runs = {
        r.dagster_run.run_id
        for r in instance.get_run_records(RunsFilter(run_ids=list({m.run_id for m in latest.values()}),
                                                     statuses=[DagsterRunStatus.FAILURE]))
    } if latest else set()

    def unhealthy(key: str) -> bool:
        if status.get(key) == AssetPartitionStatus.IN_PROGRESS:
            return False
        record = latest.get(key)
        metadata = record.asset_materialization.metadata if record else {}
        flag = lambda name: getattr(metadata.get(name), "value", None)  # noqa: E731
        return (
            key not in complete
            or record is None
            or flag("complete") is False
            or (record.run_id in failed_runs and flag("valid") is not False)
        )

    return [key for key in keys if unhealthy(key)]


def heal_hours(
    pairs: Sequence[DatasetAssets], jobs: Sequence[AssetJob], hours: HourlyPartitionsDefinition, settings: Settings
) -> SensorDefinition:
    @sensor(
        name="heal_hours",
        jobs=list(jobs),
        minimum_interval_seconds=HEAL_INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Materializes again every closed hour (by Binance's clock) of the last "
        f"{settings.heal_lookback_hours} that is not complete and checked: one run per pair and dataset.",
    )
    def _heal(context: SensorEvaluationContext, lake: Lake, binance: BinanceResource) -> Iterator[RunRequest | SkipReason]:
        now_ms = binance.server_time_ms()
        keys = lookback_hours(now_ms, settings.heal_lookback_hours, hours)
        requested = 0
        for pair in pairs:
            if pair.dataset.needs_credentials and not settings.credentials_configured:
                continue
            if wanted := hours_to_heal(context, pair, lake, keys, hours):
                requested += 1
                context.log.info(f"healing {pair.symbol} {pair.dataset.name}: {len(wanted)} hours, {wanted[0]} … {wanted[-1]}")
                yield RunRequest(
                    run_key=f"heal:{pair.symbol}:{pair.dataset.name}:{wanted[0]}:{wanted[-1]}:{now_ms // 60_000}",
                    job_name=f"{pair.dataset.name}_job",
                    asset_selection=[pair.raw.key, pair.cooked.key],
                    tags=dict(zip(RANGE_TAGS, (wanted[0], wanted[-1]))),
                )
        if not requested:
            yield SkipReason(f"every closed hour of the last {len(keys)} is complete and checked")

    return _heal


def lookback_hours(now_ms: int, lookback: int, hours: HourlyPartitionsDefinition) -> list[str]:
    """The closed hours of the look-back that are partitions, oldest first."""
    first = hours.get_first_partition_key()
    current = now_ms - now_ms % HOUR_MS
    keys = [key_of_ms(current - back * HOUR_MS) for back in range(lookback, 0, -1)]
    return [key for key in keys if first is not None and partition_hour(key) >= partition_hour(first)]


@sensor(name="dead_runs", minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Marks a run failed when the process that ran it died (killed, out of memory), so "
        "its hours are healed and nothing waits on it.")
def dead_runs(context: SensorEvaluationContext) -> SkipReason:
    dead = run_process.dead_runs(context.instance)
    for run in dead:
        context.instance.report_run_failed(run, "the process running this run is gone (killed or crashed)")
    return SkipReason(f"marked {len(dead)} dead runs failed" if dead else "no dead runs")

