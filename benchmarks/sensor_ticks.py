"""What each sensor's tick costs when nothing changed, over a year of three pairs.

Builds the state a year of operation leaves behind — a year of candles for three pairs (bulk
archive on, then REST for the recent days), the last ``--order-days`` days of orders (older orders
are all final: the emulator, like Binance, settles every order within four days, so older hours
are never watched), and every day of the Iceberg tables and the gap ledger — through the real CLI
(``dg launch``) on a real instance (PostgreSQL by default), lake and catalog, against the emulator. Then evaluates each sensor of the
code location with that instance and the code location's resources, several ticks in a row, and
prints per tick: Binance requests by path (from the emulator's counters), seconds, runs requested.

A tick that still requests runs (an order settled between ticks, say) is executed and the sensor
is evaluated again, so the last tick shown is the one where nothing changed.

    python benchmarks/sensor_ticks.py                      # a year, PostgreSQL
    python benchmarks/sensor_ticks.py --days 30 --instance sqlite
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, RunRequest, SensorResult, build_sensor_context, materialize

from binance_assets.definitions import build_definitions
from binance_assets.settings import Settings
from binance_emulator.process import EmulatorProcess
from launch import fresh_setup, launch

PAIRS = ("BTCUSDT", "BTCUSDC", "BTCFDUSD")
API_KEY, API_SECRET = "B" * 32 + "e" * 32, "S" * 32 + "x" * 32  # the format Binance requires: 64 letters and digits
SENSORS = ("heal_hours", "settle_orders", "archive_revisions", "dead_runs")
# Dagster's note that a sensor looked up here is not bound to its resources: they are passed in.
warnings.filterwarnings("ignore", message="Starting in dagster 1.11, get_sensor_def")


def hour_key(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d-%H:00")


def requests_by_path(before: dict, after: dict) -> Counter:
    """The emulator's requests between two readings of its counters, by path (the archive's
    files and checksums by kind: one path each)."""
    def kind(path: str) -> str:
        if not path.startswith("/data/"):
            return path
        return "archive .CHECKSUM" if path.endswith(".CHECKSUM") else "archive file"

    counts: Counter = Counter()
    for path, count in (Counter(after["requests"]) - Counter(before["requests"])).items():
        counts[kind(path)] += count
    return counts


def run(request: RunRequest, definitions: Any, instance: DagsterInstance) -> None:
    """A sensor's run request executed as the daemon would: its assets, range tags and config."""
    materialize(definitions.assets, selection=request.asset_selection, instance=instance, resources=definitions.resources,
                tags=dict(request.tags), run_config=request.run_config or None, raise_on_error=False)


def tick(name: str, definitions: Any, instance: DagsterInstance, emulator: EmulatorProcess, cursor: str | None):
    """One evaluation of sensor ``name``: (seconds, requests by path, run requests, skip message, cursor)."""
    sensor = definitions.get_sensor_def(name)
    before = emulator.stats()
    with build_sensor_context(instance=instance, resources=definitions.resources, cursor=cursor) as context:
        began = time.perf_counter()
        result = sensor(context)
        results = list(result) if isinstance(result, Iterator) else [result]
        seconds = time.perf_counter() - began
        cursor = context.cursor
    requests = [r for item in results for r in (item.run_requests or [] if isinstance(item, SensorResult) else
                                                 [item] if isinstance(item, RunRequest) else [])]
    skips = [getattr(item, "skip_message", None) or "" for item in results if not isinstance(item, (RunRequest, SensorResult))]
    return seconds, requests_by_path(before, emulator.stats()), requests, "; ".join(skips), cursor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days of candles (default a year)")
    parser.add_argument("--order-days", type=int, default=7, help="days of orders (default 7)")
    parser.add_argument("--instance", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--ticks", type=int, default=3, help="ticks per sensor after the state is built")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder, EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET) as emulator:
        last = (datetime.now(timezone.utc) - timedelta(minutes=15)).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        first = (last - timedelta(days=args.days)).replace(hour=0)
        environment = {
            **fresh_setup(Path(folder) / f"sensor_ticks_{os.getpid()}", args.instance, list(PAIRS), hour_key(first)),
            "BINANCE_API_URL": emulator.url, "BINANCE_ARCHIVE_URL": emulator.url,
            "BINANCE_API_KEY": API_KEY, "BINANCE_API_SECRET": API_SECRET,
        }
        os.environ.update(environment)  # the sensors below see the instance and lake the runs wrote
        definitions = build_definitions(Settings.from_env(environment))
        instance = DagsterInstance.get()

        print(f"state: {args.days} days of candles of {', '.join(PAIRS)} ({hour_key(first)} … {hour_key(last)}), "
              f"{args.order_days} days of orders, every day in Iceberg; instance {args.instance}", flush=True)
        last_full_day = (last - timedelta(days=1)).strftime("%Y-%m-%d")
        steps = [
            ("candles", ("raw_candles", "candles"), hour_key(first), hour_key(last)),
            ("orders", ("raw_orders", "orders"), hour_key(last - timedelta(days=args.order_days)), hour_key(last)),
            ("daily candles", ("daily_candles",), first.strftime("%Y-%m-%d"), last_full_day),
            ("daily orders", ("daily_orders",), (last - timedelta(days=args.order_days - 1)).strftime("%Y-%m-%d"), last_full_day),
        ]
        for label, assets, start, end in steps:
            built = launch(emulator, environment, list(PAIRS), f"{start}...{end}", assets=assets)
            print(f"  built {label} {start} … {end}: {built.wall_s:.0f} s, {sum(built.requests.values())} Binance requests",
                  flush=True)

        print(f"\n{'sensor':<18} {'tick':>4} {'seconds':>8} {'requests':>8}  runs  by path / outcome")
        for name in SENSORS:
            cursor, ticks, extra = None, 0, 0
            while ticks < args.ticks + extra:
                ticks += 1
                seconds, used, requests, skip, cursor = tick(name, definitions, instance, emulator, cursor)
                paths = ", ".join(f"{path} {count}" for path, count in sorted(used.items())) or "none"
                print(f"{name:<18} {ticks:>4} {seconds:>8.2f} {sum(used.values()):>8}  {len(requests):>4}  {paths}"
                      f"{' — ' + skip if skip else ''}", flush=True)
                for request in requests:
                    run(request, definitions, instance)
                if requests and extra < 3:
                    extra += 1  # something changed: tick again, so the last tick shown is one where nothing had


if __name__ == "__main__":
    main()
