"""The Binance bulk archive (data.binance.vision): a year of 1m klines in 12 monthly zips instead
of 526 REST requests. ``klines`` reads hours older than the cut-off from the archive (monthly zips
for whole months, daily zips for the rest) and yields the very rows REST would return, as pages.

Every zip is checked against its ``.CHECKSUM`` before it is read; a missing, unreadable or
mismatched file is replaced by REST for its span. A truncated file (Binance has published some and
replaced them later) must reach its span's last minute; when it ends earlier, REST fetches the
rest from its last row, which costs a request only when that last minute is a real gap.
"""

import calendar
import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import requests
from dagster import ConfigurableResource, get_dagster_logger
from pydantic import Field, PrivateAttr

from binance_assets.partitions import DAY_MS, MINUTE_MS, epoch_ms
from binance_assets.binance.client import PAGE_LIMIT, BinanceResource
from binance_assets.binance.transport import DeadlineExceeded, deadline_params
from binance_assets.datasets.contract import Page
from binance_assets.settings import from_env

KLINE_FIELDS = 12
MICROSECONDS_ABOVE = 10**14  # 1e14 ms is year 5138; 1e14 µs is 1973: larger times are µs
INT_FIELDS = (0, 6, 8)  # open time, close time, number of trades: JSON numbers in REST


class ArchiveUnusable(Exception):
    """An archive file cannot be used (missing, unreadable, bad checksum); REST replaces it."""


class ArchiveUnreachable(ArchiveUnusable):
    """The host did not answer in time: every other file would wait as long, so REST serves the rest."""


@dataclass(frozen=True)
class Period:
    """One archive file: a UTC month or day, ``[start_ms, end_ms)``."""

    kind: str  # "monthly" or "daily"
    name: str  # "2025-01" or "2025-01-31"
    start_ms: int
    end_ms: int


@dataclass
class ArchiveStats:
    """What the archive supplied in this run: reported in the raw asset's metadata."""

    files: int = 0
    bytes: int = 0
    rows: int = 0
    rest_spans: list[str] = field(default_factory=list)
    checksums: dict[str, str] = field(default_factory=dict)  # url → sha256 of every file used

    def as_metadata(self) -> dict[str, Any]:
        source = "+".join(name for name, used in (("archive", self.files), ("rest", self.rest_spans)) if used)
        return {
            "source": source or "none", "archive_files": self.files, "archive_bytes": self.bytes, "archive_rows": self.rows,
            "rest_spans": "; ".join(self.rest_spans[:100]) or "none",
            "archive_checksums": dict(self.checksums),  # what the archive_revisions sensor watches
        }


class BinanceArchive(ConfigurableResource):
    """Old 1m klines from the public bulk archive, with REST (``BinanceResource``) as fallback."""

    archive_url: str = Field(default_factory=from_env("archive_url"), description="Bulk archive base URL. "
                             "Default: BINANCE_ARCHIVE_URL, else https://data.binance.vision.")
    enabled: bool = Field(default=True, description="Read old hours from the archive; false: REST only.")
    min_age_days: int = Field(default=1, description="Hours before the start of the UTC day this many days ago come "
                              "from the archive; 1 means before yesterday (daily files appear about a day late).")
    timeout_seconds: float = Field(default=60.0, description="Deadline of every archive download: connect, headers "
                                   "and the whole file.")

    _stats: ArchiveStats = PrivateAttr(default_factory=ArchiveStats)
    _unreachable: bool = PrivateAttr(default=False)
    # the last file read, checked: a range with holes (hours stored before a kill) reads the same
    # file for each of its spans, and downloads it once
    _last_file: tuple[str, bytes] = PrivateAttr(default=("", b""))

    @property
    def stats(self) -> ArchiveStats:
        return self._stats

    def cutoff_ms(self, now_ms: int) -> int:
        """Hours starting before this instant (``now_ms``: Binance's clock) come from the archive."""
        return now_ms - now_ms % DAY_MS - self.min_age_days * DAY_MS

    def published(self, symbol: str, day: str) -> bool:
        """Whether the day's file (``YYYY-MM-DD``) is out: its ``.CHECKSUM`` answers."""
        try:
            self.checksum(self._url(symbol, Period("daily", day, 0, 0)))
        except ArchiveUnusable:
            return False
        return True

    def checksum(self, url: str) -> str:
        """The sha256 a file's ``.CHECKSUM`` states now."""
        return self._get(url + ".CHECKSUM").split(b" ", 1)[0].decode(errors="replace").strip()

    def klines(self, binance: BinanceResource, symbol: str, start_ms: int, end_ms: int) -> Iterator[Page]:
        """Closed 1m klines with open time in [start_ms, end_ms), as REST pages would carry them:
        old spans from archive files, the rest (and any unusable file) by REST."""
        archive_end = max(start_ms, min(end_ms, self.cutoff_ms(binance.server_time_ms()))) if self.enabled else start_ms
        rest_from = start_ms  # the first minute neither the archive nor REST has supplied yet
        for period in periods(start_ms, archive_end):
            if self._unreachable:
                break
            span_start, span_end = max(period.start_ms, start_ms), min(period.end_ms, archive_end)
            try:
                rows = self._rows(symbol, period, span_start, span_end)
            except ArchiveUnreachable as error:
                self._unreachable = True
                get_dagster_logger().warning(f"Binance archive unreachable ({error}); REST serves the rest of this run")
                break
            except ArchiveUnusable as error:
                get_dagster_logger().warning(f"Binance archive: {error}; REST replaces it")
                continue
            if rest_from < span_start:
                yield from self._rest(binance, symbol, rest_from, span_start)
            asked_at = binance.server_time_ms()
            covered = _covered_until(rows, span_start, span_end, period)  # a cut file vouches up to its last row
            request = self._request(symbol, period, span_start, covered)
            for offset in range(0, max(len(rows), 1), PAGE_LIMIT):  # an empty file still vouches for its span
                yield Page(rows[offset : offset + PAGE_LIMIT], request, asked_at)
            rest_from = covered
        if rest_from < end_ms:
            yield from self._rest(binance, symbol, rest_from, end_ms)

    def _rest(self, binance: BinanceResource, symbol: str, start_ms: int, end_ms: int) -> Iterator[Page]:
        self._stats.rest_spans.append(f"{_iso(start_ms)} to {_iso(end_ms)}")
        yield from binance.klines(symbol, start_ms, end_ms)

    def _request(self, symbol: str, period: Period, span_start: int, span_end: int) -> dict[str, Any]:
        """Where a page came from: the file, its checksum, and the span of hours it vouches for."""
        url = self._url(symbol, period)
        return {"endpoint": "archive", "url": url, "sha256": self._stats.checksums[url], "span": [span_start, span_end]}

    def _url(self, symbol: str, period: Period) -> str:
        return f"{self.archive_url.rstrip('/')}/data/spot/{period.kind}/klines/{symbol}/1m/{symbol}-1m-{period.name}.zip"

    def _rows(self, symbol: str, period: Period, start_ms: int, end_ms: int) -> list[list[Any]]:
        """The file's rows with open time in [start_ms, end_ms), as REST would send them; the whole
        file is checked before any row is used, so a bad file falls back to REST cleanly."""
        url = self._url(symbol, period)
        content = self._last_file[1] if self._last_file[0] == url else self._download(url)
        rows = [row for row in read_zip(url, content) if start_ms <= row[0] < end_ms]
        self._stats.rows += len(rows)
        return rows

    def _download(self, url: str) -> bytes:
        """A file, checked against its ``.CHECKSUM``."""
        content = self._get(url)
        expected = self.checksum(url)
        actual = hashlib.sha256(content).hexdigest()
        if actual != expected:
            raise ArchiveUnusable(f"{url}: sha256 {actual} does not match its .CHECKSUM {expected!r}")
        self._stats.checksums[url] = actual
        self._stats.files += 1
        self._stats.bytes += len(content)
        self._last_file = (url, content)
        return content

    def _get(self, url: str) -> bytes:
        try:
            response = requests.get(url, **deadline_params(self.timeout_seconds))
        except DeadlineExceeded as error:
            raise ArchiveUnreachable(str(error)) from error
        except (requests.ConnectionError, requests.Timeout) as error:
            raise ArchiveUnreachable(f"{url}: {type(error).__name__}") from error
        except requests.RequestException as error:
            raise ArchiveUnusable(f"{url}: {type(error).__name__}") from error
        if response.status_code != 200:
            raise ArchiveUnusable(f"{url}: HTTP {response.status_code}")
        return response.content


def read_zip(url: str, content: bytes) -> Iterator[list[Any]]:
    """Kline rows of an archive zip (one header-less CSV), in REST's types and milliseconds. A last
    line cut mid-row is dropped (the caller fetches what is missing); any other bad line makes the
    file unusable."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        (name,) = archive.namelist()
        lines = archive.read(name).decode().split("\n")
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError) as error:
        raise ArchiveUnusable(f"{url}: not a zip of one CSV ({error})") from error
    last = len(lines) - 1
    for number, fields in enumerate(csv.reader(lines), start=1):
        if not fields and number > last:
            return
        try:
            yield rest_row(fields)
        except ValueError as error:
            if number > last:
                get_dagster_logger().warning(f"Binance archive: {url} ends mid-row; last line dropped")
                return
            raise ArchiveUnusable(f"{url}: line {number} is not a kline row ({error})") from error


def rest_row(fields: list[str]) -> list[Any]:
    """One CSV row as REST returns it: times (µs divided down to ms) and trade count as ints."""
    if len(fields) != KLINE_FIELDS or not all(fields):
        raise ValueError(f"expected {KLINE_FIELDS} non-empty fields, got {fields!r}")
    row: list[Any] = list(fields)
    for index in INT_FIELDS:
        row[index] = int(fields[index])
    if row[0] >= MICROSECONDS_ABOVE:
        row[0] //= 1000
        row[6] //= 1000
    return row


def periods(start_ms: int, end_ms: int) -> Iterator[Period]:
    """The archive files covering [start_ms, end_ms): monthly for every whole month, daily for the rest."""
    day = start_ms - start_ms % DAY_MS
    while day < end_ms and start_ms < end_ms:
        month = _month(day)
        if month.start_ms == day >= start_ms and month.end_ms <= end_ms:
            yield month
            day = month.end_ms
        else:
            yield Period("daily", _iso(day)[:10], day, day + DAY_MS)
            day += DAY_MS


def period_of_url(url: str) -> tuple[int, int]:
    """[start, end) in ms of the month or day an archive file's name states."""
    name = url.rsplit("-1m-", 1)[1].removesuffix(".zip")
    start = epoch_ms(datetime.strptime(name + ("-01" if len(name) == 7 else ""), "%Y-%m-%d").replace(tzinfo=timezone.utc))
    return (_month(start).start_ms, _month(start).end_ms) if len(name) == 7 else (start, start + DAY_MS)


def _month(day_ms: int) -> Period:
    moment = datetime.fromtimestamp(day_ms / 1000, tz=timezone.utc)
    days = calendar.monthrange(moment.year, moment.month)[1]
    start = epoch_ms(datetime(moment.year, moment.month, 1, tzinfo=timezone.utc))
    return Period("monthly", f"{moment:%Y-%m}", start, start + days * DAY_MS)


def _covered_until(rows: list[list[Any]], span_start: int, span_end: int, period: Period) -> int:
    """Where REST resumes after a file: the span's end when the file reaches its last minute, else
    the minute after its last row (a truncated file, or a real trailing gap)."""
    last = rows[-1][0] if rows else span_start - MINUTE_MS
    if last >= span_end - MINUTE_MS:
        return span_end
    get_dagster_logger().info(
        f"Binance archive: {period.name} ends at {_iso(last)}, before {_iso(span_end)}; "
        f"REST checks the rest (truncated file or trailing gap)"
    )
    return last + MINUTE_MS


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M")
