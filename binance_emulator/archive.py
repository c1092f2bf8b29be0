"""The bulk archive of data.binance.vision, served from the same emulator.

Paths (no request weight)::

    /data/spot/monthly/klines/{SYMBOL}/1m/{SYMBOL}-1m-{YYYY-MM}.zip[.CHECKSUM]
    /data/spot/daily/klines/{SYMBOL}/1m/{SYMBOL}-1m-{YYYY-MM-DD}.zip[.CHECKSUM]

Each zip holds one header-less CSV ``{SYMBOL}-1m-{period}.csv`` with the 12 kline columns and the
very numbers REST serves (same generator). Open/close times are in microseconds for periods from
2025-01-01 (as Binance's spot files are), milliseconds before. Only complete past periods exist,
judged by the server clock (``--clock-offset-ms`` and ``clock_skew`` included): a month once it
has fully ended (before today UTC), a day once it has ended; anything else is 404.
Bytes are deterministic (fixed zip timestamps and compression level), so checksums are stable.
The ``.CHECKSUM`` file is ``sha256sum`` output: ``<hex>  <zip file name>\\n``.

Files change as Binance's do (see :class:`binance_emulator.market.Edits`):

* Outage minutes (``--outage``, ``POST /_emulator/outages``) and exchange gaps are absent from
  every file, as from REST.
* ``POST /_emulator/archive_revisions`` re-publishes the files covering a minute (its monthly and
  its daily file) with one value changed: new zip bytes, new ``.CHECKSUM``; REST serves the
  revised value too.
* The ``unpublished`` fault (:mod:`binance_emulator.faults`) makes one period's file and its
  checksum 404, as a file Binance has not uploaded yet.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import io
import re
import time
import zipfile
from typing import Optional

from binance_emulator import market

MICROS_FROM_MS = 1_735_689_600_000  # 2025-01-01 00:00 UTC: spot archives switch to microseconds
_PATH = re.compile(
    r"^/data/spot/(?P<freq>monthly|daily)/klines/(?P<sym>[A-Z0-9]+)/1m/"
    r"(?P=sym)-1m-(?P<period>\d{4}-\d{2}(?:-\d{2})?)\.zip(?P<checksum>\.CHECKSUM)?$"
)


def parse(path: str) -> Optional[tuple[str, str, str, bool]]:
    """``(freq, symbol, period, is_checksum)`` for an archive path, else None."""
    m = _PATH.match(path)
    if not m:
        return None
    freq, period = m.group("freq"), m.group("period")
    if (freq == "monthly") != (len(period) == 7):
        return None
    return freq, m.group("sym"), period, bool(m.group("checksum"))


def file_path(freq: str, symbol: str, period: str) -> str:
    """The URL path of a zip (its checksum is this + ``.CHECKSUM``)."""
    return f"/data/spot/{freq}/klines/{symbol}/1m/{symbol}-1m-{period}.zip"


def period_bounds(freq: str, period: str) -> tuple[int, int]:
    """``[start_ms, end_ms)`` of a period string (YYYY-MM or YYYY-MM-DD)."""
    if freq == "monthly":
        y, mo = int(period[:4]), int(period[5:7])
        start = calendar.timegm((y, mo, 1, 0, 0, 0)) * 1000
        y2, mo2 = (y + 1, 1) if mo == 12 else (y, mo + 1)
        return start, calendar.timegm((y2, mo2, 1, 0, 0, 0)) * 1000
    y, mo, d = int(period[:4]), int(period[5:7]), int(period[8:10])
    start = calendar.timegm((y, mo, d, 0, 0, 0)) * 1000
    return start, start + market.DAY_MS


def available(freq: str, symbol: str, period: str, now_ms: int) -> bool:
    """True if the file exists now: a complete past period after the symbol's listing."""
    try:
        start, end = period_bounds(freq, period)
    except (ValueError, OverflowError):
        return False
    today = now_ms - now_ms % market.DAY_MS
    limit = today if freq == "monthly" else now_ms
    return end <= limit and end > market.listing_ms(symbol)


def csv_text(symbol: str, freq: str, period: str, seed: int, edits: market.Edits = market.NO_EDITS) -> str:
    """The CSV inside the zip: one line per existing minute (after ``edits``), no header."""
    start, end = period_bounds(freq, period)
    micros = start >= MICROS_FROM_MS
    lines = []
    for t, nums in market.iter_closed_rows(symbol, start, end, seed, edits):
        if micros:
            row = market.format_row(t * 1000, t * 1000 + 59_999_999, nums)
        else:
            row = market.format_row(t, t + 59_999, nums)
        lines.append(",".join(str(v) for v in row))
    return "\n".join(lines) + "\n" if lines else ""


def zip_bytes(symbol: str, freq: str, period: str, seed: int, edits: market.Edits = market.NO_EDITS) -> bytes:
    """The zip file, byte-for-byte deterministic for the same seed and edits."""
    start, end = period_bounds(freq, period)
    return _zip(symbol, freq, period, seed, edits.touching(symbol, start, end))


@functools.lru_cache(maxsize=16)
def _zip(symbol: str, freq: str, period: str, seed: int, edits: market.Edits) -> bytes:
    """:func:`zip_bytes`, cached by exactly the edits that touch the period."""
    name = f"{symbol}-1m-{period}.csv"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, csv_text(symbol, freq, period, seed, edits), compresslevel=6)
    return buf.getvalue()


def checksum_text(symbol: str, freq: str, period: str, seed: int, edits: market.Edits = market.NO_EDITS) -> bytes:
    """``sha256sum`` line for the zip."""
    digest = hashlib.sha256(zip_bytes(symbol, freq, period, seed, edits)).hexdigest()
    return f"{digest}  {symbol}-1m-{period}.zip\n".encode()


def not_found_body(path: str) -> bytes:
    """S3's 404 answer (data.binance.vision is an S3 bucket behind a CDN)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
        f"<Message>The specified key does not exist.</Message><Key>{path.lstrip('/')}</Key></Error>"
    ).encode()


def periods_of(minute_ms: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """``(freq, period)`` of the files that cover a minute: its monthly and its daily file."""
    day = time.strftime("%Y-%m-%d", time.gmtime(minute_ms // 1000))
    return ("monthly", day[:7]), ("daily", day)
