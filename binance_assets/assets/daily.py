"""Daily assets: a pair's day in the Iceberg table, rebuilt from its 24 cooked hours.

Declarative automation (``DAY_READY``) builds a day once its 24 hours are complete and passed
their blocking checks, and again whenever one of them is re-materialized. The asset reads its
hours' verdicts itself too, so a day materialized by hand is refused while an hour is open or invalid.
"""

from collections.abc import Iterator, Mapping
from datetime import date, datetime, timezone
from typing import Any

import polars as pl
from dagster import (
    AssetCheckEvaluation, AssetCheckSpec, AssetExecutionContext, AssetIn, AssetKey, AssetsDefinition, AssetSpec,
    AutomationCondition, BackfillPolicy, DailyPartitionsDefinition, Failure, MaterializeResult, MetadataValue,
    multi_asset,
)
from pyiceberg.catalog import Catalog

from binance_assets import checks
from binance_assets.charts import markdown_image
from binance_assets.datasets.contract import Dataset
from binance_assets.gaps import CAUSES, GAPS, causes_of, ledger_day, minutes_of
from binance_assets.iceberg.catalog import CatalogUnavailable
from binance_assets.iceberg.days import write_day
from binance_assets.iceberg.resource import Warehouse
from binance_assets.iceberg.tables import open_table, scan_table, schema_problems
from binance_assets.lake.resource import Lake
from binance_assets.lake.zones import CookedHour, Hours, Place
from binance_assets.partitions import DAY_FORMAT, day_bounds, day_hours
from binance_assets.settings import current

# Every hour of the day passed every blocking check. Dagster's ``all_deps_blocking_checks_passed``
# asks only that *some* hour of each dependency passed, so a day's 24 hours are asked the other way
# round: no hour with a blocking check that has not passed.
HOURS_PASSED = ~AutomationCondition.any_deps_match(
    ~AutomationCondition.all_checks_match(AutomationCondition.check_passed(), blocking_only=True)
).with_label("all 24 hours passed their blocking checks ({dataset}_complete fails for an open hour)")

# ``missing`` is judged afresh at every tick, so days whose hours were stored before the daemon's
# first tick are built on that tick; ``any_deps_updated`` is remembered until the day is built, so
# a change that arrives while an hour is still being checked is not lost.
DAY_READY = (
    (
        (AutomationCondition.missing() & ~AutomationCondition.execution_failed())
        | (AutomationCondition.execution_failed() & AutomationCondition.cron_tick_passed("0 * * * *"))
        | AutomationCondition.any_deps_updated().since_last_handled()
    ).with_label("never built, an hour changed, or its last build failed (tried again hourly)")
    & ~AutomationCondition.any_deps_missing()
    & ~AutomationCondition.any_deps_in_progress()
    & HOURS_PASSED
    & ~AutomationCondition.in_progress()
).with_label("day ready: 24 complete hours that passed their blocking checks")


def unusable_hours(hours: Mapping[str, CookedHour]) -> list[str]:
    """The hours a day must not be built from, each with why."""
    return [
        f"{key}: " + ", ".join(why for why, bad in (("open", not hour.verdict.get("complete")),
                                                     ("failed its blocking checks", not hour.verdict.get("valid"))) if bad)
        for key, hour in hours.items()
        if not (hour.verdict.get("complete") and hour.verdict.get("valid"))
    ]


def day_checks(
    key: AssetKey, stored_rows: Mapping[str, tuple[int, int]], problems: list[str], targets: Mapping[str, Any]
) -> Iterator[AssetCheckEvaluation]:
    """Each built day's results: its rows in the table against its hours' rows, and the table's columns."""
    for day, (table, hours) in stored_rows.items():
        common = dict(asset_key=key, partition=day, blocking=True, target_materialization_data=targets.get(day))
        yield AssetCheckEvaluation(check_name="daily_rows", passed=table == hours,
                                   metadata={"table_rows": table, "hour_rows": hours}, **common)
        yield AssetCheckEvaluation(check_name="daily_schema", passed=not problems, metadata={
            "problems": MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")}, **common)


def gap_ledger(
    catalog: Catalog, lake: Lake, dataset: Dataset, place: Place, day: date, hours: Mapping[str, CookedHour], frame: pl.DataFrame
) -> tuple[dict[str, int], dict[int, str]]:
    """Replace the pair-day of ``binance.gaps`` from the pair's hours, the other configured pairs'
    hours in the lake, and the ledger so far."""
    others = {symbol: other_minutes(lake, Place(dataset.name, symbol, place.raw_file), dataset, day)
              for symbol in current().symbols if symbol != place.symbol}
    start, end = day_bounds(day)
    previous = scan_table(catalog, GAPS).filter(
        (pl.col("symbol") == place.symbol) & pl.col("minute").is_between(start, end, closed="left")
    ).collect()
    raw = lake.raw_zone()
    archived = {n for n, key in enumerate(hours) if raw.provenance(place, key).get("source") == "archive"}
    ledger = ledger_day(place.symbol, day, minutes_of(frame, dataset.time_column, day), archived, others,
                        previous, datetime.now(timezone.utc))
    write_day(catalog, GAPS, place.symbol, day, ledger)
    counts = {f"gaps_{cause}": ledger.filter(pl.col("cause") == cause).height for cause in CAUSES}
    return counts, causes_of(ledger, day)


def other_minutes(lake: Lake, place: Place, dataset: Dataset, day: date) -> set[int] | None:
    """Another pair's minutes of the day, or None unless its 24 hours are complete in the lake."""
    zone, keys = lake.cooked_zone(), day_hours(day.strftime(DAY_FORMAT))
    if not all(zone.exists(place, key) for key in keys):
        return None
    hours = [zone.read(place, key) for key in keys]
    if not all(hour.verdict.get("complete") for hour in hours):
        return None
    return minutes_of(pl.concat([hour.frame for hour in hours]), dataset.time_column, day)


def daily_asset(
    dataset: Dataset, place: Place, cooked: AssetKey, days: DailyPartitionsDefinition, io_manager: str
) -> AssetsDefinition:
    key = AssetKey([place.symbol, f"daily_{dataset.name}"])

    @multi_asset(
        specs=[AssetSpec(
            key, deps=[cooked], kinds={"iceberg", "polars"}, automation_condition=DAY_READY,
            description=f"{place.symbol}'s days in the Iceberg table binance.{dataset.name}: one data file per "
            f"day, built from 24 complete, checked hours, replaced atomically when rebuilt, with a picture.",
        )],
        name=f"{place.symbol}__daily_{dataset.name}", ins={"hours": AssetIn(cooked, input_manager_key=io_manager)},
        partitions_def=days, backfill_policy=BackfillPolicy.single_run(), group_name=place.symbol,
        can_subset=True,  # each day's check results are recorded as evaluations, not outputs
        check_specs=[
            AssetCheckSpec("daily_rows", asset=key, blocking=True, partitions_def=days,
                           description="The pair-day in Iceberg has exactly the rows of its 24 hours."),
            AssetCheckSpec("daily_schema", asset=key, blocking=True, partitions_def=days,
                           description="The Iceberg table's columns, order and types are the contract's."),
        ],
    )
    def daily(context: AssetExecutionContext, hours: Hours, warehouse: Warehouse, lake: Lake) -> Iterator:
        try:
            catalog = warehouse.catalog()
        except CatalogUnavailable as error:  # name what waits on it: the pair, the dataset, the days
            raise Failure(f"{place.symbol} {dataset.name} days {', '.join(context.partition_keys)} not built: {error}") from error
        stored, refused = {}, []
        for day_key in context.partition_keys:
            day = {hour: hours[hour] for hour in day_hours(day_key)}
            if unusable := unusable_hours(day):  # the other days of a range are still built
                refused.append(f"{day_key}: " + "; ".join(unusable))
                continue
            frame = pl.concat([hour.frame for hour in day.values()])
            when = datetime.strptime(day_key, DAY_FORMAT).date()
            written = write_day(catalog, dataset, place.symbol, when, frame)
            figures, causes = gap_ledger(catalog, lake, dataset, place, when, day, frame) if dataset.on_the_minute else ({}, {})
            png = dataset.picture(frame, written.day, causes)
            context.add_asset_metadata({
                "dagster/row_count": frame.height, **written.metadata(), **figures,
                "picture": MetadataValue.md(markdown_image(png, f"{place.symbol} {dataset.name} {day_key}")),
            }, partition_key=day_key)
            stored[day_key] = (written.stored_rows, frame.height)
        if refused:
            raise Failure(f"{place.symbol} {dataset.name}: not built: " + " | ".join(refused),
                          metadata={"unusable_hours": MetadataValue.md("\n".join(f"- {r}" for r in refused))})
        problems = schema_problems(open_table(catalog, dataset), dataset.columns)
        yield MaterializeResult(asset_key=key)
        yield from day_checks(key, stored, problems, checks.materialization_targets(context, key, list(stored)))

    return daily
