"""Cooked assets: the raw zone's hours typed into the contract's table, judged, and stored with
their verdict; then each hour's check results are recorded against its materialization."""

from collections.abc import Iterator, Mapping

import polars as pl
from dagster import AssetCheckEvaluation, AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from binance_assets import checks
from binance_assets.assets.figures import hour_metadata, run_hours
from binance_assets.datasets.contract import Dataset, HourRows, batches, cook, split_hours
from binance_assets.lake.resource import Lake
from binance_assets.lake.storage import LakeError
from binance_assets.lake.zones import CookedHour, Place, RawHour, read_ahead, storing
from binance_assets.partitions import HOUR_MS, epoch_ms, key_of_ms, partition_hour

UNSETTLED = "unsettled"  # metadata of an hour whose rows may still change: key → last update time


def previous_row(lake: Lake, place: Place, key: str) -> pl.DataFrame | None:
    """The last row of the hour before ``key`` if the lake has it: the first hour's look back."""
    before = key_of_ms(epoch_ms(partition_hour(key)) - HOUR_MS)
    zone = lake.cooked_zone()
    try:
        return zone.read(place, before).frame.tail(1) if zone.exists(place, before) else None
    except LakeError:
        return None


def materialize_cooked(
    context: AssetExecutionContext, dataset: Dataset, place: Place, table: AssetKey, raw: Mapping[str, RawHour], lake: Lake
) -> Iterator[MaterializeResult | AssetCheckEvaluation]:
    """Each hour of the run cooked once (a day of hours per polars call), judged and stored; then
    the materializations, then every hour's check results aimed at them."""
    keys = run_hours(context)
    zone = lake.cooked_zone()
    verdicts: dict[str, checks.Verdict] = {}
    unsettled: dict[str, dict[str, int]] = {}
    previous = previous_row(lake, place, keys[0])
    with storing(lambda key, hour: zone.store(place, key, hour)) as put:
        for batch in batches(read_ahead(raw)):
            hours = [HourRows(key, partition_hour(key), hour.rows(), hour.complete) for key, hour in batch]
            frame = cook(dataset, hours, place.symbol)
            for (key, _), table_hour, verdict in zip(
                batch, split_hours(frame, len(hours)), checks.judge(dataset, frame, hours, previous)
            ):
                put(key, CookedHour(table_hour, verdict.as_json()))
                verdicts[key] = verdict
                if dataset.unsettled and (live := dataset.unsettled(table_hour)):
                    unsettled[key] = live
            previous = frame.tail(1) if frame.height else previous
    exceptions = {
        key: {"complete": verdict.complete, "valid": verdict.valid}
        for key, verdict in verdicts.items()
        if not (verdict.complete and verdict.valid)
    }
    for key, live in unsettled.items():  # what may still change, watched until it settles
        exceptions[key] = {**exceptions.get(key, {}), UNSETTLED: MetadataValue.json(live)}
    totals = {
        "hours": len(keys),
        "dagster/row_count": sum(verdict.rows for verdict in verdicts.values()),
        "open_hours": sum(not verdict.complete for verdict in verdicts.values()),
        "invalid_hours": sum(not verdict.valid for verdict in verdicts.values()),
    }
    yield MaterializeResult(
        asset_key=table,
        metadata=hour_metadata(context, keys, exceptions, totals, lambda key: zone.url(place, key)),
    )
    yield from checks.evaluations(dataset, table, verdicts, checks.materialization_targets(context, table, keys))
