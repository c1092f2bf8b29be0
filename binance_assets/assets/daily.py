"""Daily assets: a pair's day in the Iceberg table, rebuilt from its 24 cooked hours.

A day is built by Dagster's declarative automation, not a schedule: it runs once all 24 hours of
the day are materialized and none is in progress, and again whenever one of them is
re-materialized later (a late fix rebuilds its day). A schedule shortly after midnight would
build a day whose last hour had failed or was late, and would never see a late fix.
"""

from collections.abc import Mapping
from datetime import datetime

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    AutomationCondition,
    BackfillPolicy,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pyiceberg.catalog import Catalog

from binance_assets.lake.zones import Hours
from binance_assets.partitions import DAY_FORMAT, day_hours
from binance_assets.tables.schema import Dataset
from binance_assets.charts import candles_day_png, markdown_image, orders_day_png
from binance_assets.iceberg.days import write_day
from binance_assets.iceberg.resource import Warehouse
from binance_assets.iceberg.tables import open_table, schema_problems

# All 24 hours present and settled, and at least one of them new since the day was last built.
DAY_COMPLETE = (
    AutomationCondition.any_deps_updated()
    & ~AutomationCondition.any_deps_missing()
    & ~AutomationCondition.any_deps_in_progress()
)

CHARTS = {"candles": candles_day_png, "orders": orders_day_png}


def day_checks(stored_rows: Mapping[str, tuple[int, int]], schema_problems: list[str]) -> list[AssetCheckResult]:
    """Each built day's rows in the table (from its manifests, after the write) against the rows
    of its hours, and the table's columns against the contract."""
    wrong = {day: rows for day, rows in stored_rows.items() if rows[0] != rows[1]}
    return [
        AssetCheckResult(
            check_name="daily_rows",
            passed=not wrong,
            metadata={
                "days_checked": len(stored_rows),
                "failing_days": MetadataValue.md(
                    "\n".join(f"- {day}: table {table}, hours {hours}" for day, (table, hours) in wrong.items())
                    or "none"
                ),
            },
        ),
        AssetCheckResult(
            check_name="daily_schema",
            passed=not schema_problems,
            metadata={"problems": MetadataValue.md("\n".join(f"- {p}" for p in schema_problems) or "none")},
        ),
    ]


def build_day(
    context: AssetExecutionContext,
    dataset: Dataset,
    symbol: str,
    day_key: str,
    hours: Mapping[str, pl.DataFrame],
    catalog: Catalog,
) -> tuple[int, int]:
    """Replace the pair's day in the table with the union of its hours and picture it; returns
    the rows the table now holds for the pair-day and the rows of its hours."""
    day = datetime.strptime(day_key, DAY_FORMAT).date()
    frame = pl.concat([hours[key] for key in day_hours(day_key)])
    written = write_day(catalog, dataset.name, symbol, day, frame)
    png = CHARTS[dataset.name](frame, day)
    picture = MetadataValue.md(markdown_image(png, f"{symbol} {dataset.name} {day_key}"))
    context.add_asset_metadata(
        {"dagster/row_count": frame.height, **written.metadata(), "picture": picture},
        partition_key=day_key,
    )
    return written.stored_rows, frame.height


def daily_asset(
    dataset: Dataset, symbol: str, cooked: AssetKey, days: DailyPartitionsDefinition
) -> AssetsDefinition:
    key = AssetKey([symbol, f"daily_{dataset.name}"])

    @asset(
        key=key,
        ins={"hours": AssetIn(cooked)},
        partitions_def=days,
        backfill_policy=BackfillPolicy.single_run(),
        group_name=symbol,
        kinds={"iceberg", "polars"},
        automation_condition=DAY_COMPLETE,
        check_specs=[
            AssetCheckSpec("daily_rows", asset=key, blocking=True, partitions_def=days,
                           description="The pair-day in Iceberg has exactly the rows of its 24 hours."),
            AssetCheckSpec("daily_schema", asset=key, blocking=True, partitions_def=days,
                           description="The Iceberg table's columns, order and types are the contract's."),
        ],
        description=f"{symbol}'s days in the Iceberg table binance.{dataset.name}: one data file per "
        f"day, replaced atomically when the day is rebuilt, with a picture of the day.",
    )
    def daily(context: AssetExecutionContext, hours: Hours, warehouse: Warehouse) -> MaterializeResult:
        catalog = warehouse.catalog()
        stored = {day: build_day(context, dataset, symbol, day, hours, catalog) for day in context.partition_keys}
        problems = schema_problems(open_table(catalog, dataset.name), dataset.columns)
        return MaterializeResult(check_results=day_checks(stored, problems))

    return daily
