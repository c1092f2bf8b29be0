"""The Iceberg query layer with real pyiceberg and real catalogs: SQLite, PostgreSQL (a fresh
database per run), and an S3 warehouse on moto's server over HTTP.

Days are built from the emulator's deterministic market and account (the numbers Binance's API
would send for them), typed to the cooked contract by hand, so these tests do not depend on how
cooking is implemented.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from pyiceberg.catalog import Catalog

from binance_assets.datasets import candles, orders
from binance_assets.datasets.candles import CANDLES
from binance_assets.datasets.contract import Column
from binance_assets.datasets.orders import ORDERS
from binance_assets.iceberg.catalog import CatalogUnavailable, catalog_url, open_catalog, warehouse_location
from binance_assets.iceberg.days import DayWriteConflict, write_day, write_table_day
from binance_assets.iceberg.maintenance import expired_snapshots
from binance_assets.iceberg.tables import arrow_table, open_table, scan_table
from binance_assets_tests.postgres import fresh_database
from binance_assets_tests.servers import MotoS3Server
from binance_emulator import account, market

DAY = date(2025, 6, 15)
NEXT_DAY = DAY + timedelta(days=1)
DAY_MS = 86_400_000
def _start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def _typed(source: pl.DataFrame, columns: list[Column]) -> pl.DataFrame:
    """Binance's fields (strings and integers as sent) as the contract's columns and types."""

    def convert(column: Column) -> pl.Expr:
        value = pl.col(column.source)
        if isinstance(column.dtype, pl.Datetime):
            return value.cast(pl.Int64).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
        return value.cast(pl.String).cast(column.dtype)

    return source.select(convert(column).alias(column.name) for column in columns)


def binance_klines(symbol: str, day: date) -> pl.DataFrame:
    """The day's kline rows as the emulator serves them, one column per Binance field."""
    start = _start_ms(day)
    rows = market.minute_rows(symbol, start, start + DAY_MS - 1, now_ms=start + 2 * DAY_MS)
    frame = pl.DataFrame(rows, orient="row", schema=candles.KLINE_FIELDS, strict=False)
    return frame.with_columns(pl.lit(symbol).alias("symbol"))


def candles_frame(symbol: str, day: date) -> pl.DataFrame:
    """A pair's cooked day of candles (the union of its 24 hours)."""
    return _typed(binance_klines(symbol, day), candles.COLUMNS)


def orders_frame(symbol: str, day: date) -> pl.DataFrame:
    """A pair's cooked day of orders."""
    start = _start_ms(day)
    found = account.orders_between(symbol, start, start + DAY_MS - 1, now_ms=start + 2 * DAY_MS)
    return _typed(pl.DataFrame(found, infer_schema_length=None), orders.COLUMNS)


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every value as text: decimals digit for digit, timestamps as epoch milliseconds."""
    return frame.with_columns(pl.col(pl.Datetime).dt.epoch("ms")).cast(pl.String)


def _pair_day(frame: pl.DataFrame, symbol_column: str, time_column: str, symbol: str, day: date) -> pl.DataFrame:
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return frame.filter(
        (pl.col(symbol_column) == symbol)
        & pl.col(time_column).is_between(start, start + timedelta(days=1), closed="left")
    ).sort(time_column)


def _live_files(catalog: Catalog, dataset: Any) -> list[dict[str, Any]]:
    return open_table(catalog, dataset).inspect.files().select(["file_path", "partition"]).to_pylist()


# ---- catalogs ------------------------------------------------------------------------------


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    """A fresh database. The URL has the bare ``postgresql://`` scheme, which ``open_catalog``
    must turn into psycopg2's."""
    with fresh_database("iceberg_test", scheme="postgresql") as url:
        yield url


def _sqlite_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'data' / 'catalog.db'}"


@pytest.fixture(params=["sqlite", "postgres", "s3"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """Each test that takes it runs three times: SQLite catalog and local warehouse, PostgreSQL
    catalog and local warehouse, SQLite catalog and an S3 warehouse (moto over HTTP)."""
    if request.param == "postgres":
        opened = open_catalog(request.getfixturevalue("postgres_uri"), str(tmp_path / "warehouse"))
    elif request.param == "s3":
        server: MotoS3Server = request.getfixturevalue("s3_server")
        bucket = f"lake-{uuid.uuid4().hex[:8]}"
        server.create_bucket(bucket)
        opened = open_catalog(_sqlite_uri(tmp_path), f"s3://{bucket}/tables", server.env())
    else:
        opened = open_catalog(_sqlite_uri(tmp_path), str(tmp_path / "warehouse"))
    yield opened
    opened.close()


@pytest.fixture
def local_catalog(tmp_path: Path) -> Iterator[Catalog]:
    opened = open_catalog(_sqlite_uri(tmp_path), str(tmp_path / "warehouse"))
    yield opened
    opened.close()


# ---- the contract on every catalog ------------------------------------------------------------


def test_a_day_reads_back_exactly(catalog: Catalog) -> None:
    """Rows read back equal the written ones digit for digit (decimals as text) and instant for
    instant, in the contract's columns, order and types, for candles and orders."""
    klines = binance_klines("BTCUSDT", DAY)
    written = {CANDLES: candles_frame("BTCUSDT", DAY), ORDERS: orders_frame("BTCUSDT", DAY)}
    for dataset, frame in written.items():
        result = write_day(catalog, dataset, "BTCUSDT", DAY, frame)
        assert (result.rows, result.data_files, result.table) == (frame.height, 1, f"binance.{dataset.name}")

        back = scan_table(catalog, dataset).collect()
        time_column = dataset.time_column
        assert back.schema == frame.schema
        assert _as_text(back.sort(time_column)).equals(_as_text(frame.sort(time_column)))

    back = scan_table(catalog, CANDLES).sort("candle_open_time").collect()
    assert back["open_price"].cast(pl.String).to_list() == klines["open"].to_list()  # Binance's own text
    assert back["candle_open_time"].dt.epoch("ms").to_list() == klines["open_time"].to_list()
    assert back.height == 1440 - len(
        [m for m in range(1440) if market.is_missing("BTCUSDT", _start_ms(DAY) + m * 60_000)]
    )


def test_one_data_file_per_pair_and_day(catalog: Catalog) -> None:
    """Two pairs and two days in one table: four partitions, one file each, rows kept apart."""
    for symbol in ("BTCUSDT", "BTCUSDC"):
        for day in (DAY, NEXT_DAY):
            assert write_day(catalog, CANDLES, symbol, day, candles_frame(symbol, day)).data_files == 1

    files = _live_files(catalog, CANDLES)
    partitions = {(file["partition"]["trading_pair"], file["partition"]["candle_open_time_day"]) for file in files}
    assert len(files) == 4
    assert len(partitions) == 4
    table = scan_table(catalog, CANDLES).collect()
    for symbol in ("BTCUSDT", "BTCUSDC"):
        for day in (DAY, NEXT_DAY):
            part = _pair_day(table, "trading_pair", "candle_open_time", symbol, day)
            assert _as_text(part).equals(_as_text(candles_frame(symbol, day)))


def test_rebuilding_a_day_is_idempotent(catalog: Catalog) -> None:
    """Rewriting the same day adds snapshots, never rows: same rows, one live file."""
    frame = candles_frame("BTCUSDT", DAY)
    other = write_day(catalog, CANDLES, "BTCUSDC", DAY, candles_frame("BTCUSDC", DAY))
    snapshots = []
    for _ in range(3):
        result = write_day(catalog, CANDLES, "BTCUSDT", DAY, frame)
        snapshots.append(len(open_table(catalog, CANDLES).snapshots()))
        assert result.data_files == 1
    assert snapshots[0] < snapshots[1] < snapshots[2]
    table = scan_table(catalog, CANDLES).collect()
    assert table.height == frame.height + other.rows
    assert _as_text(_pair_day(table, "trading_pair", "candle_open_time", "BTCUSDT", DAY)).equals(_as_text(frame))
    assert len(_live_files(catalog, CANDLES)) == 2


# ---- writing a day ------------------------------------------------------------------------------


def test_an_empty_day_deletes_the_pair_day(local_catalog: Catalog) -> None:
    frame = orders_frame("BTCUSDT", DAY)
    write_day(local_catalog, ORDERS, "BTCUSDT", DAY, frame)
    write_day(local_catalog, ORDERS, "BTCUSDC", DAY, orders_frame("BTCUSDC", DAY))

    result = write_day(local_catalog, ORDERS, "BTCUSDT", DAY, frame.clear())

    assert (result.rows, result.data_files) == (0, 0)
    assert scan_table(local_catalog, ORDERS).collect()["symbol"].unique().to_list() == ["BTCUSDC"]


def test_a_frame_outside_the_pair_day_or_contract_is_refused(local_catalog: Catalog) -> None:
    frame = candles_frame("BTCUSDT", DAY)
    with pytest.raises(ValueError, match="not BTCUSDC rows of 2025-06-15"):
        write_day(local_catalog, CANDLES, "BTCUSDC", DAY, frame)
    with pytest.raises(ValueError, match="not BTCUSDT rows of 2025-06-16"):
        write_day(local_catalog, CANDLES, "BTCUSDT", NEXT_DAY, frame)
    with pytest.raises(ValueError, match="'open_price' has type Float64"):
        write_day(local_catalog, CANDLES, "BTCUSDT", DAY, frame.with_columns(pl.col("open_price").cast(pl.Float64)))
    assert open_table(local_catalog, CANDLES).current_snapshot() is None


def test_metadata_for_dagster(local_catalog: Catalog) -> None:
    result = write_day(local_catalog, CANDLES, "BTCUSDT", DAY, candles_frame("BTCUSDT", DAY))
    metadata = result.metadata()
    assert metadata["table"] == "binance.candles"
    assert metadata["rows"] == result.rows and metadata["data_files"] == 1
    assert metadata["snapshot_id"] == str(open_table(local_catalog, CANDLES).current_snapshot().snapshot_id)
    assert str(metadata["table_location"]).startswith("file:///") and metadata["commit_attempts"] == 1


def test_duckdb_reads_the_table_through_arrow(local_catalog: Catalog) -> None:
    frame = candles_frame("BTCUSDT", DAY)
    write_day(local_catalog, CANDLES, "BTCUSDT", DAY, frame)
    candles_table = arrow_table(local_catalog, CANDLES, columns=("high_price", "btc_volume"))
    high, volume = duckdb.sql("SELECT max(high_price), sum(btc_volume) FROM candles_table").fetchall()[0]
    assert (high, volume) == (frame["high_price"].max(), frame["btc_volume"].sum())


# ---- concurrent writers ---------------------------------------------------------------------------


def test_a_writer_that_lost_the_race_redoes_or_fails_loudly(local_catalog: Catalog) -> None:
    """A writer holding the table as it was before another writer replaced the same day (what a
    concurrent process has): with one attempt it fails naming table, pair and day; with two it
    refreshes, redoes the overwrite and its rows are the day's, in one file."""
    first, second = candles_frame("BTCUSDT", DAY), candles_frame("BTCUSDT", DAY)
    second = second.with_columns(pl.col("number_of_trades") + 1)
    write_day(local_catalog, CANDLES, "BTCUSDT", DAY, first)

    stale = open_table(local_catalog, CANDLES)
    write_day(local_catalog, CANDLES, "BTCUSDT", DAY, first)
    with pytest.raises(DayWriteConflict, match=r"binance\.candles: writing BTCUSDT 2025-06-15 failed after 1 attempts"):
        write_table_day(stale, CANDLES, "BTCUSDT", DAY, second, attempts=1)

    stale = open_table(local_catalog, CANDLES)
    write_day(local_catalog, CANDLES, "BTCUSDT", DAY, first)
    result = write_table_day(stale, CANDLES, "BTCUSDT", DAY, second, attempts=2)

    assert (result.attempts, result.data_files) == (2, 1)
    back = scan_table(local_catalog, CANDLES).collect()
    assert _as_text(back.sort("candle_open_time")).equals(_as_text(second))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_rebuilds_leave_one_consistent_day(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Four threads, each with its own catalog connection like separate processes, rebuild the
    same day at once with two versions of it, while a fifth writes another pair: every writer
    either lands (retrying conflicts) or fails loudly, and the day is one whole version in one
    file."""
    uri = _sqlite_uri(tmp_path) if backend == "sqlite" else request.getfixturevalue("postgres_uri")
    warehouse = str(tmp_path / "warehouse")
    original = candles_frame("BTCUSDT", DAY)
    versions = [original, original.with_columns(pl.col("number_of_trades") * 2)]
    jobs = [("BTCUSDT", versions[index % 2]) for index in range(4)]
    jobs.append(("BTCUSDC", candles_frame("BTCUSDC", DAY)))
    setup = open_catalog(uri, warehouse)
    open_table(setup, CANDLES)  # created once, as the first daily run would
    setup.close()
    barrier = threading.Barrier(len(jobs))
    outcomes: list[Any] = [None] * len(jobs)

    def rebuild(index: int) -> None:
        own = open_catalog(uri, warehouse)
        symbol, frame = jobs[index]
        barrier.wait()
        try:
            outcomes[index] = write_day(own, CANDLES, symbol, DAY, frame)
        except Exception as error:  # checked below, with the others' outcomes
            outcomes[index] = error
        finally:
            own.close()

    threads = [threading.Thread(target=rebuild, args=(index,)) for index in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert all(outcome is not None for outcome in outcomes)
    conflicts = [outcome for outcome in outcomes if isinstance(outcome, DayWriteConflict)]
    assert [outcome for outcome in outcomes if isinstance(outcome, Exception)] == conflicts
    assert all("binance.candles" in str(error) and "BTCUSDT 2025-06-15" in str(error) for error in conflicts)
    assert not isinstance(outcomes[-1], DayWriteConflict)  # another pair's day never conflicts for good
    check = open_catalog(uri, warehouse)
    table = scan_table(check, CANDLES).collect()
    day = _as_text(_pair_day(table, "trading_pair", "candle_open_time", "BTCUSDT", DAY))
    assert any(day.equals(_as_text(version)) for version in versions)
    assert _pair_day(table, "trading_pair", "candle_open_time", "BTCUSDC", DAY).height == jobs[-1][1].height
    assert len(_live_files(check, CANDLES)) == 2
    check.close()


# ---- snapshot expiry ------------------------------------------------------------------------------


def _files_under(folder: Path, pattern: str) -> list[Path]:
    return [path for path in folder.rglob(pattern) if path.is_file()]


def test_snapshot_expiry_keeps_history_and_files_bounded(local_catalog: Catalog, tmp_path: Path) -> None:
    """Many rebuilds keep the table's last N snapshots (4 here, to be quick), and the files only
    expired snapshots referenced (replaced data files, manifests, manifest lists) are deleted;
    metadata.json files stop at the table's 20 previous versions."""
    table = open_table(local_catalog, CANDLES)
    with table.transaction() as transaction:
        transaction.set_properties({"history.expire.min-snapshots-to-keep": "4"})
    frame = candles_frame("BTCUSDT", DAY)
    first = write_day(local_catalog, CANDLES, "BTCUSDT", DAY, frame)
    first_file = _live_files(local_catalog, CANDLES)[0]["file_path"]
    for _ in range(14):
        result = write_day(local_catalog, CANDLES, "BTCUSDT", DAY, frame)

    warehouse = tmp_path / "warehouse"
    assert result.expired_snapshots == 2  # each rebuild: two snapshots in, two out
    assert len(open_table(local_catalog, CANDLES).snapshots()) == 4
    assert open_table(local_catalog, CANDLES).snapshot_by_id(first.snapshot_id) is None
    assert not Path(first_file.removeprefix("file://")).exists()
    assert len(_files_under(warehouse, "*.parquet")) <= 3  # the live file and two older versions
    assert len(_files_under(warehouse, "snap-*.avro")) == 4  # one manifest list per snapshot
    assert len(_files_under(warehouse, "*.metadata.json")) == 21
    assert scan_table(local_catalog, CANDLES).collect().height == frame.height


def test_default_retention_keeps_the_last_twenty(local_catalog: Catalog) -> None:
    frame = orders_frame("BTCUSDT", DAY)
    expired = [write_day(local_catalog, ORDERS, "BTCUSDT", DAY, frame).expired_snapshots for _ in range(12)]
    table = open_table(local_catalog, ORDERS)
    assert len(table.snapshots()) == 20  # first build: one append; each rebuild: delete + append
    assert sum(expired) == 1 + 11 * 2 - 20
    assert expired_snapshots(table, int(datetime.now(timezone.utc).timestamp() * 1000)) == []


# ---- opening the catalog --------------------------------------------------------------------------


def test_catalog_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default SQLite path gets its folder; a relative warehouse becomes an absolute file URI;
    a bare postgresql:// URL uses psycopg2."""
    monkeypatch.chdir(tmp_path)
    open_catalog("sqlite:///data/catalog.db", "data/lake/tables").close()
    assert (tmp_path / "data" / "catalog.db").is_file()
    assert warehouse_location("data/lake/tables") == (tmp_path / "data/lake/tables").as_uri()
    assert warehouse_location("s3://bucket/tables/") == "s3://bucket/tables"
    assert catalog_url("postgresql://user@host/db").drivername == "postgresql+psycopg2"
    assert catalog_url("postgresql+psycopg2://user@host/db").drivername == "postgresql+psycopg2"


def test_an_unreachable_catalog_is_named_without_its_password() -> None:
    with pytest.raises(CatalogUnavailable) as raised:
        open_catalog("postgresql://reader:hunter2-secret@127.0.0.1:9/lake", "s3://bucket/tables",
                     {"AWS_SECRET_ACCESS_KEY": "aws-secret-value", "AWS_ACCESS_KEY_ID": "key"})
    message = str(raised.value)
    assert "127.0.0.1:9/lake" in message and "reader" in message
    assert "hunter2-secret" not in message and "aws-secret-value" not in message
