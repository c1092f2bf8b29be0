"""Raw assets: an hour range fetched from Binance, split by hour, checked, and handed to the raw
zone exactly as Binance sent it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from dagster import AssetExecutionContext, get_dagster_logger

from binance_assets.assets.hourly import kept_on_failure, run_hours, run_summary
from binance_assets.lake.paths import Location
from binance_assets.lake.resource import Lake
from binance_assets.lake.zones import RawHour
from binance_assets.partitions import HOUR_MS, epoch_ms, hour_closed, partition_hour
from binance_assets.binance.archive import BinanceArchive
from binance_assets.binance.client import BinanceResource, Page
from binance_assets.tables.schema import Dataset, MalformedData, shape_problem

Fetch = Callable[[BinanceResource, BinanceArchive, str, int, int], Iterable[Page]]


def fetch_klines(
    binance: BinanceResource, archive: BinanceArchive, symbol: str, start_ms: int, end_ms: int
) -> Iterable[Page]:
    """Old hours from the bulk archive, recent ones (and any unusable file) by REST."""
    return archive.klines(binance, symbol, start_ms, end_ms)


def fetch_orders(
    binance: BinanceResource, archive: BinanceArchive, symbol: str, start_ms: int, end_ms: int
) -> Iterable[Page]:
    binance.require_credentials()
    get_dagster_logger().info(f"reading {symbol} orders with API key {binance.masked_api_key()}")
    return binance.all_orders(symbol, start_ms, end_ms)


FETCH: dict[str, Fetch] = {"candles": fetch_klines, "orders": fetch_orders}


class QuarantinedResponse(Exception):
    """A malformed Binance response failed its hour and was kept in the quarantine area."""


def split_by_hour(
    pages: Iterable[Page], keys: list[str], time_of: Callable[[Any], int | None]
) -> Iterator[tuple[str, list[Any], list[dict[str, Any]]]]:
    """(partition key, rows, requests) for every hour of ``keys`` in order, each as soon as the
    pages have moved past it. Hours without rows come out empty.

    A row whose time does not belong to the hour being filled (out of order or out of the range)
    stays in that hour, so the shape check names it instead of it silently moving.
    """
    starts = [epoch_ms(partition_hour(key)) for key in keys]
    index, rows, requests = 0, [], []
    for page in pages:
        requests.append(page.request)
        for row in page.rows:
            when = time_of(row)
            while index + 1 < len(keys) and when is not None and when >= starts[index + 1]:
                yield keys[index], rows, requests
                index, rows, requests = index + 1, [], [page.request]
            rows.append(row)
    for key in keys[index:]:
        yield key, rows, requests
        rows, requests = [], []


def refuse_malformed(
    dataset: Dataset, symbol: str, key: str, rows: list[Any], requests: list[dict[str, Any]], lake: Lake
) -> None:
    """Quarantine an hour with a row Binance would never send, and fail naming it."""
    start = epoch_ms(partition_hour(key))
    for position, row in enumerate(rows):
        if problem := shape_problem(dataset, row, symbol, start):
            field, value, why = problem
            error = MalformedData(dataset.name, key, position, field, value, why)
            record = {"partition": key, "error": str(error), "requests": requests, "rows": rows}
            kept_at = lake.raw_zone().quarantine(Location("raw", dataset.name, symbol), key, record)
            raise QuarantinedResponse(f"{error}; the response is kept at {kept_at}") from error


def materialize_raw(
    context: AssetExecutionContext,
    dataset: Dataset,
    symbol: str,
    binance: BinanceResource,
    archive: BinanceArchive,
    lake: Lake,
) -> dict[str, RawHour]:
    """The run's hours of ``dataset`` for ``symbol``: fetched across hour boundaries in 1000-row
    pages, split by hour, each checked before it is kept; closed hours (by Binance's clock) are
    complete and get ``_SUCCESS`` from the raw zone."""
    keys = run_hours(context)
    start = epoch_ms(partition_hour(keys[0]))
    pages = FETCH[dataset.name](binance, archive, symbol, start, start + len(keys) * HOUR_MS)
    binance.require_trading(symbol)
    hours: dict[str, RawHour] = {}
    zone, where = lake.raw_zone(), Location("raw", dataset.name, symbol)
    with kept_on_failure(hours, lambda key, hour: zone.write(where, key, hour)):
        for key, rows, requests in split_by_hour(pages, keys, dataset.time_of):
            refuse_malformed(dataset, symbol, key, rows, requests, lake)
            hours[key] = RawHour.of(rows, hour_closed(partition_hour(key), binance.server_time_ms()))
            figures = {"dagster/row_count": len(rows), "path": zone.url(where, key)}
            context.add_asset_metadata(figures, partition_key=key)
    totals = {
        "hours": len(keys),
        "complete_hours": sum(hour.complete for hour in hours.values()),
        **binance.stats.as_metadata(),
        **(archive.stats.as_metadata() if dataset.name == "candles" else {}),
    }
    context.add_asset_metadata({"run": run_summary(totals)}, partition_key=keys[-1])
    return hours
