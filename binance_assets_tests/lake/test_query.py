"""The README's way to query the lake: polars and DuckDB over the cooked tables, local and S3."""

from __future__ import annotations

import uuid

import duckdb
import polars as pl
import pytest

from binance_assets.lake.query import DUCKDB_HIVE_TYPES, arrow_dataset, scan
from binance_assets_tests.runs import ALL_ASSETS, lake_resources, run_hours

START, END = "2025-03-01-12:00", "2025-03-01-14:00"


@pytest.fixture(params=["local", "s3"])
def filled_lake(request, emulator, tmp_path, monkeypatch) -> str:
    if request.param == "local":
        lake = str(tmp_path / "lake")
        resources = lake_resources(lake, emulator.url)
    else:
        server = request.getfixturevalue("s3_server")
        bucket = f"query-{uuid.uuid4().hex[:8]}"
        server.create_bucket(bucket)
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        lake = f"s3://{bucket}/lake"
        resources = lake_resources(lake, emulator.url, s3_endpoint=server.url)
    assert run_hours(resources, START, END, assets=ALL_ASSETS).success
    return lake


def test_polars_reads_cooked_tables_with_hive_partitions(filled_lake):
    candles = scan(filled_lake, "candles").filter(pl.col("hour") == 13).collect()
    assert candles.height > 50 and set(candles["trading_pair"]) == {"BTCUSDT"}
    assert candles.schema["open_price"] == pl.Decimal(38, 8)
    orders = scan(filled_lake, "orders").group_by("hour").agg(pl.len()).collect()
    assert dict(orders.iter_rows())[13] > 1000


def test_duckdb_queries_cooked_tables(filled_lake):
    candles = arrow_dataset(filled_lake, "candles")  # noqa: F841  (DuckDB finds it by name)
    rows = duckdb.sql(
        "SELECT hour, count(*), min(low_price), max(high_price) FROM candles GROUP BY hour ORDER BY hour"
    ).fetchall()
    assert [row[0] for row in rows] == [12, 13, 14]
    assert duckdb.sql("SELECT typeof(open_price) FROM candles LIMIT 1").fetchall()[0][0] == "DECIMAL(38,8)"
    orders = arrow_dataset(filled_lake, "orders")  # noqa: F841
    by_status = dict(duckdb.sql("SELECT status, count(*) FROM orders GROUP BY status").fetchall())
    assert {"FILLED", "CANCELED"} <= set(by_status)


def test_partition_columns_are_the_same_integers_in_every_engine(filled_lake):
    polars_types = scan(filled_lake, "candles").collect_schema()
    assert [polars_types[name] for name in ("year", "month", "day", "hour")] == [pl.Int64] * 4
    candles = arrow_dataset(filled_lake, "candles")  # noqa: F841
    arrow_types = duckdb.sql("SELECT typeof(year), typeof(month), typeof(day), typeof(hour) FROM candles LIMIT 1")
    assert arrow_types.fetchall()[0] == ("BIGINT",) * 4
    if filled_lake.startswith("s3://"):
        return  # plain DuckDB on S3 needs its httpfs extension, which is not installed offline
    plain = duckdb.sql(
        f"SELECT typeof(month), typeof(hour), symbol FROM read_parquet('{filled_lake}/cooked/candles/*/*/*/*/*/data.parquet', "
        f"hive_partitioning = true, hive_types = {DUCKDB_HIVE_TYPES}) LIMIT 1"
    ).fetchall()[0]
    assert plain == ("BIGINT", "BIGINT", "BTCUSDT")
