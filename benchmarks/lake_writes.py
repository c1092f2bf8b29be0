"""Storing and reading a range's hours one at a time against ``IN_FLIGHT`` at a time, on a local
lake and on S3 (moto's server over HTTP), in the same run.

    python benchmarks/lake_writes.py [--hours 720]

Each hour is what a backfill stores for candles: the raw ``klines.json`` (60 rows as Binance sends
them) with its ``_SUCCESS``, and the cooked Parquet file; then the same hours are read back in
order, as the cooked step and the checks read them. Printed: seconds per variant and the ratio of
the sequential time to the concurrent one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

from binance_assets.datasets.candles import CANDLES
from binance_assets.datasets.contract import HourRows, cook, split_hours
from binance_assets.lake.storage import LakeStorage, LocalStorage, S3Storage
from binance_assets.lake.zones import IN_FLIGHT, CookedHour, CookedZone, Hours, Place, RawHour, RawZone, read_ahead, storing
from binance_assets.partitions import MINUTE_MS, epoch_ms, hourly_partitions, partition_hour
from binance_assets_tests.servers import MotoS3Server
from binance_emulator.market import candle

SYMBOL = "BTCUSDT"
PLACE = Place(CANDLES.name, SYMBOL, CANDLES.raw_file)
NOW_MS = epoch_ms(partition_hour("2026-01-01-00:00"))  # every emulated hour is closed


def one_by_one(store: Callable[[str, Any], Any], hours: Mapping[str, Any]) -> None:
    for key, value in hours.items():
        store(key, value)


def in_flight(store: Callable[[str, Any], Any], hours: Mapping[str, Any]) -> None:
    with storing(store) as put:
        for key, value in hours.items():
            put(key, value)


def emulated_hour(key: str) -> list[list[Any]]:
    """The hour's klines as the emulator serves them (minutes without trades left out)."""
    start = epoch_ms(partition_hour(key))
    minutes = (candle(SYMBOL, start + minute * MINUTE_MS, now_ms=NOW_MS) for minute in range(60))
    return [row for row in minutes if row is not None]


def measure(storage: LakeStorage, keys: list[str]) -> dict[str, float]:
    raw, cooked = RawZone(storage), CookedZone(storage)
    hours = {key: RawHour.of(emulated_hour(key), complete=True) for key in keys}
    cooking = [HourRows(key, partition_hour(key), hour.rows(), True) for key, hour in hours.items()]
    frames = dict(zip(keys, split_hours(cook(CANDLES, cooking, SYMBOL), len(keys))))
    tables = {key: CookedHour(frame, {"complete": True, "valid": True}) for key, frame in frames.items()}
    timings = {}
    for name, store in (("one at a time", one_by_one), (f"{IN_FLIGHT} at a time", in_flight)):
        started = time.perf_counter()
        store(lambda key, hour: raw.store(PLACE, key, hour), hours)
        store(lambda key, table: cooked.store(PLACE, key, table), tables)
        timings[f"store, {name}"] = time.perf_counter() - started
    stored = Hours(keys, lambda key: raw.read(PLACE, key))
    for name, read in (("one at a time", lambda: [(k, stored[k]) for k in stored]), (f"{IN_FLIGHT} ahead", lambda: list(read_ahead(stored)))):
        started = time.perf_counter()
        assert len(read()) == len(keys)
        timings[f"read, {name}"] = time.perf_counter() - started
    return timings


def report(backend: str, timings: dict[str, float]) -> None:
    names = list(timings)
    for name in names:
        print(f"{backend:6} {name:22} {timings[name]:7.2f} s")
    print(f"{backend:6} store speed-up {timings[names[0]] / timings[names[1]]:.2f}×, "
          f"read speed-up {timings[names[2]] / timings[names[3]]:.2f}×")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=720)
    args = parser.parse_args()
    keys = hourly_partitions("2025-01-01-00:00").get_partition_keys()[: args.hours]
    with tempfile.TemporaryDirectory() as root:
        report("local", measure(LocalStorage(root), keys))
    with MotoS3Server() as server:
        server.create_bucket("lake")
        report("S3", measure(S3Storage(server.client(), "lake", "lake"), keys))


if __name__ == "__main__":
    main()
