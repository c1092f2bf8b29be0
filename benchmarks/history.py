"""The history targets in one invocation: each measured, compared and judged met or unmet.

    python benchmarks/history.py                                  # every target, year runs twice
    python benchmarks/history.py --only peer,floor --days 31      # a short span, to try it out
    python benchmarks/history.py --only history --history-from 2025-12-01

Targets (runs through the real CLI, ``benchmarks/launch.py``; a fresh emulator, lake and Dagster
instance per run; PostgreSQL is ``deploy/dagster.yaml``'s storage on a fresh database):

1. ``peer``: BTCUSDT's year by REST (bulk archive off) on PostgreSQL, ÷ freqtrade's
   ``download-data`` of the same year from an emulator of its own (``peer_freqtrade.py``): ≤ 3.0.
2. ``floor``: the same year on the embedded SQLite instance, ÷ Dagster's bare floor
   (``noop_definitions.py``: two no-op hourly assets, one run for the range, the planned-event
   setting) over the same hours on the same kind of instance: ≤ 1.25.
3. ``history``: BTCUSDT from ``--history-from`` to the last full month before the emulator's
   now, bulk archive on, PostgreSQL: one backfill ≤ 10 minutes with peak RSS ≤ 1 GB; then the
   same range in a fresh lake, killed once ``--kill-at`` of its hours are stored complete, and
   run again: the re-run's archive and kline requests must cover only what was not stored
   complete. A span shorter than the whole history is extrapolated to it by hours, and labelled so.
4. ``pairs``: three pairs' year by REST on PostgreSQL ≤ 150 s; and the hourly schedule's run (the
   last closed hour, every pair, archive on as scheduled) ÷ the floor's same hour: ≤ 1.2.

Ratios are taken between runs of the same invocation, the same repetition, minutes apart: on a
shared machine that is what holds. ``--runs`` repeats the year targets; verdicts use the median.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from binance_emulator.process import EmulatorProcess
from launch import FLOOR, REAL, REST_ONLY, Measured, complete_hours, fail_killed_runs, fresh_setup, hour_range, hours_in, launch, success_marker
from peer_freqtrade import freqtrade_year

PAIR = "BTCUSDT"
THREE = ["BTCUSDT", "BTCUSDC", "BTCFDUSD"]
LISTING = "2017-08-17"
TARGETS = ("peer", "floor", "history", "pairs")


class Bench:
    """The invocation's runs: each printed as it ends, all tabled at the end."""

    def __init__(self, workdir: Path, keep: bool) -> None:
        self.workdir, self.keep = workdir, keep
        self.runs: list[tuple[str, str, int, int, Measured]] = []  # label, instance, pairs, hours, figures
        self.verdicts: list[tuple[str, str, str, str]] = []  # target, measured, wanted, met

    def run(self, label: str, instance: str, pairs: list[str], partitions: str, target: list[str] = REAL,
            config: dict | None = None, start_date: str = "2025-01-01-00:00") -> Measured:
        base = self.workdir / label
        env = fresh_setup(base, instance, pairs, start_date)
        with EmulatorProcess() as emulator:
            measured = launch(emulator, env, pairs, partitions, target, config)
        self.record(label, instance, pairs, partitions, measured)
        if label.startswith("peer-project"):
            self.count_candles(base / "lake")
        if not self.keep:
            shutil.rmtree(base, ignore_errors=True)
        return measured

    def record(self, label: str, instance: str, pairs: list[str], partitions: str, measured: Measured) -> None:
        self.runs.append((label, instance, len(pairs), hours_in(partitions), measured))
        print(f"  {label}: {measured.wall_s:.1f} s wall, {measured.cpu_s:.1f} s CPU, {measured.peak_rss_mb:.0f} MB, "
              f"{measured.kline_requests} klines, {measured.archive_files} archive files"
              + (" (killed)" if measured.killed else ""), file=sys.stderr, flush=True)

    def count_candles(self, lake: Path) -> None:
        rows = pl.scan_parquet(f"{lake}/cooked/candles/**/*.parquet").select(pl.len()).collect().item()
        print(f"  cooked candles stored: {rows:,}", file=sys.stderr, flush=True)

    def judge(self, target: str, measured: str, wanted: str, met: bool | None) -> None:
        self.verdicts.append((target, measured, wanted, {True: "met", False: "unmet", None: "not judged"}[met]))
        print(f"{target}: {measured} (target {wanted}): {self.verdicts[-1][3]}", flush=True)


def ratios(numerators: list[Measured], denominators: list[Measured]) -> list[float]:
    return [n.wall_s / d.wall_s for n, d in zip(numerators, denominators)]


def _figures(values: list[float], unit: str = "×") -> str:
    shown = ", ".join(f"{v:.2f}" for v in values)
    return f"{statistics.median(values):.2f}{unit} (runs: {shown})" if len(values) > 1 else f"{values[0]:.2f}{unit}"


def year_span(year: int, days: int) -> str:
    first = datetime(year, 1, 1)
    return hour_range(first, first + timedelta(days=days) - timedelta(hours=1))


def peer(bench: Bench, year: int, days: int, runs: int) -> None:
    """Target 1: the project's year by REST on PostgreSQL ÷ freqtrade's download of the year."""
    span = year_span(year, days)
    ours, theirs = [], []
    for i in range(1, runs + 1):
        ours.append(bench.run(f"peer-project-{i}", "postgres", [PAIR], span, config=REST_ONLY))
        with EmulatorProcess() as emulator:
            figures = freqtrade_year(emulator.url, year, PAIR[:3] + "/" + PAIR[3:])
        theirs.append(Measured(figures["wall_s"], figures["cpu_s"], figures["peak_rss_mb"], figures["requests"]))
        bench.record(f"peer-freqtrade-{i}", "feather files", [PAIR], year_span(year, 365 + (year % 4 == 0)), theirs[-1])
        if figures["problems"]:
            print(f"  freqtrade's candles differ from the emulator's: {figures['problems']}", file=sys.stderr)
    whole = days >= 365
    found = ratios(ours, theirs)
    bench.judge("1 REST year ÷ freqtrade", _figures(found) + ("" if whole else f" ({days} days vs freqtrade's year)"),
                "≤ 3.0×", statistics.median(found) <= 3.0 if whole else None)


def floor(bench: Bench, year: int, days: int, runs: int) -> None:
    """Target 2: the project's year by REST on SQLite ÷ the bare floor's same hours on SQLite."""
    span = year_span(year, days)
    floors, ours = [], []
    for i in range(1, runs + 1):
        floors.append(bench.run(f"floor-noop-{i}", "sqlite", [PAIR], span, FLOOR))
        ours.append(bench.run(f"floor-project-{i}", "sqlite", [PAIR], span, config=REST_ONLY))
    found = ratios(ours, floors)
    span_name = "year" if days >= 365 else f"{days} days"
    bench.judge(f"2 SQLite {span_name} REST ÷ bare floor", _figures(found), "≤ 1.25×", statistics.median(found) <= 1.25)


def periods_needing(lake: Path, pair: str, first: datetime, last: datetime) -> set[str]:
    """The archive periods (``YYYY-MM`` and ``YYYY-MM-DD``) in [first, last] with an hour not
    stored complete: the only files a re-run may ask for."""
    stored = Counter()
    for folder, _, files in os.walk(lake / "raw" / "candles" / f"symbol={pair}"):
        if "_SUCCESS" in files and (found := re.search(r"year=(\d{4})/month=(\d\d)/day=(\d\d)", folder)):
            stored[f"{found[1]}-{found[2]}"] += 1
            stored[f"{found[1]}-{found[2]}-{found[3]}"] += 1
    wanted = Counter()
    hour = first
    while hour <= last:
        wanted[f"{hour:%Y-%m}"] += 1
        wanted[f"{hour:%Y-%m-%d}"] += 1
        hour += timedelta(hours=1)
    return {period for period, hours in wanted.items() if stored[period] < hours}


def history(bench: Bench, start: str, kill_at: float) -> None:
    """Target 3: the whole history (or from ``start``) with the archive, then killed and re-run."""
    with EmulatorProcess() as emulator:
        now = datetime.fromtimestamp(emulator.stats()["server_time"] / 1000, timezone.utc).replace(tzinfo=None)
    first, last = datetime.fromisoformat(start), datetime(now.year, now.month, 1) - timedelta(hours=1)
    whole_hours = int((last - datetime.fromisoformat(LISTING)) / timedelta(hours=1)) + 1
    span, start_date = hour_range(first, last), f"{first:%Y-%m-%d-%H:%M}"
    full = bench.run("history-backfill", "postgres", [PAIR], span, start_date=start_date)
    scale = whole_hours / hours_in(span)
    label = "" if scale == 1 else f" (measured {hours_in(span):,} h from {start}, ×{scale:.2f} extrapolated to {whole_hours:,} h)"
    bench.judge("3 whole history, archive on: wall", f"{full.wall_s * scale / 60:.1f} min{label}", "≤ 10 min",
                full.wall_s * scale <= 600)
    # Not extrapolated: the raw step keeps only the hours in flight, so the peak does not grow in
    # proportion to the hours; judged only on the whole history.
    bench.judge("3 whole history: peak RSS", f"{full.peak_rss_mb:.0f} MB" + ("" if scale == 1 else f" (on {hours_in(span):,} h only)"),
                "≤ 1024 MB", full.peak_rss_mb <= 1024 if scale == 1 else None)

    base = bench.workdir / "history-killed"
    env = fresh_setup(base, "postgres", [PAIR], start_date)
    lake = Path(env["LAKE_URL"])
    kill_hour = first + timedelta(hours=int(hours_in(span) * kill_at))
    with EmulatorProcess() as emulator:
        killed = launch(emulator, env, [PAIR], span, kill_when=success_marker(lake, PAIR, kill_hour).exists)
    bench.record("history-killed", "postgres", [PAIR], span, killed)
    stored, needed = complete_hours(lake, PAIR), periods_needing(lake, PAIR, first, last)
    fail_killed_runs(env)
    with EmulatorProcess() as emulator:
        again = launch(emulator, env, [PAIR], span)
    bench.record("history-rerun", "postgres", [PAIR], span, again)
    files = {m[1] for path in again.requests if (m := re.search(r"-1m-(\d{4}-\d\d(?:-\d\d)?)\.zip$", path))}
    refetched = sorted(files - needed)
    print(f"  killed after {killed.wall_s:.0f} s with {stored:,} of {hours_in(span):,} hours stored complete; "
          f"{len(needed)} months and days still incomplete; the re-run asked for {again.archive_files} archive files "
          f"(the whole backfill: {full.archive_files}) and {again.kline_requests} kline pages "
          f"(the whole backfill: {full.kline_requests})", file=sys.stderr)
    bench.judge("3 re-run after a kill at ~{:.0%}".format(kill_at),
                f"{again.archive_files} archive files + {again.kline_requests} kline pages vs {full.archive_files} + "
                f"{full.kline_requests} for the whole backfill; {stored:,}/{hours_in(span):,} h were complete"
                + (f"; fetched again: {refetched}" if refetched else ""),
                "nothing complete fetched again", not refetched and sum(again.requests.get(p, 0) > 1 for p in again.requests if p.endswith(".zip")) == 0)
    if not bench.keep:
        shutil.rmtree(base, ignore_errors=True)


def pairs(bench: Bench, year: int, days: int, runs: int, hour_runs: int) -> None:
    """Target 4: three pairs' year by REST on PostgreSQL, and the hourly run ÷ the floor's hour."""
    span = year_span(year, days)
    years = [bench.run(f"pairs-year-{i}", "postgres", THREE, span, config=REST_ONLY) for i in range(1, runs + 1)]
    scale = (365 + (year % 4 == 0)) / days
    walls = [m.wall_s * scale for m in years]
    label = "" if scale == 1 else f" (measured {days} days, ×{scale:.2f} extrapolated to the year)"
    bench.judge("4 three pairs' year, REST", _figures(walls, " s") + label, "≤ 150 s", statistics.median(walls) <= 150)
    with EmulatorProcess() as emulator:
        now = emulator.stats()["server_time"] // 1000
    hour = datetime.fromtimestamp(now - now % 3600 - 3600, timezone.utc).replace(tzinfo=None)
    floors, ours = [], []
    for i in range(1, hour_runs + 1):
        floors.append(bench.run(f"hour-noop-{i}", "postgres", THREE, hour_range(hour, hour), FLOOR))
        ours.append(bench.run(f"hour-project-{i}", "postgres", THREE, hour_range(hour, hour)))
    found = ratios(ours, floors)
    bench.judge(f"4 hourly run {hour:%H:00}, 3 pairs ÷ floor's hour", _figures(found), "≤ 1.2×", statistics.median(found) <= 1.2)


def report(bench: Bench) -> None:
    print(f"\ndagster {importlib.metadata.version('dagster')}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}/{os.getloadavg()[1]:.1f}")
    print(f"\n{'run':22} {'instance':13} {'pairs':>5} {'hours':>7} {'wall s':>8} {'CPU s':>8} {'RSS MB':>7} "
          f"{'klines':>7} {'archive':>7}")
    for label, instance, count, hours, m in bench.runs:
        print(f"{label:22} {instance:13} {count:5} {hours:7} {m.wall_s:8.1f} {m.cpu_s:8.1f} {m.peak_rss_mb:7.0f} "
              f"{m.kline_requests:7} {m.archive_files:7}" + (" killed" if m.killed else ""))
    print(f"\n{'target':42} {'wanted':32} {'verdict':10} measured")
    for target, measured, wanted, met in bench.verdicts:
        print(f"{target:42} {wanted:32} {met:10} {measured}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(TARGETS), help="targets: " + ",".join(TARGETS))
    parser.add_argument("--runs", type=int, default=2, help="repetitions of the year targets")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--days", type=int, default=365, help="a shorter span of the year, to try things out")
    parser.add_argument("--history-from", default=LISTING, help="first day of the history target (BTCUSDT listed 2017-08-17)")
    parser.add_argument("--kill-at", type=float, default=0.6, help="share of the history's hours stored before the kill")
    parser.add_argument("--hour-runs", type=int, default=3, help="repetitions of the hourly run and its floor")
    parser.add_argument("--workdir", type=Path, help="kept, with every run's lake and instance (default: a temporary folder)")
    args = parser.parse_args()
    bench = Bench(args.workdir or Path(tempfile.mkdtemp(prefix="history-bench-")), keep=args.workdir is not None)
    chosen = args.only.split(",")
    try:
        if "peer" in chosen:
            peer(bench, args.year, args.days, args.runs)
        if "floor" in chosen:
            floor(bench, args.year, args.days, args.runs)
        if "pairs" in chosen:
            pairs(bench, args.year, args.days, args.runs, args.hour_runs)
        if "history" in chosen:
            history(bench, args.history_from, args.kill_at)
    finally:
        report(bench)
        if not bench.keep:
            shutil.rmtree(bench.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
