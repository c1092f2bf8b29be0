"""Raw assets: a pair's hours fetched from Binance, validated page by page, split by hour and
stored in the raw zone as they complete, exactly as Binance sent them.

An hour is complete (``_SUCCESS``) only when Binance has shown it is over and the answer holds all
of it: a later row came back (pages are contiguous), or the hour had ended by Binance's clock when
asked for and, if empty, a second request came back empty too. Other hours are stored open and
healed later (``sensors.heal_hours``).
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from dagster import AssetExecutionContext, Config, MaterializeResult, get_dagster_logger

from binance_assets.assets.figures import hour_metadata, run_hours
from binance_assets.binance.archive import BinanceArchive
from binance_assets.binance.client import BinanceResource
from binance_assets.datasets.contract import Dataset, Last, MalformedData, Page, accept_page, hour_span
from binance_assets.lake.resource import Lake
from binance_assets.lake.zones import Place, RawHour, storing
from binance_assets.partitions import HOUR_MS


class RawConfig(Config):
    refetch: bool = False  # fetch hours again even when the lake holds them complete


@dataclass(frozen=True)
class FetchedHour:
    key: str
    rows: list[Any]
    complete: bool
    duplicates_dropped: int
    provenance: dict[str, str]  # where the rows came from: REST, or which archive file and checksum


class QuarantinedResponse(Exception):
    """A malformed Binance answer failed its hour and was kept in the quarantine zone."""


class RefusedPage(Exception):
    """A page Binance would never send: none of its hours is stored complete."""

    def __init__(self, error: MalformedData, page: Page) -> None:
        super().__init__(str(error))
        self.error, self.page = error, page


def split_pages(
    dataset: Dataset, symbol: str, keys: list[str], pages: Iterable[Page], again: Callable[[int, int], Iterable[Page]]
) -> Iterator[FetchedHour]:
    """The hours of ``keys`` (consecutive), each as soon as the pages have moved past it.
    ``again(start, end)`` asks a second time for trailing hours that came back empty although over."""
    start, end = hour_span(keys)
    hours: list[list[Any]] = [[] for _ in keys]
    dropped = [0] * len(keys)
    sources = [{"source": "rest"} for _ in keys]
    last: Last | None = None
    done = 0  # hours handed out so far
    asked_at = start

    def accept(page: Page) -> None:
        nonlocal last, asked_at
        try:
            rows, repeats, last = accept_page(dataset, page, symbol, start, end, last)
        except MalformedData as error:
            raise RefusedPage(error, page) from error
        for row in rows:
            hours[(dataset.time_of(row) - start) // HOUR_MS].append(row)
        for time in repeats:
            dropped[(time - start) // HOUR_MS] += 1
        if page.request.get("endpoint") == "archive":  # the file vouches for every hour of its span
            lo, hi = ((edge - start) // HOUR_MS for edge in page.request["span"])
            for index in range(max(lo, 0), min(hi, len(keys))):
                sources[index] = {"source": "archive", "file": page.request["url"], "sha256": page.request["sha256"]}
        asked_at = max(asked_at, page.asked_at_ms)

    def ended_before(index: int) -> bool:  # a later row, or Binance's clock, says the hour is over
        return last is not None and last.time >= start + (index + 1) * HOUR_MS

    for page in pages:
        accept(page)
        while done < len(keys) and ended_before(done):
            yield FetchedHour(keys[done], hours[done], True, dropped[done], sources[done])
            hours[done] = []  # handed over to be stored: memory holds the hours in flight, not the range
            done += 1
    tail = next((i for i in range(done, len(keys)) if not hours[i] and not ended_before(i)), len(keys))
    closed = lambda i: start + (i + 1) * HOUR_MS <= asked_at  # noqa: E731 - by Binance's clock when asked
    if tail < len(keys) and closed(tail):  # empty although over: ask once more before believing it
        for page in again(start + tail * HOUR_MS, end):
            accept(page)
    for index in range(done, len(keys)):
        complete = ended_before(index) or closed(index)
        yield FetchedHour(keys[index], hours[index], complete, dropped[index], sources[index])


def spans(keys: list[str], skip: set[str]) -> Iterator[list[str]]:
    """The runs of consecutive ``keys`` not in ``skip``."""
    span: list[str] = []
    for key in keys:
        if key in skip:
            if span:
                yield span
            span = []
        else:
            span.append(key)
    if span:
        yield span


def materialize_raw(
    context: AssetExecutionContext, dataset: Dataset, place: Place, config: RawConfig, binance: BinanceResource,
    archive: BinanceArchive, lake: Lake,
) -> MaterializeResult:
    keys = run_hours(context)
    zone = lake.raw_zone()
    skip = set() if config.refetch else zone.complete_hours(place, keys)
    if dataset.needs_credentials:
        binance.require_credentials()
        get_dagster_logger().info(f"reading {place.symbol} {dataset.name} with API key {binance.masked_api_key()}")
    if len(skip) < len(keys):
        binance.require_trading(place.symbol, *hour_span(keys))
    incomplete: list[str] = []
    rows = duplicates = 0
    with storing(lambda key, hour: zone.store(place, key, hour)) as put:
        for span in spans(keys, skip):
            start, end = hour_span(span)
            fetch = lambda s, e, rest=False: dataset.fetch(binance, archive, place.symbol, s, e, rest)  # noqa: E731
            try:
                for hour in split_pages(dataset, place.symbol, span, fetch(start, end), lambda s, e: fetch(s, e, True)):
                    put(hour.key, RawHour.of(hour.rows, hour.complete, hour.provenance))
                    rows, duplicates = rows + len(hour.rows), duplicates + hour.duplicates_dropped
                    if not hour.complete:
                        incomplete.append(hour.key)
            except RefusedPage as refused:
                record = {"partition": refused.error.partition, "error": str(refused),
                          "request": refused.page.request, "rows": refused.page.rows}
                kept = zone.quarantine(place, refused.error.partition, record)
                raise QuarantinedResponse(f"{refused}; the answer is kept at {kept}") from refused.error
    figures = {
        "hours": len(keys), "fetched_hours": len(keys) - len(skip), "skipped_complete_hours": len(skip),
        "open_hours": len(incomplete), "dagster/row_count": rows, "duplicates_dropped": duplicates,
        **binance.stats.as_metadata(), **(archive.stats.as_metadata() if archive.stats.files or archive.stats.rest_spans else {}),
    }
    exceptions = {key: {"complete": False} for key in incomplete}
    return MaterializeResult(metadata=hour_metadata(context, keys, exceptions, figures, lambda k: zone.url(place, k)))
