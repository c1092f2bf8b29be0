"""How the raw step splits Binance's pages into hours, on hand-made pages."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from binance_assets.assets.raw import split_pages
from binance_assets.datasets.candles import CANDLES
from binance_assets.datasets.contract import Page
from binance_assets.partitions import HOUR_MS, MINUTE_MS, epoch_ms

FIRST = datetime(2025, 3, 1, tzinfo=timezone.utc)


def pages(hours: int) -> Iterator[Page]:
    """1000-row kline pages over ``hours`` hours, each made when asked for, as a response is parsed."""
    start, end = epoch_ms(FIRST), epoch_ms(FIRST) + hours * HOUR_MS
    for first in range(start, end, 1000 * MINUTE_MS):
        rows = [[t, "1.0", "2.0", "0.5", "1.5", str(t), t + 59_999, "4.5", 7, "1", "1.5", "0"]
                for t in range(first, min(first + 1000 * MINUTE_MS, end), MINUTE_MS)]
        yield Page(rows, {"endpoint": "/api/v3/klines"}, end + HOUR_MS)


def peak_while_storing(hours: int) -> int:
    """Peak memory (bytes) traced while the hours are handed out and dropped, as stored hours are."""
    keys = [(FIRST + timedelta(hours=n)).strftime("%Y-%m-%d-%H:00") for n in range(hours)]
    tracemalloc.start()
    try:
        for hour in split_pages(CANDLES, "BTCUSDT", keys, pages(hours), lambda s, e: iter(())):
            assert hour.complete and len(hour.rows) == 60
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_holds_the_hours_in_flight_not_the_range() -> None:
    """Ten times the hours, about the same peak: an hour handed over is not kept for the rest of
    the range (it was, and a year peaked at ≈ 640 MB)."""
    assert peak_while_storing(480) < 2 * peak_while_storing(48)
