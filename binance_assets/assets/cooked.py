"""Cooked assets: the raw zone's hours typed into the contract's table, once per hour."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl
from dagster import AssetExecutionContext, get_dagster_logger

from binance_assets.assets.hourly import kept_on_failure, run_hours, run_summary
from binance_assets.lake.paths import SUCCESS_MARKER, Location
from binance_assets.lake.resource import Lake
from binance_assets.lake.storage import LakeError
from binance_assets.lake.zones import RawHour, read_ahead
from binance_assets.partitions import hour_closed, partition_hour
from binance_assets.binance.client import BinanceResource
from binance_assets.tables.batches import cooked_hours
from binance_assets.tables.schema import CookedHour, Dataset, HourRows


def stored_hours(raw: Mapping[str, RawHour], binance: BinanceResource) -> Iterator[HourRows]:
    """The raw zone's hours in order. An hour without ``_SUCCESS`` is an open hour's snapshot,
    unless Binance's clock (the one the raw step marks by) says it has closed: then it is the
    leftover of an interrupted run and must not be cooked as if it were complete."""
    for key, stored in read_ahead(raw):
        hour = partition_hour(key)
        if not stored.complete and hour_closed(hour, binance.server_time_ms()):
            raise LakeError(
                f"raw partition {key} has no {SUCCESS_MARKER} although its hour has closed: it is "
                f"an open-hour snapshot never completed or the leftover of an interrupted run; "
                f"materialize the raw asset for it again"
            )
        yield HourRows(key, hour, stored.rows(), stored.complete)


def hour_figures(cooked: CookedHour) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "dagster/row_count": cooked.frame.height,
        "duplicates_dropped": cooked.duplicates_dropped,
    }
    if cooked.rows_with_extra_fields:
        figures["rows_with_extra_fields"] = cooked.rows_with_extra_fields
    return figures


def materialize_cooked(
    context: AssetExecutionContext,
    dataset: Dataset,
    symbol: str,
    raw: Mapping[str, RawHour],
    binance: BinanceResource,
    lake: Lake,
) -> dict[str, pl.DataFrame]:
    """Each hour of the run cooked once (a day of hours per polars call), with its figures."""
    keys = run_hours(context)
    frames: dict[str, pl.DataFrame] = {}
    rows = duplicates = extra = 0
    gaps: list[str] = []
    zone, where = lake.cooked_zone(), Location("cooked", dataset.name, symbol)
    with kept_on_failure(frames, lambda key, frame: zone.write(where, key, frame)):
        for hour, cooked in cooked_hours(dataset, stored_hours(raw, binance), symbol):
            frames[hour.key] = cooked.frame
            figures = {**hour_figures(cooked), "path": zone.url(where, hour.key)}
            if dataset.name == "candles":
                figures["missing_minutes"] = len(cooked.missing_minutes)
                gaps += [f"{hour.key[:11]}{minute}" for minute in cooked.missing_minutes]
            context.add_asset_metadata(figures, partition_key=hour.key)
            rows, duplicates = rows + cooked.frame.height, duplicates + cooked.duplicates_dropped
            extra += cooked.rows_with_extra_fields
    if extra:
        get_dagster_logger().warning(
            f"{symbol} {dataset.name}: {extra} rows carry fields beyond the documented ones; "
            f"kept in the raw zone, not cooked"
        )
    totals = {"hours": len(keys), "rows": rows, "duplicates_dropped": duplicates}
    if dataset.name == "candles":
        totals["missing_minutes"] = len(gaps)
        totals["gaps"] = gaps[:500]
    context.add_asset_metadata({"run": run_summary(totals)}, partition_key=keys[-1])
    return frames
