"""What every dataset's raw and cooked assets share: splitting fetched pages into hours,
validating each raw hour before it is stored, cooking hours, and the run's figures.

The assets in ``candles.py`` and ``orders.py`` only say where their data comes from; everything
else lives here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster import AssetExecutionContext, BackfillPolicy, MetadataValue, asset

from binance_assets.lake.hours import HourStream, RawHour, Rejected
from binance_assets.partitions import HOUR_MS, epoch_ms, hourly_partitions, partition_hour
from binance_assets.resources.binance import BinanceResource, Page
from binance_assets.tables.batches import cooked_hours
from binance_assets.tables.schema import (
    CookedHour,
    Dataset,
    HourRows,
    MalformedData,
    table_schema,
)


def lake_asset(dataset: Dataset, zone: str, symbol: str, **options: Any) -> Callable[..., Any]:
    """``@asset`` with what every lake asset shares: hourly partitions, single-run backfills of any
    range, the zone's IO manager, the lake location in its metadata, one group per dataset."""
    return asset(
        partitions_def=hourly_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        io_manager_key="raw_zone_io_manager" if zone == "raw" else "parquet_io_manager",
        metadata=lake_metadata(dataset, zone, symbol),
        group_name=dataset.name,
        **options,
    )


def lake_metadata(dataset: Dataset, zone: str, symbol: str) -> dict[str, Any]:
    """Definition metadata that tells the lake IO managers where an asset's hours live."""
    metadata: dict[str, Any] = {"lake_zone": zone, "lake_dataset": dataset.name, "symbol": symbol}
    if zone == "raw":
        metadata["lake_file"] = dataset.raw_file
    else:
        metadata["dagster/column_schema"] = table_schema(dataset.columns)
    return metadata


@dataclass
class HourFigures:
    """What cooking found in each hour (for that hour's materialization) and over the run's
    hours (for the run's last materialization: copied onto every hour, the run's totals would
    make each of thousands of events several times larger)."""

    hours: int = 0
    complete_hours: int = 0
    rows: int = 0
    duplicates_dropped: int = 0
    missing_minutes: int = 0
    hours_with_gaps: list[str] = field(default_factory=list)
    first_time: str | None = None
    last_time: str | None = None
    unclaimed: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, hour: HourRows, cooked: CookedHour, time_column: str) -> None:
        self.unclaimed[hour.key] = {
            "duplicates_dropped": cooked.duplicates_dropped,
            "missing_minutes": len(cooked.missing_minutes),
        }
        self.hours += 1
        self.complete_hours += hour.complete
        self.rows += cooked.frame.height
        self.duplicates_dropped += cooked.duplicates_dropped
        if cooked.missing_minutes:
            self.missing_minutes += len(cooked.missing_minutes)
            self.hours_with_gaps.append(f"{hour.key}: {', '.join(cooked.missing_minutes)}")
        if cooked.frame.height:
            times = cooked.frame[time_column]
            self.first_time = self.first_time or times.min().isoformat()
            self.last_time = times.max().isoformat()

    def of_hour(self, key: str) -> dict[str, int]:
        """The figures of one hour added earlier, handed out once."""
        return self.unclaimed.pop(key, {})

    def as_metadata(self) -> dict[str, Any]:
        return {
            "run_rows": self.rows,
            "hours": self.hours,
            "complete_hours": self.complete_hours,
            "run_duplicates_dropped": self.duplicates_dropped,
            "run_missing_minutes": self.missing_minutes,
            "gaps": MetadataValue.md(
                "\n".join(f"- {line}" for line in self.hours_with_gaps[:200]) or "none"
            ),
            "first_time": self.first_time or "",
            "last_time": self.last_time or "",
        }


def split_by_hour(
    pages: Iterable[Page], keys: list[str], time_of: Callable[[Any], int]
) -> Iterator[tuple[str, list[Any], list[dict[str, Any]]]]:
    """(partition key, rows, requests) for every hour of ``keys`` in order, each as soon as the
    pages have moved past it. Hours without rows come out empty.

    A row whose time does not belong to the hour being filled (out of order or out of the range)
    stays in that hour, so validation names it instead of it silently moving.
    """
    starts = [epoch_ms(partition_hour(key)) for key in keys]
    index, rows, requests = 0, [], []
    for page in pages:
        requests.append(page.request)
        for row in page.rows:
            when = _time_or_none(time_of, row)
            while index + 1 < len(keys) and when is not None and when >= starts[index + 1]:
                yield keys[index], rows, requests
                index, rows, requests = index + 1, [], [page.request]
            rows.append(row)
    for key in keys[index:]:
        yield key, rows, requests
        rows, requests = [], []


def _time_or_none(time_of: Callable[[Any], int], row: Any) -> int | None:
    try:
        return time_of(row)
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def raw_stream(
    dataset: Dataset,
    context: AssetExecutionContext,
    binance: BinanceResource,
    fetch: Callable[[str, int, int], Iterable[Page]],
    symbol: str,
    source_metadata: Callable[[], Mapping[str, Any]] = lambda: {"source": "rest"},
) -> HourStream[RawHour | Rejected]:
    """Raw hours of the run's whole partition range, fetched page by page across hour boundaries.

    Each hour is checked by cooking it (a day of hours at a time): a malformed hour becomes
    ``Rejected`` (kept in quarantine by the IO manager, which then fails the run), the hours
    before it are stored, and nothing after its day is fetched.
    """
    window = context.partition_time_window
    pages = fetch(symbol, epoch_ms(window.start), epoch_ms(window.end))
    figures = HourFigures()
    uncooked: dict[str, tuple[HourRows, list[dict[str, Any]]]] = {}

    def fetched() -> Iterator[HourRows]:
        for key, rows, requests in split_by_hour(pages, list(context.partition_keys), dataset.time_of):
            hour = partition_hour(key)
            fetched_hour = HourRows(key, hour, rows, epoch_ms(hour) + HOUR_MS <= binance.server_time_ms())
            uncooked[key] = fetched_hour, requests
            yield fetched_hour

    def hours() -> Iterator[tuple[str, RawHour | Rejected]]:
        try:
            for fetched_hour, cooked in cooked_hours(dataset, fetched(), symbol):
                del uncooked[fetched_hour.key]
                figures.add(fetched_hour, cooked, dataset.time_column)
                yield fetched_hour.key, RawHour(fetched_hour.rows, fetched_hour.complete)
        except MalformedData as error:
            rejected, requests = uncooked[error.partition]
            yield rejected.key, Rejected(rejected.rows, requests, error)

    return HourStream(
        hours(),
        lambda: {**figures.as_metadata(), **binance.stats.as_metadata(), **source_metadata()},
        figures.of_hour,
    )


def cooked_stream(
    dataset: Dataset, raw_hours: Mapping[str, RawHour], symbol: str
) -> HourStream[Any]:
    """Cooked frames for each raw hour, read from the lake one hour at a time."""
    figures = HourFigures()

    def stored() -> Iterator[HourRows]:
        for key, raw in raw_hours.items():
            yield HourRows(key, partition_hour(key), raw.rows, raw.complete)

    def hours() -> Iterator[tuple[str, Any]]:
        for stored_hour, cooked in cooked_hours(dataset, stored(), symbol):
            figures.add(stored_hour, cooked, dataset.time_column)
            yield stored_hour.key, cooked.frame

    return HourStream(hours(), figures.as_metadata, figures.of_hour)
