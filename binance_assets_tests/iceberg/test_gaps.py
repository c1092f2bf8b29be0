"""The gap ledger's pair-days with real pyiceberg (a SQLite catalog)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl

from binance_assets.gaps import GAPS, ledger_day
from binance_assets.iceberg.catalog import open_catalog
from binance_assets.iceberg.days import write_day
from binance_assets.iceberg.tables import scan_table

DAY = date(2025, 6, 15)
NOW = datetime(2025, 6, 17, tzinfo=timezone.utc)


def test_a_day_without_a_missing_minute_writes_an_empty_pair_day(tmp_path: Path) -> None:
    """A day with all 1,440 minutes has no ledger rows; its columns keep their types, so the
    day is written (an untyped empty frame failed the day's build: 'symbol' has type Null)."""
    catalog = open_catalog(f"sqlite:///{tmp_path}/catalog.db", str(tmp_path / "warehouse"))
    previous = scan_table(catalog, GAPS).collect()
    ledger = ledger_day("BTCUSDT", DAY, set(range(1440)), set(range(24)), {"BTCUSDC": set(range(1440))}, previous, NOW)
    assert ledger.height == 0
    assert ledger.schema["symbol"] == pl.String and ledger.schema["cause"] == pl.String
    write_day(catalog, GAPS, "BTCUSDT", DAY, ledger)
    assert scan_table(catalog, GAPS).collect().height == 0
