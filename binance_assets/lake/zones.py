"""The lake's zones: the only code that knows lake paths and writes the lake's files.

``{zone}/{dataset}/symbol={SYMBOL}/year=YYYY/month=MM/day=DD/hour=HH/`` holds one hour: in the raw
zone Binance's JSON array and ``_SUCCESS`` once the hour is complete; in the cooked zone
``data.parquet`` with the hour's verdict in its metadata; in the quarantine zone refused answers.
Hours are stored ``IN_FLIGHT`` at a time, each hour's files in order (data, then ``_SUCCESS``), so
a kill leaves every hour whole or absent.
"""

import io
import json
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from typing import Any, Self, TypeVar

import polars as pl

from binance_assets.lake.storage import LakeError, LakeStorage
from binance_assets.partitions import partition_hour

T = TypeVar("T")

SUCCESS_MARKER = "_SUCCESS"
COOKED_FILE = "data.parquet"
VERDICT_KEY = "binance_assets.verdict"  # the cooked hour's verdict, JSON, in the Parquet footer

# Hours stored or read at once: an hour's cost is the storage's latency, not CPU, so they overlap.
IN_FLIGHT = 8


def table_folder(zone: str, dataset: str) -> str:
    return f"{zone}/{dataset}"


def hour_folder(zone: str, dataset: str, symbol: str, key: str) -> str:
    """E.g. ``raw/candles/symbol=BTCUSDT/year=2025/month=01/day=01/hour=00``."""
    hour = partition_hour(key)
    return f"{table_folder(zone, dataset)}/symbol={symbol}/year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}"


@dataclass(frozen=True)
class RawHour:
    """One hour of the raw zone: Binance's JSON array as stored, whether the hour is complete, and
    where it came from (REST, or an archive file and its checksum), kept in ``_SUCCESS``."""

    data: bytes
    complete: bool
    provenance: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: list[Any], complete: bool, provenance: Mapping[str, str] | None = None) -> Self:
        return cls(json.dumps(rows, separators=(",", ":")).encode(), complete, dict(provenance or {}))

    def rows(self) -> list[Any]:
        return json.loads(self.data)


@dataclass(frozen=True)
class CookedHour:

    frame: pl.DataFrame
    verdict: Mapping[str, Any]


class Hours(Mapping[str, T]):
    """An asset's hours, each read from the lake when asked for, so a range's memory is a window."""

    def __init__(self, keys: list[str], read: Callable[[str], T]) -> None:
        self._keys, self._known, self._read = keys, set(keys), read

    def __getitem__(self, key: str) -> T:
        if key not in self._known:
            raise KeyError(key)
        return self._read(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def read_ahead(hours: Mapping[str, T]) -> Iterator[tuple[str, T]]:
    """Every hour in order, read ``IN_FLIGHT`` hours ahead of the one handed out."""
    keys = iter(hours)
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        ahead = deque((key, pool.submit(hours.__getitem__, key)) for key in islice(keys, IN_FLIGHT))
        while ahead:
            key, value = ahead.popleft()
            if (following := next(keys, None)) is not None:
                ahead.append((following, pool.submit(hours.__getitem__, following)))
            yield key, value.result()


@contextmanager
def storing(store: Callable[[str, T], Any]) -> Iterator[Callable[[str, T], None]]:
    """A ``put(key, value)`` that stores hours ``IN_FLIGHT`` at a time while the caller produces
    more. A failed write stops the producer a few puts later; every write handed over ends before
    this returns, also when the producer fails, and the first failure is raised."""
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:

        def put(key: str, value: T) -> None:
            pending.append(pool.submit(store, key, value))
            while len(pending) > 2 * IN_FLIGHT:  # the producer never runs far ahead of the writes
                pending.popleft().result()

        try:
            yield put
        finally:
            errors = [future.exception() for future in pending]
            failed = next((error for error in errors if error is not None), None)
        if failed is not None:
            raise failed


@dataclass(frozen=True)
class Place:
    """Where one pair's dataset lives: its folder name, the pair, and the raw zone's file name."""

    dataset: str
    symbol: str
    raw_file: str

    def folder(self, zone: str, key: str) -> str:
        return hour_folder(zone, self.dataset, self.symbol, key)

    def file(self, zone: str, key: str, name: str) -> str:
        return f"{self.folder(zone, key)}/{name}"


class RawZone:
    """A complete hour is written data first, then ``_SUCCESS``; an open hour first removes the
    marker, so ``_SUCCESS`` never goes with a partial file."""

    def __init__(self, storage: LakeStorage) -> None:
        self.storage = storage

    def url(self, place: Place, key: str) -> str:
        return self.storage.url(place.file("raw", key, place.raw_file))

    def store(self, place: Place, key: str, hour: RawHour) -> None:
        marker = place.file("raw", key, SUCCESS_MARKER)
        if not hour.complete:
            self.storage.delete(marker)
        self.storage.write(place.file("raw", key, place.raw_file), hour.data)
        if hour.complete:
            self.storage.write(marker, json.dumps(hour.provenance, sort_keys=True).encode() if hour.provenance else b"")

    def read(self, place: Place, key: str) -> RawHour:
        data_key = place.file("raw", key, place.raw_file)
        if not self.storage.exists(data_key):
            raise LakeError(
                f"raw partition {key} of {place.symbol} {place.dataset} is missing "
                f"({self.storage.url(data_key)}): materialize the raw asset for it first"
            )
        marker = place.file("raw", key, SUCCESS_MARKER)
        complete = self.storage.exists(marker)
        return RawHour(self.storage.read(data_key), complete, self._marked(marker) if complete else {})

    def provenance(self, place: Place, key: str) -> Mapping[str, str]:
        """Where a complete hour came from; empty for an open hour."""
        marker = place.file("raw", key, SUCCESS_MARKER)
        return self._marked(marker) if self.storage.exists(marker) else {}

    def _marked(self, marker: str) -> Mapping[str, str]:
        return json.loads(self.storage.read(marker) or b"{}")

    def complete_hours(self, place: Place, keys: list[str]) -> set[str]:
        """The hours of ``keys`` whose ``_SUCCESS`` is stored, one listing per month."""
        months = dict.fromkeys(place.folder("raw", key).rsplit("/", 2)[0] for key in keys)
        marked = {
            path.rsplit("/", 1)[0]
            for month in months
            for path in self.storage.list(month)
            if path.endswith("/" + SUCCESS_MARKER)
        }
        return {key for key in keys if place.folder("raw", key) in marked}

    def quarantine(self, place: Place, key: str, record: Mapping[str, Any]) -> str:
        """Keep a refused answer and its request for inspection; the hour's files stay as they were."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        quarantine_key = place.file("quarantine", key, f"{stamp}.json")
        self.storage.write(quarantine_key, json.dumps(record, indent=1).encode())
        return self.storage.url(quarantine_key)


class CookedZone:
    """One Parquet file per hour, the hour's verdict in its key-value metadata."""

    def __init__(self, storage: LakeStorage) -> None:
        self.storage = storage

    def url(self, place: Place, key: str) -> str:
        return self.storage.url(place.file("cooked", key, COOKED_FILE))

    def store(self, place: Place, key: str, hour: CookedHour) -> None:
        buffer = io.BytesIO()
        hour.frame.write_parquet(buffer, compression="zstd", statistics=True, metadata={VERDICT_KEY: json.dumps(hour.verdict)})
        self.storage.write(place.file("cooked", key, COOKED_FILE), buffer.getvalue())

    def read(self, place: Place, key: str) -> CookedHour:
        data = io.BytesIO(self.storage.read(place.file("cooked", key, COOKED_FILE)))
        verdict = json.loads(pl.read_parquet_metadata(data).get(VERDICT_KEY, "{}"))
        data.seek(0)
        return CookedHour(pl.read_parquet(data), verdict)

    def exists(self, place: Place, key: str) -> bool:
        return self.storage.exists(place.file("cooked", key, COOKED_FILE))
