"""What the lake stores for an hour, zone by zone: the raw JSON with its ``_SUCCESS`` marker,
the cooked Parquet file, and the quarantine of responses that were refused."""

from __future__ import annotations

import io
import json
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import islice
from typing import Any, TypeVar

import polars as pl

from binance_assets.lake.paths import SUCCESS_MARKER, Location
from binance_assets.lake.storage import LakeError, LakeStorage

T = TypeVar("T")

RAW_FILES = {"candles": "klines.json", "orders": "orders.json"}
COOKED_FILE = "data.parquet"

# Hours of a range stored or read at once. An hour is a few small files whose cost is the
# storage's latency (an fsync locally, a request on S3), not CPU, so they overlap well.
IN_FLIGHT = 8


@dataclass(frozen=True)
class RawHour:
    """One hour of the raw zone: the JSON array Binance returned, byte for byte as stored, and
    whether the hour had closed (by Binance's clock) when it was fetched."""

    data: bytes
    complete: bool

    @classmethod
    def of(cls, rows: list[Any], complete: bool) -> RawHour:
        return cls(json.dumps(rows, separators=(",", ":")).encode(), complete)

    def rows(self) -> list[Any]:
        return json.loads(self.data)


class Hours(Mapping[str, T]):
    """An upstream asset's hours, each read from the lake when asked for (``read_ahead`` asks for
    several at once)."""

    def __init__(self, keys: list[str], read: Callable[[str], T]) -> None:
        self._keys = keys
        self._known = set(keys)
        self._read = read

    def __getitem__(self, key: str) -> T:
        if key not in self._known:
            raise KeyError(key)
        return self._read(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def store_hours(write: Callable[[str, T], Any], hours: Mapping[str, T]) -> None:
    """Store every hour, ``IN_FLIGHT`` at a time; each hour's own files keep their order (data,
    then ``_SUCCESS``). The first failure is raised once every write has ended."""
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        for written in [pool.submit(write, key, value) for key, value in hours.items()]:
            written.result()


def read_ahead(hours: Mapping[str, T]) -> Iterator[tuple[str, T]]:
    """Every hour in order, read ``IN_FLIGHT`` hours ahead of the one handed out (memory stays
    bounded by that window, not by the range)."""
    keys = iter(hours)
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        ahead = deque((key, pool.submit(hours.__getitem__, key)) for key in islice(keys, IN_FLIGHT))
        while ahead:
            key, value = ahead.popleft()
            if (following := next(keys, None)) is not None:
                ahead.append((following, pool.submit(hours.__getitem__, following)))
            yield key, value.result()


class RawZone:
    """The raw zone. A closed hour is written data first, then ``_SUCCESS`` (each durable before
    the next), so a complete hour never turns incomplete for a reader or a concurrent run; an
    open hour's snapshot first removes the marker, so ``_SUCCESS`` never goes with a partial file."""

    def __init__(self, storage: LakeStorage) -> None:
        self.storage = storage

    def url(self, where: Location, key: str) -> str:
        """Where an hour's data file is, for its materialization's ``path``."""
        return self.storage.url(where.file(key, RAW_FILES[where.dataset]))

    def write(self, where: Location, key: str, hour: RawHour) -> str:
        data_key = where.file(key, RAW_FILES[where.dataset])
        if not hour.complete:
            self.storage.delete(where.file(key, SUCCESS_MARKER))
        self.storage.write(data_key, hour.data)
        if hour.complete:
            self.storage.write(where.file(key, SUCCESS_MARKER), b"")
        return self.storage.url(data_key)

    def read(self, where: Location, key: str) -> RawHour:
        data_key = where.file(key, RAW_FILES[where.dataset])
        if not self.storage.exists(data_key):
            raise LakeError(
                f"raw partition {key} of {where.symbol} is missing ({self.storage.url(data_key)}): "
                f"materialize the raw asset for it first"
            )
        complete = self.storage.exists(where.file(key, SUCCESS_MARKER))
        return RawHour(self.storage.read(data_key), complete)

    def quarantine(self, where: Location, key: str, record: Mapping[str, Any]) -> str:
        """Keep a refused response, with the requests behind it, for inspection; the hour's lake
        files stay as they were."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        quarantine_key = f"{where.quarantine_folder(key)}/{stamp}.json"
        self.storage.write(quarantine_key, json.dumps(record, indent=1).encode())
        return self.storage.url(quarantine_key)


class CookedZone:
    """The cooked zone: one Parquet file per hour, with the table's exact column types."""

    def __init__(self, storage: LakeStorage) -> None:
        self.storage = storage

    def url(self, where: Location, key: str) -> str:
        return self.storage.url(where.file(key, COOKED_FILE))

    def write(self, where: Location, key: str, frame: pl.DataFrame) -> str:
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        data_key = where.file(key, COOKED_FILE)
        self.storage.write(data_key, buffer.getvalue())
        return self.storage.url(data_key)

    def read(self, where: Location, key: str) -> pl.DataFrame:
        return pl.read_parquet(io.BytesIO(self.storage.read(where.file(key, COOKED_FILE))))
