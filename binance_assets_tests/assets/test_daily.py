"""The daily assets: a pair's day in the Iceberg table equals its 24 hourly Parquet files, is one
data file, rebuilds idempotently, is pictured, checked, and built by the automation only from 24
complete hours that passed their blocking checks (and again when one of them changes)."""

from __future__ import annotations

import base64
import io
import re

import polars as pl
import pytest
from dagster import AssetSelection, DagsterInstance, Definitions, evaluate_automation_conditions, materialize
from PIL import Image
from pyiceberg.schema import Schema
from pyiceberg.types import DoubleType, NestedField

from binance_assets.assets.daily import day_checks
from binance_assets.partitions import day_hours
from binance_assets.datasets.candles import CANDLES
from binance_assets.iceberg.catalog import open_catalog
from binance_assets.iceberg.tables import iceberg_schema, open_table, pair_day_filter, scan_table, schema_problems
from binance_assets_tests.lake_files import local_files, parquet
from binance_assets_tests.runs import BTC_CANDLES, failure_messages, lake_resources, node, run_hours

DAY = "2025-03-02"
DAY_ASSETS = BTC_CANDLES.assets()
FIRST, LAST = f"{DAY}-00:00", f"{DAY}-23:00"


@pytest.fixture(scope="module")
def built(emulator, tmp_path_factory) -> tuple[dict, object, str]:
    """One day of BTCUSDT candles: its 24 hours, then the day, on one instance."""
    lake = str(tmp_path_factory.mktemp("daily") / "lake")
    resources = lake_resources(lake, emulator.url)
    instance = DagsterInstance.ephemeral()
    hours = run_hours(resources, FIRST, LAST, instance=instance)
    assert hours.success, failure_messages(hours)
    day = materialize(DAY_ASSETS, selection=[BTC_CANDLES.daily.key],
                      partition_key=DAY, resources=resources, instance=instance, raise_on_error=False)
    assert day.success, failure_messages(day)
    return resources, day, lake


def stored_day(resources: dict, day: str = DAY) -> pl.DataFrame:
    catalog = resources["warehouse"].catalog()
    return scan_table(catalog, CANDLES).filter(pl.col("candle_open_time").dt.strftime("%Y-%m-%d") == day).collect()


def test_day_equals_its_24_hourly_files_digit_for_digit(built) -> None:
    resources, _, lake = built
    files = local_files(lake)
    hourly = pl.concat(
        [parquet(data) for key, data in sorted(files.items()) if key.startswith("cooked/candles/") and "/day=02/" in key]
    )
    stored = stored_day(resources).sort("candle_open_time")
    assert stored.height == hourly.height > 1400
    as_text = [pl.col(pl.Decimal).cast(pl.String), pl.col(pl.Datetime).dt.epoch("ms")]
    assert stored.with_columns(as_text).equals(hourly.with_columns(as_text))
    assert stored.schema == hourly.schema


def test_one_data_file_per_pair_day_and_rebuild_is_idempotent(built) -> None:
    resources, _, _ = built
    catalog = resources["warehouse"].catalog()
    table = open_table(catalog, CANDLES)
    day_filter = pair_day_filter(CANDLES, "BTCUSDT", pl.Series([DAY]).str.to_date()[0])
    assert len(list(table.scan(row_filter=day_filter).plan_files())) == 1
    before = stored_day(resources).height
    again = materialize(DAY_ASSETS, selection=[BTC_CANDLES.daily.key],
                        partition_key=DAY, resources=resources, raise_on_error=False)
    assert again.success, failure_messages(again)
    assert stored_day(resources).height == before
    assert len(list(open_table(catalog, CANDLES).scan(row_filter=day_filter).plan_files())) == 1


def test_day_is_pictured_and_checked(built) -> None:
    _, day, _ = built
    (materialization,) = day.asset_materializations_for_node(node("daily_candles"))
    picture = materialization.metadata["picture"].value
    encoded = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", picture)[1]
    png = base64.b64decode(encoded)
    assert len(png) < 80_000, "a year of events stays light"
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width >= 600 and image.height >= 300
    assert materialization.metadata["data_files"].value == 1
    evaluations = {(e.check_name, e.partition): e.passed for e in day.get_asset_check_evaluations()}
    assert evaluations == {("daily_rows", DAY): True, ("daily_schema", DAY): True}, "the day's own results"


def test_daily_checks_fail_on_a_table_that_differs_from_its_hours(tmp_path) -> None:
    """A pair-day whose table rows differ from its hours' fails ``daily_rows``; a table whose
    columns are off the contract (here a real Iceberg table with a double price) fails
    ``daily_schema``."""
    key = BTC_CANDLES.daily.key
    rows, schema = day_checks(key, {DAY: (1443, 1440)}, [], {})
    assert not rows.passed and rows.partition == DAY and rows.metadata["table_rows"].value == 1443
    assert schema.passed
    catalog = open_catalog(f"sqlite:///{tmp_path}/catalog.db", str(tmp_path / "tables"))
    catalog.create_namespace("binance")
    fields = iceberg_schema(CANDLES.columns).fields
    off = Schema(*[NestedField(f.field_id, f.name, DoubleType() if f.name == "open_price" else f.field_type, required=False) for f in fields])
    problems = schema_problems(catalog.create_table("binance.candles", schema=off), CANDLES.columns)
    assert problems == ["column 1 is 'open_price' (double), expected 'open_price' (decimal(38, 8))"]
    rows, schema = day_checks(key, {DAY: (1440, 1440)}, problems, {})
    assert rows.passed and not schema.passed


def test_automation_builds_a_day_once_its_hours_are_in_and_again_after_a_late_fix(emulator, tmp_path) -> None:
    resources = lake_resources(str(tmp_path / "lake"), emulator.url)
    instance = DagsterInstance.ephemeral()
    daily = AssetSelection.assets(BTC_CANDLES.daily)

    def requested(cursor=None):
        result = evaluate_automation_conditions(Definitions(assets=DAY_ASSETS, resources=resources), instance, asset_selection=daily, cursor=cursor)
        return result, {key for key in result.get_requested_partitions(BTC_CANDLES.daily.key)}

    assert run_hours(resources, FIRST, f"{DAY}-22:00", instance=instance).success
    result, days = requested()
    assert DAY not in days, "23 of 24 hours: the day waits"
    assert run_hours(resources, LAST, instance=instance).success
    result, days = requested(result.cursor)
    assert DAY in days, "the 24th hour completes the day"
    assert materialize(DAY_ASSETS, selection=[BTC_CANDLES.daily.key],
                       partition_key=DAY, resources=resources, instance=instance).success
    result, days = requested(result.cursor)
    assert DAY not in days, "built and nothing changed"
    assert run_hours(resources, day_hours(DAY)[7], instance=instance).success
    result, days = requested(result.cursor)
    assert DAY in days, "a late re-materialized hour rebuilds its day"


def test_a_day_with_an_hour_that_failed_a_blocking_check_waits_and_the_next_good_day_is_built(tmp_path) -> None:
    """A kline with high 1.00 (below its open and low) fails candles_valid on its hour: that day
    is neither requested by the automation nor built by hand, and its rows never reach the table;
    the good day after it is built."""
    from binance_emulator.process import EmulatorProcess

    bad_day, good_day = "2025-03-04", "2025-03-05"
    with EmulatorProcess() as faulty:
        resources = lake_resources(str(tmp_path / "lake"), faulty.url)
        instance = DagsterInstance.ephemeral()
        faulty.set_faults([{"kind": "set_value", "path": "/api/v3/klines", "count": 1, "field": 2, "value": "1.00000000"}])
        hours = run_hours(resources, f"{bad_day}-00:00", f"{good_day}-23:00", instance=instance)
    assert not hours.success and "candles_valid" in failure_messages(hours)
    failed = [e.partition for e in hours.get_asset_check_evaluations() if not e.passed and e.check_name == "candles_valid"]
    assert failed == [f"{bad_day}-08:00"]  # the first page's middle row

    result = evaluate_automation_conditions(Definitions(assets=DAY_ASSETS, resources=resources), instance,
                                            asset_selection=AssetSelection.assets(BTC_CANDLES.daily))
    assert set(result.get_requested_partitions(BTC_CANDLES.daily.key)) == {good_day}

    by_hand = materialize(DAY_ASSETS, selection=[BTC_CANDLES.daily.key], partition_key=bad_day,
                          resources=resources, instance=instance, raise_on_error=False)
    assert not by_hand.success
    assert f"{bad_day}-08:00: failed its blocking checks" in failure_messages(by_hand)
    good = materialize(DAY_ASSETS, selection=[BTC_CANDLES.daily.key], partition_key=good_day,
                       resources=resources, instance=instance, raise_on_error=False)
    assert good.success, failure_messages(good)
    assert stored_day(resources, bad_day).height == 0 and stored_day(resources, good_day).height > 1400


def test_a_day_with_an_open_hour_waits(emulator, tmp_path) -> None:
    """An hour stored open (no _SUCCESS: its answer was not complete) keeps its day out."""
    resources = lake_resources(str(tmp_path / "lake"), emulator.url)
    instance = DagsterInstance.ephemeral()
    day = "2025-03-06"
    assert run_hours(resources, f"{day}-00:00", f"{day}-23:00", instance=instance).success
    (tmp_path / "lake/raw/candles/symbol=BTCUSDT/year=2025/month=03/day=06/hour=05/_SUCCESS").unlink()
    again = run_hours(resources, f"{day}-05:00", instance=instance, selection=["candles"])
    assert again.success
    result = evaluate_automation_conditions(Definitions(assets=DAY_ASSETS, resources=resources), instance,
                                            asset_selection=AssetSelection.assets(BTC_CANDLES.daily))
    assert day not in set(result.get_requested_partitions(BTC_CANDLES.daily.key))
    by_hand = materialize(DAY_ASSETS, selection=[BTC_CANDLES.daily.key], partition_key=day,
                          resources=resources, instance=instance, raise_on_error=False)
    assert f"{day}-05:00: open" in failure_messages(by_hand)
