"""Backfill benchmark: single-run backfills of the whole candles graph against the emulator.

    python benchmarks/backfill.py                 # hour, day, month, year
    python benchmarks/backfill.py --only month --pairs "BTCUSDT;BTCUSDT,BTCUSDC,BTCFDUSD"
    python benchmarks/backfill.py --only year --instance postgres

For each span it runs, each in a fresh local lake and a fresh DAGSTER_HOME (SQLite by default;
``--instance postgres`` uses the production configuration instead: ``deploy/dagster.yaml``'s
PostgreSQL storage and concurrency pools, a fresh database per run on ``BENCH_PG_SERVER``
(default ``postgresql+psycopg2://postgres@127.0.0.1:5432``); compute logs stay local):

* ``floor-default``  the same asset keys and partitions as two hourly assets whose bodies do no
              work (``benchmarks/noop_definitions.py``), with Dagster's default settings (one
              planned event per partition, no event batching): Dagster's own cost per partition;
* ``floor``   the same, with the project's instance settings (one planned event per asset for a
              range, ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1``; on PostgreSQL
              ``DAGSTER_EVENT_BATCH_SIZE=200``), as every other variant runs;
* ``rest``    ``binance_assets.definitions`` with the bulk archive disabled;
* ``archive`` ``binance_assets.definitions`` reading old hours from the emulator's archive.

The ``hour`` span is one partition (``--partition``), as the hourly schedule runs it. Runs go
through the real CLI, ``dg launch --partition-range`` (``benchmarks/launch.py``), because that is
what an operator runs: a fresh process that loads the code location, the default multiprocess
executor (one process per step) and the instance. ``materialize()`` in-process would hide process
start-up and the executor.

Printed per run: wall time, CPU time (user + system of the run's processes, from ``os.wait4``),
candles, kline requests and all HTTP requests (emulator stats), peak RSS (largest process of the
run) and the ratios of wall and CPU time to the floors (on a shared machine CPU time is the
steadier of the two). For the longest span it also times
a scan of the cooked table with polars and DuckDB and checks that REST and archive produced the
same bytes. ``--pairs`` backfills several pairs in the one run (candles of each); sets of pairs
separated by ``;`` are measured one after the other in the same invocation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from binance_emulator.process import EmulatorProcess
from launch import EVENT_BATCH, FLOOR, PLANNED_SUBSET, REAL, REST_ONLY, fresh_setup, hours_in, launch

SPANS = {
    "hour": "2025-06-15-12:00",  # one partition, as the hourly schedule runs it
    "day": "2025-06-15-00:00...2025-06-15-23:00",
    "month": "2025-06-01-00:00...2025-06-30-23:00",
    "year": "2025-01-01-00:00...2025-12-31-23:00",
}


@dataclass(frozen=True)
class Variant:
    """One way of running the span: which code location, run config and instance environment."""

    name: str
    target: list[str]
    config: dict | None = None
    env: dict[str, str] | None = None


VARIANTS = {
    "floor-default": Variant("floor-default", FLOOR, env={PLANNED_SUBSET: "0", EVENT_BATCH: "0"}),
    "floor": Variant("floor", FLOOR),
    "rest": Variant("rest", REAL, REST_ONLY),
    "archive": Variant("archive", REAL),
}


@dataclass(frozen=True)
class Result:
    span: str
    variant: str
    hours: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    candles: int
    kline_requests: int
    http_requests: int
    lake: Path


def run(workdir: Path, span: str, variant: Variant, instance: str, pairs: list[str]) -> Result:
    """One single-run backfill of ``pairs`` through the CLI, in a fresh lake and instance."""
    base = workdir / f"{span}-{len(pairs)}p-{variant.name}"
    shutil.rmtree(base, ignore_errors=True)
    env = {**fresh_setup(base, instance, pairs), **(variant.env or {})}
    with EmulatorProcess() as emulator:
        measured = launch(emulator, env, pairs, SPANS[span], variant.target, variant.config)
    lake = Path(env["LAKE_URL"])
    cooked = lake / "cooked" / "candles"
    return Result(
        span=f"{span} {len(pairs)}p",
        variant=variant.name,
        hours=hours_in(SPANS[span]),
        wall_s=measured.wall_s,
        cpu_s=measured.cpu_s,
        peak_rss_mb=measured.peak_rss_mb,
        candles=_count(cooked) if cooked.exists() else 0,
        kline_requests=measured.kline_requests,
        http_requests=sum(measured.requests.values()),
        lake=lake,
    )


def _count(cooked: Path) -> int:
    return pl.scan_parquet(f"{cooked}/**/*.parquet", hive_partitioning=True).select(pl.len()).collect().item()


def scan_times(cooked: Path) -> dict[str, float]:
    """Seconds to aggregate the whole cooked table, with polars and with DuckDB (hive layout)."""
    started = time.monotonic()
    pl.scan_parquet(f"{cooked}/**/*.parquet", hive_partitioning=True).group_by("symbol", "month").agg(
        pl.len(), pl.col("btc_volume").sum(), pl.col("high_price").max()
    ).collect()
    polars_s = time.monotonic() - started
    started = time.monotonic()
    duckdb.sql(
        f"SELECT symbol, month, count(*), sum(btc_volume), max(high_price) FROM "
        f"read_parquet('{cooked}/**/*.parquet', hive_partitioning = true) GROUP BY symbol, month"
    ).fetchall()
    return {"polars": polars_s, "duckdb": time.monotonic() - started}


def same_files(left: Path, right: Path) -> bool:
    """True when both lakes hold the same raw and cooked files, byte for byte."""
    for zone in ("raw", "cooked"):
        names = sorted(p.relative_to(left) for p in (left / zone).rglob("*") if p.is_file())
        others = sorted(p.relative_to(right) for p in (right / zone).rglob("*") if p.is_file())
        if names != others or any((left / n).read_bytes() != (right / n).read_bytes() for n in names):
            return False
    return True


def report(results: list[Result]) -> None:
    """One line per run, with its ratios to the default-settings floor and the project's floor
    of the same span (measured minutes apart in the same invocation)."""
    floors = {(r.span, r.variant): r for r in results if r.variant.startswith("floor")}
    print(
        f"{'span':9} {'variant':14} {'hours':>6} {'wall s':>8} {'cpu s':>7} {'candles':>8} "
        f"{'klines':>7} {'http':>5} {'RSS MB':>7} {'÷default floor':>14} {'÷floor':>7} {'cpu÷floor':>9}"
    )
    for r in results:
        default, floor = floors.get((r.span, "floor-default")), floors.get((r.span, "floor"))
        print(
            f"{r.span:9} {r.variant:14} {r.hours:6} {r.wall_s:8.1f} {r.cpu_s:7.1f} {r.candles:8} "
            f"{r.kline_requests:7} {r.http_requests:5} {r.peak_rss_mb:7.0f} "
            f"{_ratio(r.wall_s, default and default.wall_s):>14} {_ratio(r.wall_s, floor and floor.wall_s):>7} "
            f"{_ratio(r.cpu_s, floor and floor.cpu_s):>9}"
        )
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}" if base else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="hour,day,month,year", help="spans: hour,day,month,year")
    parser.add_argument("--variants", default="floor-default,floor,rest,archive", help="floor-default,floor,rest,archive")
    parser.add_argument("--pairs", default="BTCUSDT", help="pairs backfilled in one run, comma-separated; sets separated by ;")
    parser.add_argument("--workdir", type=Path, default=None, help="kept after the run (default: a temp dir)")
    parser.add_argument("--instance", choices=["sqlite", "postgres"], default="sqlite", help="Dagster storage")
    args = parser.parse_args()
    names = args.variants.split(",")
    pair_sets = [chosen.split(",") for chosen in args.pairs.split(";")]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="backfill-bench-"))
    results: list[Result] = []
    for pairs in pair_sets:
        for span in args.only.split(","):
            for name in names:
                results.append(run(workdir, span, VARIANTS[name], args.instance, pairs))
                print(f"  {results[-1].span} {name}: {results[-1].wall_s:.1f} s", file=sys.stderr, flush=True)
    print(f"instance: {args.instance}; pairs: {args.pairs}")
    report(results)
    last = results[-1].span
    lakes = {r.variant: r.lake for r in results if r.span == last}
    if "rest" in lakes:
        timings = scan_times(lakes["rest"] / "cooked" / "candles")
        print(f"\n{last} cooked-table scan: polars {timings['polars']:.2f} s, DuckDB {timings['duckdb']:.2f} s")
    if {"rest", "archive"} <= lakes.keys():
        print(f"{last} raw and cooked files identical from REST and archive: {same_files(lakes['rest'], lakes['archive'])}")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
