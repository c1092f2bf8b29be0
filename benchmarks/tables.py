"""Query-layer benchmark: a year of one pair's candles as 8,760 hourly Parquet files versus the
Iceberg table ``binance.candles`` holding the same rows as 365 pair-days.

    python benchmarks/tables.py            # 2025, BTCUSDT, median of 5 runs
    python benchmarks/tables.py --runs 3 --keep /tmp/tables-bench

In one temporary folder it generates the year's one-minute candles with polars expressions (a
seeded random walk, about one minute in 500 missing, values exact in decimal(38,8)), writes them
as cooked hours in the lake's hive layout
(``cooked/candles/symbol=BTCUSDT/year=YYYY/month=MM/day=DD/hour=HH/data.parquet``) and as 365
``write_day`` calls into an Iceberg table (SQLite catalog, local warehouse), then times the same
monthly query (max high, summed BTC volume, candle count per month) four ways: polars
``scan_iceberg``, DuckDB over pyiceberg's Arrow scan, polars ``scan_parquet`` and DuckDB
``read_parquet`` over the hourly files (hive partitioning). All four answers must be equal.
Printed: median wall seconds per engine and its ratio to the hourly files, file counts and sizes,
and the time to write the 365 days.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import polars as pl
from pyiceberg.catalog import Catalog

from binance_assets.datasets.candles import CANDLES, COLUMNS
from binance_assets.iceberg.catalog import open_catalog
from binance_assets.iceberg.days import write_day
from binance_assets.iceberg.tables import arrow_table, open_table, scan_table

SYMBOL = "BTCUSDT"
REBUILDS = 10
MISSING_ONE_IN = 500


def _uniform(seed: int) -> pl.Expr:
    """A uniform number in (0, 1) per row, from a hash of the row number: polars has no random
    normal generator, and a hash keeps the year reproducible."""
    return ((pl.int_range(pl.len(), dtype=pl.UInt64).hash(seed) // 2**11).cast(pl.Float64) + 0.5) / 2.0**53


def _normal(seed: int) -> pl.Expr:
    """A standard normal number per row (Box-Muller)."""
    return (-2.0 * _uniform(seed).log()).sqrt() * (2.0 * 3.141592653589793 * _uniform(seed + 1)).cos()


def _decimal(units: pl.Expr, decimals: int) -> pl.Expr:
    """Integer ``units`` of 10^-decimals as an exact decimal(38,8), through its text."""
    scale = 10**decimals
    fraction = (units % scale).cast(pl.String).str.zfill(decimals)
    return pl.format("{}.{}", units // scale, fraction).cast(pl.Decimal(38, 8))


def year_of_candles(year: int) -> pl.DataFrame:
    """The year's one-minute candles of ``SYMBOL`` in the cooked contract's columns and types."""
    start = datetime(year, 1, 1, tzinfo=timezone.utc)
    end = datetime(year, 12, 31, 23, 59, tzinfo=timezone.utc)
    minutes = pl.datetime_range(start, end, "1m", time_unit="ms", time_zone="UTC", eager=True)
    walk = pl.DataFrame({"candle_open_time": minutes}).with_columns(
        (95_000 * (0.0009 * _normal(1)).cum_sum().exp() * 100).round().cast(pl.Int64).alias("close"),
        _normal(3).abs().alias("up"),
        _normal(5).abs().alias("down"),
        (3.0 * (0.8 * _normal(7)).exp() * 1e8).cast(pl.Int64).alias("volume"),
        (150 + _uniform(9) * 400).cast(pl.Int64).alias("number_of_trades"),
        (pl.int_range(pl.len(), dtype=pl.UInt64).hash(11) % MISSING_ONE_IN == 0).alias("missing"),
    )
    cents = walk.with_columns(pl.col("close").shift(1, fill_value=pl.col("close").first()).alias("open"))
    cents = cents.with_columns(
        (pl.max_horizontal("open", "close") + (pl.col("up") * pl.col("open") * 0.00035).cast(pl.Int64)).alias("high"),
        (pl.min_horizontal("open", "close") - (pl.col("down") * pl.col("open") * 0.00035).cast(pl.Int64)).alias("low"),
    )
    typed = cents.filter(~pl.col("missing")).select(
        pl.lit(SYMBOL).alias("trading_pair"),
        _decimal(pl.col("open"), 2).alias("open_price"),
        _decimal(pl.col("close"), 2).alias("close_price"),
        _decimal(pl.col("high"), 2).alias("high_price"),
        _decimal(pl.col("low"), 2).alias("low_price"),
        _decimal(pl.col("volume"), 8).alias("btc_volume"),
        _decimal(pl.col("volume") * pl.col("close") // 100, 8).alias("usd_volume"),
        "number_of_trades",
        "candle_open_time",
        (pl.col("candle_open_time") + pl.duration(milliseconds=59_999)).alias("candle_close_time"),
    )
    assert typed.schema == pl.Schema({column.name: column.dtype for column in COLUMNS})
    return typed


def write_hourly_files(frame: pl.DataFrame, root: Path) -> int:
    """The cooked zone's layout, one Parquet file per hour; returns the number of files."""
    keyed = frame.with_columns(pl.col("candle_open_time").dt.truncate("1h").alias("hour_start"))
    hours = keyed.partition_by("hour_start", as_dict=True, include_key=False)
    for (hour,), rows in hours.items():
        folder = root / (
            f"cooked/candles/symbol={SYMBOL}/year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}"
        )
        folder.mkdir(parents=True, exist_ok=True)
        rows.write_parquet(folder / "data.parquet")
    return len(hours)


def monthly(frame: pl.LazyFrame) -> pl.DataFrame:
    """The benchmark query in polars."""
    return (
        frame.group_by(pl.col("candle_open_time").dt.truncate("1mo").alias("month_start"))
        .agg(
            pl.col("high_price").max().alias("high"),
            pl.col("btc_volume").sum().alias("volume"),
            pl.len().alias("candles"),
        )
        .sort("month_start")
        .collect()
    )


MONTHLY_SQL = """
    SELECT date_trunc('month', candle_open_time) AS month_start, max(high_price) AS high,
           sum(btc_volume) AS volume, count(*) AS candles
    FROM {source} GROUP BY 1 ORDER BY 1
"""


def _duckdb() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def answer(rows: list[tuple] | pl.DataFrame) -> list[tuple[int, str, str, int]]:
    """A query result as comparable text: month number, max high, summed volume, count."""
    if isinstance(rows, pl.DataFrame):
        rows = rows.rows()
    return [(month.month, f"{high:.8f}", f"{volume:.8f}", int(count)) for month, high, volume, count in rows]


def timed(query: Callable[[], list[tuple[int, str, str, int]]], runs: int) -> tuple[float, list]:
    """Median wall seconds of ``runs`` runs, and the answer."""
    seconds, result = [], []
    for _ in range(runs):
        started = time.perf_counter()
        result = query()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def _size(paths: list[Path]) -> str:
    return f"{sum(path.stat().st_size for path in paths) / 1e6:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tables-bench-") as temporary:
        run(args.year, args.runs, args.keep or Path(temporary))


def run(year: int, runs: int, root: Path) -> None:
    started = time.perf_counter()
    frame = year_of_candles(year)
    print(f"generated {frame.height:,} candles of {SYMBOL} {year} in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    hourly_count = write_hourly_files(frame, root / "lake")
    hourly_seconds = time.perf_counter() - started

    catalog = open_catalog(f"sqlite:///{root / 'catalog.db'}", str(root / "lake" / "tables"))
    keyed = frame.with_columns(pl.col("candle_open_time").dt.date().alias("day"))
    days = keyed.partition_by("day", as_dict=True, include_key=False)
    started = time.perf_counter()
    slowest = 0.0
    for (day,), rows in sorted(days.items()):
        one = time.perf_counter()
        write_day(catalog, CANDLES, SYMBOL, day, rows)
        slowest = max(slowest, time.perf_counter() - one)
    iceberg_seconds = time.perf_counter() - started
    first_days = sorted(days.items())[:REBUILDS]
    rebuild_seconds = statistics.median(_rebuild(catalog, day, rows) for (day,), rows in first_days)
    table = open_table(catalog, CANDLES)

    hourly_glob = f"{root}/lake/cooked/candles/**/*.parquet"
    hourly_sql = MONTHLY_SQL.format(source=f"read_parquet('{hourly_glob}', hive_partitioning = true)")
    queries = {
        "polars scan_iceberg": lambda: answer(monthly(scan_table(catalog, CANDLES))),
        "duckdb over iceberg scan": lambda: _duckdb_iceberg(catalog),
        "polars scan_parquet, hourly files": lambda: answer(
            monthly(pl.scan_parquet(hourly_glob, hive_partitioning=True))
        ),
        "duckdb read_parquet, hourly files": lambda: answer(_duckdb().sql(hourly_sql).fetchall()),
    }
    results = {name: timed(query, runs) for name, query in queries.items()}
    answers = {str(result) for _, result in results.values()}
    assert len(answers) == 1, "the engines disagree"
    assert sum(count for *_, count in next(iter(results.values()))[1]) == frame.height

    baseline = results["polars scan_parquet, hourly files"][0]
    data_files = [Path(path.removeprefix("file://")) for path in table.inspect.files()["file_path"].to_pylist()]
    hourly_files = list((root / "lake" / "cooked").rglob("*.parquet"))
    print()
    print(f"{'monthly query (median of ' + str(runs) + ')':<38}{'seconds':>9}{'vs hourly polars':>18}")
    for name, (seconds, _) in results.items():
        print(f"{name:<38}{seconds:>9.3f}{seconds / baseline:>17.2f}x")
    print()
    print(f"{'layout':<38}{'data files':>11}{'size':>10}{'write (s)':>11}")
    print(f"{'hourly Parquet (cooked zone)':<38}{hourly_count:>11,}{_size(hourly_files):>10}{hourly_seconds:>11.1f}")
    print(f"{'Iceberg binance.candles':<38}{len(data_files):>11,}{_size(data_files):>10}{iceberg_seconds:>11.1f}")
    print()
    print(
        f"write_day: {len(days)} days in {iceberg_seconds:.1f} s, {iceberg_seconds / len(days) * 1000:.0f} ms a day "
        f"on average, slowest {slowest * 1000:.0f} ms; rebuilding a day of the full year: "
        f"{rebuild_seconds * 1000:.0f} ms (median of {REBUILDS}); the table keeps {len(table.snapshots())} "
        f"snapshots, {len(table.current_snapshot().manifests(table.io))} manifests"
    )


def _rebuild(catalog: Catalog, day: date, rows: pl.DataFrame) -> float:
    """Seconds to write a day again, as the daily asset does when its hours were re-materialized."""
    started = time.perf_counter()
    write_day(catalog, CANDLES, SYMBOL, day, rows)
    return time.perf_counter() - started


def _duckdb_iceberg(catalog: Catalog) -> list[tuple[int, str, str, int]]:
    """DuckDB without its iceberg extension: pyiceberg plans the scan and hands Arrow over."""
    candles = arrow_table(catalog, CANDLES, columns=("candle_open_time", "high_price", "btc_volume"))
    return answer(_duckdb().sql(MONTHLY_SQL.format(source="candles")).fetchall())


if __name__ == "__main__":
    main()
