"""The table checks apply their rules a chunk of hours at a time (``CHECK_CHUNK_HOURS``); what
lies on a chunk's edge (a jump from the previous chunk's last hour, an empty hour) is still found,
in that hour only. The frames are the emulator's candles, cooked by the pipeline's own code."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from binance_assets.checks import CANDLE_RULES, CHECK_CHUNK_HOURS, evaluate
from binance_assets.partitions import HOUR, HOUR_MS, epoch_ms, partition_key
from binance_assets.tables.batches import cooked_hours
from binance_assets.tables.candles import CANDLES
from binance_assets.tables.schema import DECIMAL, HourRows
from binance_emulator import market

SYMBOL = "BTCUSDT"
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
HOURS = CHECK_CHUNK_HOURS + 3


@pytest.fixture(scope="module")
def table() -> dict[str, pl.DataFrame]:
    """Cooked candles of HOURS hours from START, by partition key."""
    rows = market.minute_rows(SYMBOL, epoch_ms(START), epoch_ms(START) + HOURS * HOUR_MS - 1)
    hours = []
    for index in range(HOURS):
        hour = START + index * HOUR
        first = epoch_ms(hour)
        in_hour = [row for row in rows if first <= row[0] < first + HOUR_MS]
        hours.append(HourRows(partition_key(hour), hour, in_hour, True))
    return {hour.key: cooked.frame for hour, cooked in cooked_hours(CANDLES, hours, SYMBOL)}


def failing(table: dict[str, pl.DataFrame]) -> dict[str, set[str]]:
    """Each failing check with the partitions in its sample."""
    found = {}
    for result in evaluate(CANDLES, table, CANDLE_RULES):
        if not result.passed:
            sample = result.metadata["sample"].value
            found[result.check_name] = {key for key in table if f"| {key} |" in sample}
    return found


def edge(index: int) -> str:
    return partition_key(START + index * HOUR)


def missing_minutes(index: int) -> int:
    """Minutes the emulator's market has no candle for, in hour ``index``."""
    first = epoch_ms(START + index * HOUR)
    return sum(market.is_missing(SYMBOL, first + minute * 60_000, 0) for minute in range(60))


def test_clean_hours_pass_across_chunks(table: dict[str, pl.DataFrame]) -> None:
    """Only the market's real gaps are reported: no boundary between chunks looks like a jump."""
    gap_hours = {edge(index) for index in range(HOURS) if missing_minutes(index)}
    assert gap_hours, "the range includes real gaps"
    assert failing(table) == {"candles_completeness": gap_hours}


def test_jump_at_a_chunk_edge_is_found_in_that_hour_only(table: dict[str, pl.DataFrame]) -> None:
    first_of_next_chunk = edge(CHECK_CHUNK_HOURS)
    doubled = (pl.col("open_price").cast(pl.Float64) * 2).cast(DECIMAL)
    jumped = table[first_of_next_chunk].with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(doubled).otherwise(pl.col(name)).alias(name)
        for name in ("open_price", "high_price")
    )
    found = failing({**table, first_of_next_chunk: jumped})
    assert found["candles_continuity"] == {first_of_next_chunk}
    assert "candles_ohlc" not in found


def test_empty_hour_at_a_chunk_edge_is_missing_whole_and_breaks_no_boundary(
    table: dict[str, pl.DataFrame],
) -> None:
    last_of_first_chunk = edge(CHECK_CHUNK_HOURS - 1)
    emptied = {**table, last_of_first_chunk: table[last_of_first_chunk].clear()}
    results = {result.check_name: result for result in evaluate(CANDLES, emptied, CANDLE_RULES)}
    completeness = results["candles_completeness"]
    assert f"| {last_of_first_chunk} | " in completeness.metadata["sample"].value
    gaps = sum(missing_minutes(index) for index in range(HOURS))
    emptied_gaps = missing_minutes(CHECK_CHUNK_HOURS - 1)
    assert completeness.metadata["offending_rows"].value == gaps - emptied_gaps + 60
    assert results["candles_continuity"].passed
