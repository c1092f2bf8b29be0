"""``BinanceArchive`` called directly against a real emulator process: a download past its
deadline is abandoned there, and REST replaces the file (no Dagster run)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from binance_assets.binance.archive import BinanceArchive
from binance_assets.binance.client import BinanceResource
from binance_emulator.process import EmulatorProcess

SYMBOL = "BTCUSDT"
DAY_MS = 86_400_000
MARCH = int(datetime(2025, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)
ZIP = f"/data/spot/daily/klines/{SYMBOL}/1m/{SYMBOL}-1m-2025-03-01.zip"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as process:
        yield process


def test_a_trickled_file_is_abandoned_at_its_deadline_and_rest_replaces_it(
    emulator: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """A daily zip (~78 KB) sent at 1,000 B/s would take 78 s, each read well inside a
    per-read timeout; the whole download has 1 s."""
    emulator.reset()
    binance = BinanceResource(api_url=emulator.url, backoff_seconds=0.05, timeout_seconds=1, weight_limit=6000)
    from_rest = [row for page in binance.klines(SYMBOL, MARCH, MARCH + DAY_MS) for row in page.rows]
    emulator.set_faults([{"kind": "trickle", "path": ZIP, "count": 1, "rate": 1000}])
    archive = BinanceArchive(archive_url=emulator.url, timeout_seconds=1)

    started = time.monotonic()
    from_archive = [row for page in archive.klines(binance, SYMBOL, MARCH, MARCH + DAY_MS) for row in page.rows]
    elapsed = time.monotonic() - started

    assert from_archive == from_rest
    assert 1.0 <= elapsed < 2.0, elapsed
    assert archive.stats.files == 0 and archive.stats.rest_spans == ["2025-03-01T00:00 to 2025-03-02T00:00"]
    assert f"{ZIP} abandoned after 1.0s" in caplog.text and "REST serves the rest of this run" in caplog.text
    assert emulator.faults()["faults"] == [], "the file was asked for once"


def test_a_file_that_arrives_in_time_is_used(emulator: EmulatorProcess) -> None:
    """A slow but steady download inside the deadline is kept: the deadline bounds, it does not cut."""
    emulator.reset()
    emulator.set_faults([{"kind": "trickle", "path": ZIP, "count": 1, "rate": 200_000}])
    binance = BinanceResource(api_url=emulator.url, weight_limit=6000)
    archive = BinanceArchive(archive_url=emulator.url, timeout_seconds=5)
    rows = [row for page in archive.klines(binance, SYMBOL, MARCH, MARCH + DAY_MS) for row in page.rows]
    assert len(rows) >= 1430 and archive.stats.files == 1 and not archive.stats.rest_spans
    assert "/api/v3/klines" not in emulator.stats()["requests"]
