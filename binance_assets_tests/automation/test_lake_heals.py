"""A lake that heals itself, through the sensors evaluated against a real instance, lake, Iceberg
catalog and emulator, their run requests executed as real runs: an order that fills after export
reaches the cooked hour and the Iceberg day; a re-uploaded archive file brings its new value into
the lake and the table; every missing minute is explained in ``binance.gaps``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone

import polars as pl
import pytest
from dagster import (
    AssetSelection,
    DagsterInstance,
    Definitions,
    RunRequest,
    SensorResult,
    SkipReason,
    build_sensor_context,
    evaluate_automation_conditions,
    materialize,
)

from binance_assets import sensors
from binance_assets.datasets.candles import CANDLES
from binance_assets.datasets.orders import FINAL_STATUSES, ORDERS
from binance_assets.gaps import GAPS
from binance_assets.iceberg.tables import scan_table
from binance_assets.partitions import HOUR_MS, epoch_ms
from binance_assets.settings import Settings
from binance_assets_tests.runs import (
    API_KEY, API_SECRET, BTC_CANDLES, BTC_ORDERS, HOURS, failure_messages, lake_resources, run_hours,
)  # fmt: skip
from binance_assets.assets.pair import pair_assets
from binance_emulator import account, market
from binance_emulator.process import EmulatorProcess

CREDENTIALS = Settings.from_env({"BINANCE_API_KEY": API_KEY, "BINANCE_API_SECRET": API_SECRET})


def at(text: str) -> int:
    return epoch_ms(datetime.fromisoformat(text).replace(tzinfo=timezone.utc))


def evaluate(sensor, instance: DagsterInstance, resources: dict, cursor: str | None = None):
    with build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        result = sensor(context)
        return result, context.cursor


def requests_of(result) -> list[RunRequest]:
    return list(result.run_requests or []) if isinstance(result, SensorResult) else []


def execute(request: RunRequest, assets: list, resources: dict, instance: DagsterInstance):
    """A sensor's run request as the daemon would run it: its assets, range tags and config."""
    run = materialize(assets, resources=resources, instance=instance, selection=request.asset_selection,
                      tags=dict(request.tags), run_config=request.run_config or None, raise_on_error=False)
    assert run.success, failure_messages(run)
    return run


def build_day(assets, day: str, resources: dict, instance: DagsterInstance, cursor=None):
    """What the ``daily_tables`` sensor does on its ticks: evaluate the days' automation (with the
    cursor of its previous tick), build the day it requests, and tick once more (the daemon ticks
    every 30 s: the build is seen before any later change). Returns the cursor."""
    definitions = Definitions(assets=assets.assets(), resources=resources)
    selection = AssetSelection.assets(assets.daily)
    days = evaluate_automation_conditions(definitions, instance, asset_selection=selection, cursor=cursor)
    assert day in set(days.get_requested_partitions(assets.daily.key)), "the automation builds the day"
    built = materialize(assets.assets(), selection=[assets.daily.key], partition_key=day, resources=resources,
                        instance=instance, raise_on_error=False)
    assert built.success, failure_messages(built)
    return evaluate_automation_conditions(definitions, instance, asset_selection=selection, cursor=days.cursor).cursor


# ---- orders that settle ------------------------------------------------------------------------

ORDER_DAY = "2025-03-01"


@pytest.fixture
def just_after_the_day() -> Iterator[EmulatorProcess]:
    """Binance's clock five minutes into the next day: the day's late orders are still open."""
    with EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET,
                         clock_offset_ms=at("2025-03-02T00:05") - int(time.time() * 1000)) as process:
        yield process


def test_an_order_that_fills_after_export_reaches_the_hour_and_the_day(just_after_the_day: EmulatorProcess, tmp_path) -> None:
    emulator = just_after_the_day
    resources = lake_resources(str(tmp_path / "lake"), emulator.url)
    instance = DagsterInstance.ephemeral()
    assert run_hours(resources, f"{ORDER_DAY}-00:00", f"{ORDER_DAY}-23:00", assets=[BTC_ORDERS.raw, BTC_ORDERS.cooked], instance=instance).success
    days = build_day(BTC_ORDERS, ORDER_DAY, resources, instance)
    catalog = resources["warehouse"].catalog()
    open_at_export = scan_table(catalog, ORDERS).filter(~pl.col("status").is_in(FINAL_STATUSES)).collect()
    assert open_at_export.height > 10, "late orders of the day are still open at export"

    sensor = sensors.settle_orders([BTC_ORDERS], [], CREDENTIALS)
    result, cursor = evaluate(sensor, instance, {"binance": resources["binance"]})  # its first tick
    assert isinstance(result, SkipReason), "nothing changed yet"
    before = emulator.stats()["requests_total"]
    result, cursor = evaluate(sensor, instance, {"binance": resources["binance"]}, cursor)
    assert isinstance(result, SkipReason)
    assert emulator.stats()["requests_total"] - before == 1, "a tick costs one request per pair: openOrders"

    emulator.set_faults([], clock_skew_ms=5 * 24 * HOUR_MS)  # five days on: every order is final
    result, cursor = evaluate(sensor, instance, {"binance": resources["binance"]}, cursor)
    changed = requests_of(result)
    assert changed and all(r.tags[sensors.RANGE_TAGS[0]] == r.tags[sensors.RANGE_TAGS[1]] for r in changed), "one run per hour"
    open_hours = sorted({datetime.fromtimestamp(t // 1000, tz=timezone.utc).strftime("%Y-%m-%d-%H:00")
                         for t in open_at_export["order_time"].dt.epoch("ms").to_list()})
    assert sorted(r.tags[sensors.RANGE_TAGS[0]] for r in changed) == open_hours, "exactly the hours whose orders changed"
    for request in changed:
        execute(request, [BTC_ORDERS.raw, BTC_ORDERS.cooked], resources, instance)
    build_day(BTC_ORDERS, ORDER_DAY, resources, instance, days)

    now = at("2025-03-02T00:05") + 5 * 24 * HOUR_MS
    table = scan_table(catalog, ORDERS).collect().sort("order_id")
    expected = account.orders_between("BTCUSDT", at(f"{ORDER_DAY}T00:00"), at(f"{ORDER_DAY}T23:59:59.999"), now_ms=now)
    assert table["status"].to_list() == [o["status"] for o in expected]
    assert table["executed_qty"].cast(pl.String).to_list() == [o["executedQty"] for o in expected]
    assert table.filter(~pl.col("status").is_in(FINAL_STATUSES)).height == 0

    result, _ = evaluate(sensor, instance, {"binance": resources["binance"]}, cursor)
    assert isinstance(result, SkipReason) and "0 hours watched" in str(result.skip_message), "an hour stops being watched once final"


# ---- archive revisions -------------------------------------------------------------------------

REVISED_DAY = "2025-03-10"


def test_a_reuploaded_archive_file_brings_its_new_value_into_the_lake_and_the_table(emulator, tmp_path) -> None:
    emulator.reset()
    resources = lake_resources(str(tmp_path / "lake"), emulator.url, archive=True)
    instance = DagsterInstance.ephemeral()
    assert run_hours(resources, f"{REVISED_DAY}-00:00", f"{REVISED_DAY}-23:00", instance=instance).success
    days = build_day(BTC_CANDLES, REVISED_DAY, resources, instance)
    sensor = sensors.archive_revisions([BTC_CANDLES], [], HOURS)
    sensor_resources = {key: resources[key] for key in ("binance_archive", "binance", "warehouse")}
    checksums_before = sum(v for k, v in emulator.stats()["requests"].items() if k.endswith(".CHECKSUM"))
    result, cursor = evaluate(sensor, instance, sensor_resources)
    assert isinstance(result, SkipReason) and "1 archive files unchanged" in result.skip_message
    assert sum(v for k, v in emulator.stats()["requests"].items() if k.endswith(".CHECKSUM")) - checksums_before == 1

    minute = at(f"{REVISED_DAY}T07:31")
    try:
        emulator.revise_archive("BTCUSDT", minute, 5, "123.45678")  # the volume of 07:31
        result, cursor = evaluate(sensor, instance, sensor_resources, cursor)
        (request,) = requests_of(result)
        (observation,) = result.asset_events
        assert observation.metadata["revised_file"].value.endswith(f"BTCUSDT-1m-{REVISED_DAY}.zip")
        assert observation.metadata["old_sha256"].value != observation.metadata["new_sha256"].value
        assert [request.tags[tag] for tag in sensors.RANGE_TAGS] == [f"{REVISED_DAY}-00:00", f"{REVISED_DAY}-23:00"]
        execute(request, [BTC_CANDLES.raw, BTC_CANDLES.cooked], resources, instance)
    finally:
        emulator.reset()
    build_day(BTC_CANDLES, REVISED_DAY, resources, instance, days)
    row = scan_table(resources["warehouse"].catalog(), CANDLES).filter(pl.col("candle_open_time").dt.epoch("ms") == minute).collect()
    assert row["btc_volume"].cast(pl.String).to_list() == ["123.45678000"]


# ---- the gap ledger ----------------------------------------------------------------------------

LEDGER_DAY = "2025-03-11"
OUTAGE = (at(f"{LEDGER_DAY}T05:10"), at(f"{LEDGER_DAY}T05:13"))


def test_the_ledger_tells_an_exchange_outage_from_a_pair_gap(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BINANCE_SYMBOLS", "BTCUSDT,BTCUSDC")
    usdc = pair_assets("BTCUSDC", "2025-01-01-00:00")[0]
    with EmulatorProcess(outages=[OUTAGE]) as emulator:
        resources = lake_resources(str(tmp_path / "lake"), emulator.url, archive=True)
        instance = DagsterInstance.ephemeral()
        for pair in (BTC_CANDLES, usdc):
            hours = materialize([pair.raw, pair.cooked], resources=resources, instance=instance, raise_on_error=False,
                                tags={"dagster/asset_partition_range_start": f"{LEDGER_DAY}-00:00",
                                      "dagster/asset_partition_range_end": f"{LEDGER_DAY}-23:00"})
            assert hours.success, failure_messages(hours)
        build_day(BTC_CANDLES, LEDGER_DAY, resources, instance)
    ledger = scan_table(resources["warehouse"].catalog(), GAPS).collect()
    found = dict(zip(ledger["minute"].dt.epoch("ms").to_list(), ledger["cause"].to_list()))
    expected = market.missing_minutes("BTCUSDT", at(f"{LEDGER_DAY}T00:00"), at(f"{LEDGER_DAY}T23:59"), outages=[OUTAGE])
    assert found == expected
    assert set(found.values()) == {"exchange", "pair"}
    assert [found[m] for m in range(OUTAGE[0], OUTAGE[1], 60_000)] == ["exchange"] * 3


def test_a_minute_rest_lost_is_pending_then_recovered_from_the_archive(emulator, tmp_path) -> None:
    emulator.reset()
    day, lost = "2025-03-12", at("2025-03-12T09:17")
    rest_only = lake_resources(str(tmp_path / "lake"), emulator.url)
    instance = DagsterInstance.ephemeral()
    emulator.set_faults([{"kind": "rest_gap", "path": "/api/v3/klines", "minute": lost}])
    try:
        assert run_hours(rest_only, f"{day}-00:00", f"{day}-23:00", instance=instance).success
    finally:
        emulator.reset()
    days = build_day(BTC_CANDLES, day, rest_only, instance)
    catalog = rest_only["warehouse"].catalog()
    ledger = scan_table(catalog, GAPS).collect()
    assert dict(zip(ledger["minute"].dt.epoch("ms").to_list(), ledger["cause"].to_list()))[lost] == "pending"

    archived = lake_resources(str(tmp_path / "lake"), emulator.url, archive=True)
    sensor = sensors.archive_revisions([BTC_CANDLES], [], HOURS)
    result, _ = evaluate(sensor, instance, {key: archived[key] for key in ("binance_archive", "binance", "warehouse")})
    spans = [(r.tags[sensors.RANGE_TAGS[0]], r.tags[sensors.RANGE_TAGS[1]]) for r in requests_of(result)]
    assert any(first <= "2025-03-12-09:00" <= last for first, last in spans), spans
    assert all(first[:10] == last[:10] == day for first, last in spans), "only hours with pending gaps"
    for request in requests_of(result):
        execute(request, [BTC_CANDLES.raw, BTC_CANDLES.cooked], archived, instance)
    build_day(BTC_CANDLES, day, archived, instance, days)
    ledger = scan_table(catalog, GAPS).collect()
    causes = dict(zip(ledger["minute"].dt.epoch("ms").to_list(), ledger["cause"].to_list()))
    assert causes[lost] == "recovered", "present now, kept as history"
    assert "pending" not in causes.values()
