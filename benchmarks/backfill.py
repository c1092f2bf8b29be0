"""Backfill benchmark: single-run backfills of the whole candles graph against the emulator.

    python benchmarks/backfill.py                 # hour, day, month, year
    python benchmarks/backfill.py --only month --pairs "BTCUSDT;BTCUSDT,BTCUSDC,BTCFDUSD"
    python benchmarks/backfill.py --only year --instance postgres

For each span it runs, each in a fresh local lake and a fresh DAGSTER_HOME (SQLite by default;
``--instance postgres`` uses the production configuration instead: ``deploy/dagster.yaml``'s
PostgreSQL storage and concurrency pools, a fresh database per run on ``BENCH_PG_SERVER``
(default ``postgresql+psycopg2://postgres@127.0.0.1:5432``), and ``DAGSTER_EVENT_BATCH_SIZE=200``
as deploy/README.md prescribes; compute logs stay local):

* ``floor-default``  the same graph, partitions and check specs with bodies that do no work
              (``benchmarks/noop_definitions.py``), with Dagster's default settings (one planned
              event per partition, no event batching): Dagster's own cost per partition;
* ``floor``   the same, with the project's settings (one planned event per asset for a range,
              ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1``, as the code location sets);
* ``rest``    ``binance_assets.definitions`` with the bulk archive disabled;
* ``archive`` ``binance_assets.definitions`` reading old hours from the emulator's archive.

The ``hour`` span is one partition (``--partition``), as the hourly schedule runs it. Runs go
through the real CLI, ``dagster asset materialize --partition-range``, because that is
what an operator runs: a fresh process that loads the code location, the default multiprocess
executor (one process per step) and the SQLite instance under DAGSTER_HOME. ``materialize()``
in-process would hide process start-up and the executor.

Printed per run: wall time, CPU time (user + system of the run's processes), candles/s, kline
requests and all HTTP requests (emulator stats), peak RSS (largest process of the run, from GNU
time's maximum resident set size, which covers the step processes) and the ratios of wall and CPU
time to the floor (on a shared machine CPU time is the steadier of the two). For the longest span it also times
a scan of the cooked table with polars and DuckDB and checks that REST and archive produced the
same bytes. ``--pairs`` backfills several pairs in the one run (candles of each); sets of pairs
separated by ``;`` are measured one after the other in the same invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import psycopg2
import yaml

from binance_emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).with_name("dagster"))
SPANS = {
    "hour": "2025-06-15-12:00",  # one partition, as the hourly schedule runs it
    "day": "2025-06-15-00:00...2025-06-15-23:00",
    "month": "2025-06-01-00:00...2025-06-30-23:00",
    "year": "2025-01-01-00:00...2025-12-31-23:00",
}
REST_ONLY = {"resources": {"binance_archive": {"config": {"enabled": False}}}}
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql+psycopg2://postgres@127.0.0.1:5432")


@dataclass(frozen=True)
class Variant:
    """One way of running the span: which code location, run config and check mode."""

    name: str
    target: list[str]
    config: dict | None = None
    env: dict[str, str] | None = None


REAL = ["-m", "binance_assets.definitions"]
FLOOR = ["-f", str(ROOT / "benchmarks" / "noop_definitions.py")]
# Dagster's default: one ASSET_MATERIALIZATION_PLANNED event per partition and asset when a run is
# created. The project's setting: one per asset for a range (binance_assets/definitions.py).
PLANNED_SUBSET = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
# Dagster's default: every event stored on its own. Production (``--instance postgres``) stores
# them in batches of 200 (deploy/README.md); SQLite storage has no batch write, so it changes nothing there.
EVENT_BATCH = "DAGSTER_EVENT_BATCH_SIZE"
VARIANTS = {
    "floor-default": Variant("floor-default", FLOOR, env={PLANNED_SUBSET: "0", EVENT_BATCH: "0"}),
    "floor": Variant("floor", FLOOR, env={PLANNED_SUBSET: "1"}),
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


def fresh_instance(home: Path, instance: str, name: str) -> dict[str, str]:
    """Write ``home/dagster.yaml`` for a new, empty instance; returns the environment it needs."""
    home.mkdir(parents=True)
    if instance == "sqlite":
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        return {}
    database = f"bench_{name}".replace("-", "_")
    _recreate_database(database)
    production = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    config = {key: production[key] for key in ("storage", "concurrency", "telemetry")}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return {"DAGSTER_PG_URL": f"{PG_SERVER}/{database}", EVENT_BATCH: "200"}


def _recreate_database(database: str) -> None:
    connection = psycopg2.connect(PG_SERVER.replace("postgresql+psycopg2", "postgresql") + "/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database}"')
        cursor.execute(f'CREATE DATABASE "{database}"')
    connection.close()


def run(
    emulator: EmulatorProcess, workdir: Path, span: str, variant: Variant, instance: str, pairs: list[str]
) -> Result:
    """One single-run backfill of ``pairs`` through the CLI, in a fresh lake and instance."""
    label = f"{span} {len(pairs)}p"
    base = workdir / f"{span}-{len(pairs)}p-{variant.name}"
    shutil.rmtree(base, ignore_errors=True)
    home, lake = base / "dagster_home", base / "lake"
    instance_env = fresh_instance(home, instance, f"{span}-{len(pairs)}p-{variant.name}")
    env = {
        **os.environ,
        **instance_env,
        "DAGSTER_HOME": str(home),
        "LAKE_URL": str(lake),
        "BINANCE_API_URL": emulator.url,
        "BINANCE_ARCHIVE_URL": emulator.url,
        "BINANCE_SYMBOLS": ",".join(pairs),
        **(variant.env or {}),
    }
    selection = ",".join(f"{pair}/{name}" for pair in pairs for name in ("raw_candles", "candles"))
    command = ["/usr/bin/time", "-v", DAGSTER, "asset", "materialize", *variant.target]
    partitions = SPANS[span]
    command += ["--select", selection, "--partition-range" if "..." in partitions else "--partition", partitions]
    if variant.config:
        command += ["--config-json", json.dumps(variant.config)]
    emulator.reset()
    started = time.monotonic()
    process = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    if process.returncode:
        raise RuntimeError(f"{span} {variant.name} failed:\n{process.stderr[-4000:]}")
    requests = emulator.stats()["requests"]
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", process.stderr)[1])
    cpu = sum(float(s) for s in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", process.stderr))
    cooked = lake / "cooked" / "candles"
    return Result(
        span=label,
        variant=variant.name,
        hours=_hours(SPANS[span]),
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mb=rss_kb / 1024,
        candles=_count(cooked) if cooked.exists() else 0,
        kline_requests=requests.get("/api/v3/klines", 0),
        http_requests=sum(n for path, n in requests.items() if not path.startswith("/_emulator")),
        lake=lake,
    )


def _hours(span: str) -> int:
    first, last = (datetime.strptime(key, "%Y-%m-%d-%H:%M") for key in (span.split("...") * 2)[:2])
    return int((last - first).total_seconds() // 3600) + 1


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
    with EmulatorProcess() as emulator:
        for pairs in pair_sets:
            for span in args.only.split(","):
                for name in names:
                    results.append(run(emulator, workdir, span, VARIANTS[name], args.instance, pairs))
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
