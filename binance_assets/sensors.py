"""The sensors that keep the lake true to Binance. All ship running, act on their first evaluation
after the daemon starts, and are cheap when there is nothing to do: ``heal_hours`` re-materializes
closed hours that are not complete and checked (one Binance request when none is), ``settle_orders``
fetches again hours whose orders changed, ``archive_revisions`` re-reads archive checksums and
pending gaps daily, ``dead_runs`` marks a run whose process died failed (``run_process``).
"""

import hashlib
import json
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl
from dagster import (
    AssetObservation, AssetPartitionStatus, AssetRecordsFilter, DagsterEventType, DagsterRunStatus, DefaultSensorStatus,
    HourlyPartitionsDefinition, RunRequest, RunsFilter, SensorDefinition, SensorEvaluationContext, SensorResult,
    SkipReason, sensor,
)

from binance_assets import run_process
from binance_assets.assets.cooked import UNSETTLED
from binance_assets.assets.pair import DatasetAssets
from binance_assets.assets.raw import spans
from binance_assets.automation import AssetJob
from binance_assets.binance.archive import ArchiveUnreachable, ArchiveUnusable, BinanceArchive, period_of_url
from binance_assets.binance.client import BinanceResource
from binance_assets.gaps import GAPS
from binance_assets.iceberg.resource import Warehouse
from binance_assets.iceberg.tables import scan_table
from binance_assets.lake.resource import Lake
from binance_assets.lake.zones import Place
from binance_assets.partitions import HOUR_MS, key_of_ms, since_first
from binance_assets.settings import Settings

# How a run request names a single-run range of partitions (the CLI and the UI write the same).
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
EVERY_2_MINUTES, DAILY = 120, 86_400
RECORDS_PAGE = 1000
RECORDS_PER_TICK = 20_000
PENDING_DAYS_PER_TICK = 31  # a first tick over years of history goes on at the next tick
HEAL_GRACE_MS = 10 * 60_000  # the hour that just closed is the :05 schedule's: healing waits this long


def hour_run(pair: DatasetAssets, keys: Sequence[str], run_key: str, refetch: bool = False) -> RunRequest:
    """One run of a pair's dataset over ``keys`` (as one range, from the first to the last)."""
    return RunRequest(
        run_key=run_key, job_name=f"{pair.dataset.name}_job", asset_selection=[pair.raw.key, pair.cooked.key],
        tags=dict(zip(RANGE_TAGS, (min(keys), max(keys)))),
        run_config={"ops": {pair.raw.node_def.name: {"config": {"refetch": True}}}} if refetch else {},
    )


def latest_materializations(context: SensorEvaluationContext, pair: DatasetAssets, keys: list[str]) -> dict[str, Any]:
    """Each hour's newest materialization of the pair's cooked asset, one query per hour: an hour
    refreshed every five minutes has many, which would crowd older hours out of one query."""
    fetch = context.instance.fetch_materializations
    found = {key: fetch(AssetRecordsFilter(pair.cooked.key, asset_partitions=[key]), limit=1).records for key in keys}
    return {key: records[0] for key, records in found.items() if records}


def new_materializations(context: SensorEvaluationContext, key: Any, after: int | None) -> Iterator[Any]:
    """The materializations of ``key`` after the storage id ``after``, oldest first, at most
    ``RECORDS_PER_TICK`` (the caller's cursor takes up from the last one)."""
    cursor, seen = None, 0
    while seen < RECORDS_PER_TICK:
        result = context.instance.fetch_materializations(
            AssetRecordsFilter(key, after_storage_id=after), limit=RECORDS_PAGE, cursor=cursor, ascending=True
        )
        yield from result.records
        seen += len(result.records)
        if not result.has_more:
            return
        cursor = result.cursor


def value_of(record: Any, name: str) -> Any:
    entry = record.asset_materialization.metadata.get(name)
    return getattr(entry, "value", None)


# ---- heal_hours ------------------------------------------------------------------------------

def hours_to_heal(
    context: SensorEvaluationContext, pair: DatasetAssets, lake: Lake, keys: list[str], hours: HourlyPartitionsDefinition
) -> list[str]:
    """The closed ``keys`` of one pair's dataset that are not complete and checked."""
    place = Place(pair.dataset.name, pair.symbol, pair.dataset.raw_file)
    complete = lake.raw_zone().complete_hours(place, keys)
    status = context.instance.get_status_by_partition(pair.cooked.key, keys, hours) or {}
    latest = latest_materializations(context, pair, keys)
    checked = checked_hours(context, pair.cooked.key, {record.run_id for record in latest.values()})

    def unhealthy(key: str) -> bool:
        if status.get(key) == AssetPartitionStatus.IN_PROGRESS:
            return False
        record = latest.get(key)
        return (
            key not in complete
            or record is None
            or value_of(record, "complete") is False
            or (record.run_id in checked and key not in checked[record.run_id])  # died before its checks
        )

    return [key for key in keys if unhealthy(key)]


def checked_hours(context: SensorEvaluationContext, table: Any, run_ids: set[str]) -> dict[str, set[str]]:
    """For each of ``run_ids`` that failed or was canceled, the hours of ``table`` it recorded check
    results for (an hour materialized but not checked is not done; a successful run checked all)."""
    ended = context.instance.get_run_records(
        RunsFilter(run_ids=list(run_ids), statuses=[DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED])
    ) if run_ids else []
    checked: dict[str, set[str]] = {}
    for record in ended:
        run_id = record.dagster_run.run_id
        entries = context.instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        evaluations = (entry.dagster_event.asset_check_evaluation_data for entry in entries)
        checked[run_id] = {e.partition for e in evaluations if e.asset_key == table}
    return checked


def lookback_hours(now_ms: int, lookback: int, hours: HourlyPartitionsDefinition) -> list[str]:
    """The look-back's hours that are partitions and ended ``HEAL_GRACE_MS`` ago, oldest first."""
    current = (now_ms - HEAL_GRACE_MS) // HOUR_MS * HOUR_MS
    return since_first(hours, [key_of_ms(current - back * HOUR_MS) for back in range(lookback, 0, -1)])


def heal_hours(
    pairs: Sequence[DatasetAssets], jobs: Sequence[AssetJob], hours: HourlyPartitionsDefinition, settings: Settings
) -> SensorDefinition:
    @sensor(name="heal_hours", jobs=list(jobs), minimum_interval_seconds=EVERY_2_MINUTES,
            default_status=DefaultSensorStatus.RUNNING,
            description=f"Materializes again every closed hour (by Binance's clock) of the last "
            f"{settings.heal_lookback_hours} that is not complete and checked: one run per pair, dataset and "
            f"run of consecutive such hours.")
    def _heal(context: SensorEvaluationContext, lake: Lake, binance: BinanceResource) -> Iterator[RunRequest | SkipReason]:
        now_ms = binance.server_time_ms()
        keys = lookback_hours(now_ms, settings.heal_lookback_hours, hours)
        requested = 0
        for pair in pairs:
            if pair.dataset.needs_credentials and not settings.credentials_configured:
                continue
            wanted = set(hours_to_heal(context, pair, lake, keys, hours))
            for span in spans(keys, set(keys) - wanted):  # never a range over a healthy hour (one may be invalid)
                requested += 1
                context.log.info(f"healing {pair.symbol} {pair.dataset.name}: {len(span)} hours, {span[0]} … {span[-1]}")
                # one attempt per span and hour: an hour that keeps failing is tried hourly, not every tick
                yield hour_run(pair, span, f"heal:{pair.symbol}:{pair.dataset.name}:{span[0]}:{span[-1]}:{now_ms // HOUR_MS}")
        if not requested:
            yield SkipReason(f"every closed hour of the last {len(keys)} is complete and checked")

    return _heal


# ---- settle_orders ---------------------------------------------------------------------------

def settle_orders(pairs: Sequence[DatasetAssets], jobs: Sequence[AssetJob], settings: Settings) -> SensorDefinition:
    """Watch the hours whose cooked materialization lists ``unsettled`` orders (id → update time)
    and fetch again those whose orders Binance reports changed: no longer open, or updated since."""
    watched = [pair for pair in pairs if pair.dataset.unsettled is not None]

    @sensor(name="settle_orders", jobs=list(jobs), minimum_interval_seconds=EVERY_2_MINUTES,
            default_status=DefaultSensorStatus.RUNNING,
            description="Fetches again the hours whose orders changed since they were stored (filled, "
            "canceled, expired, partly filled), until every order of the hour is final.")
    def _settle(context: SensorEvaluationContext, binance: BinanceResource) -> SensorResult | SkipReason:
        if not settings.credentials_configured:
            return SkipReason("no BINANCE_API_KEY and BINANCE_API_SECRET: orders are not exported")
        state = json.loads(context.cursor) if context.cursor else {"clock_offset_ms": None}
        binance.use_clock_offset(state["clock_offset_ms"])  # as measured at an earlier tick: no /time request
        requests = []
        for pair in watched:
            mine = state.setdefault(pair.cooked.key.to_user_string(), {"after": None, "watch": {}})  # per asset
            for record in new_materializations(context, pair.cooked.key, mine["after"]):
                if live := value_of(record, UNSETTLED):
                    mine["watch"][record.partition_key] = live
                else:
                    mine["watch"].pop(record.partition_key, None)
                mine["after"] = record.storage_id
            if not mine["watch"]:
                continue
            open_now = {str(order["orderId"]): order["updateTime"] for order in binance.open_orders(pair.symbol)}
            hour_of_tick = int(time.time()) // 3600  # a bucket for run keys only: no request for Binance's clock
            for hour, orders in sorted(mine["watch"].items()):
                if any(open_now.get(order_id) != updated for order_id, updated in orders.items()):
                    # one attempt per hour and state: a failed run is tried again an hour later
                    state_hash = hashlib.sha1(json.dumps(orders, sort_keys=True).encode()).hexdigest()[:12]
                    key = f"settle:{pair.symbol}:{hour}:{state_hash}:{hour_of_tick}"
                    requests.append(hour_run(pair, [hour], key, refetch=True))
        state["clock_offset_ms"] = binance.clock_offset_ms
        context.update_cursor(json.dumps(state))
        watching = sum(len(asset["watch"]) for name, asset in state.items() if name != "clock_offset_ms")
        return SensorResult(run_requests=requests) if requests else SkipReason(f"{watching} hours watched, none changed")

    return _settle


# ---- archive_revisions -----------------------------------------------------------------------

URL_SYMBOL = re.compile(r"/klines/([A-Z0-9_.-]+)/1m/")


def archive_revisions(
    pairs: Sequence[DatasetAssets], jobs: Sequence[AssetJob], hours: HourlyPartitionsDefinition
) -> SensorDefinition:
    by_symbol = {pair.symbol: pair for pair in pairs if pair.dataset.on_the_minute}

    @sensor(name="archive_revisions", jobs=list(jobs), minimum_interval_seconds=DAILY,
            default_status=DefaultSensorStatus.RUNNING,
            description="Daily: re-reads the .CHECKSUM of every archive file the lake was built from, records "
            "a replaced file and fetches its hours again; checks pending gaps against newly published files.")
    def _revisions(
        context: SensorEvaluationContext, binance_archive: BinanceArchive, binance: BinanceResource, warehouse: Warehouse
    ) -> SensorResult | SkipReason:
        state = json.loads(context.cursor) if context.cursor else {"after": {}, "files": {}}
        for pair in by_symbol.values():
            asset = pair.raw.key.to_user_string()
            for record in new_materializations(context, pair.raw.key, state["after"].get(asset)):
                checksums = value_of(record, "archive_checksums") or (value_of(record, "run") or {}).get("archive_checksums", {})
                state["files"].update(checksums)
                state["after"][asset] = record.storage_id
        day = int(time.time()) // DAILY  # run keys: one attempt per file, checksum and day
        requests, observations = [], []
        for url, known in state["files"].items():
            pair = by_symbol.get(URL_SYMBOL.search(url).group(1)) if URL_SYMBOL.search(url) else None
            if pair is None:
                continue
            try:
                now = binance_archive.checksum(url)
            except ArchiveUnreachable as error:  # every other file would wait as long: tomorrow
                context.log.warning(f"archive unreachable ({error}); checked again tomorrow")
                break
            except ArchiveUnusable as error:
                context.log.warning(f"archive file {url}: {error}; checked again tomorrow")
                continue
            if now != known:
                keys = file_hours(url, hours)
                observations.append(AssetObservation(pair.raw.key, metadata={
                    "revised_file": url, "old_sha256": known, "new_sha256": now, "hours": f"{keys[0]}...{keys[-1]}"}))
                requests.append(hour_run(pair, keys, f"revision:{url}:{now}:{day}", refetch=True))
        if binance_archive.enabled:
            try:
                requests += pending_gap_runs(warehouse, binance_archive, binance, by_symbol, day)
            except Exception as error:  # the revisions above stand; the ledger is asked again tomorrow
                context.log.warning(f"pending gaps not checked: {type(error).__name__}: {error}")
        context.update_cursor(json.dumps(state))
        if not requests:
            return SkipReason(f"{len(state['files'])} archive files unchanged, no pending gap to verify")
        return SensorResult(run_requests=requests, asset_events=observations)

    return _revisions


def file_hours(url: str, hours: HourlyPartitionsDefinition) -> list[str]:
    start_ms, end_ms = period_of_url(url)
    return since_first(hours, [key_of_ms(ms) for ms in range(start_ms, end_ms, HOUR_MS)])


def pending_gap_runs(
    warehouse: Warehouse, archive: BinanceArchive, binance: BinanceResource, by_symbol: dict[str, DatasetAssets], day: int
) -> list[RunRequest]:
    """Runs over the hours with ``pending`` gaps whose day's archive file is now published, one per
    pair and run of consecutive such hours, at most ``PENDING_DAYS_PER_TICK`` days a tick."""
    cutoff = archive.cutoff_ms(binance.server_time_ms())
    pending = scan_table(warehouse.catalog(), GAPS).filter(
        (pl.col("cause") == "pending") & (pl.col("minute").dt.epoch("ms") < cutoff)
    ).select("symbol", "minute").collect()
    runs: list[RunRequest] = []
    for (symbol,), rows in pending.partition_by("symbol", as_dict=True).items():
        pair = by_symbol.get(symbol)
        hours = sorted({key_of_ms(ms) for ms in rows["minute"].dt.epoch("ms").to_list()}) if pair else []
        days = sorted({hour[:10] for hour in hours})[:PENDING_DAYS_PER_TICK]
        published = [d for d in days if archive.published(symbol, d)]
        every_hour = [f"{d}-{h:02d}:00" for d in published for h in range(24)]
        for span in spans(every_hour, set(every_hour) - set(hours)):
            runs.append(hour_run(pair, span, f"pending:{symbol}:{span[0]}:{span[-1]}:{day}", refetch=True))
    return runs


# ---- dead_runs -------------------------------------------------------------------------------

@sensor(name="dead_runs", minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Marks a run failed when the process that ran it died (killed, out of memory), so "
        "its hours are healed and nothing waits on it.")
def dead_runs(context: SensorEvaluationContext) -> SkipReason:
    dead = run_process.dead_runs(context.instance)
    for run in dead:
        if context.instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED:  # it may have just ended
            context.instance.report_run_failed(run, "the process running this run is gone (killed or crashed)")
    return SkipReason(f"marked {len(dead)} dead runs failed" if dead else "no dead runs")

