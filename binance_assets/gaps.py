"""The gap ledger, ``binance.gaps``: every minute a pair's day lacks a candle for, and why (the
causes are in docs/data-contract.md). Built with the pair's day of candles
(``assets.daily``); a minute keeps the time it was first detected, and every build verifies the
day again. ``pending`` minutes are fetched again by ``sensors.archive_revisions`` once the day's
archive file is published.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from binance_assets.datasets.contract import TIMESTAMP, Column
from binance_assets.partitions import MINUTE_MS, day_bounds, epoch_ms


@dataclass(frozen=True)
class LedgerTable:
    """``binance.gaps``, partitioned like the datasets' tables."""

    name: str = "gaps"
    columns: tuple[Column, ...] = (
        Column("symbol", pl.String, "Symbol", "symbol"),
        Column("minute", TIMESTAMP, "the missing minute's open time", "minute"),
        Column("cause", pl.String, "exchange, pair, pending or recovered", "cause"),
        Column("detected_at", TIMESTAMP, "when the minute was first found missing", "detected_at"),
        Column("verified_at", TIMESTAMP, "when its cause was last verified", "verified_at"),
    )
    symbol_column: str = "symbol"
    time_column: str = "minute"


GAPS = LedgerTable()
CAUSES = ("exchange", "pair", "pending", "recovered")


def minutes_of(frame: pl.DataFrame, time_column: str, day: date) -> set[int]:
    """The minutes of the day (0…1439) a frame has a row for."""
    return set(_minute_numbers(frame[time_column], day))


def ledger_day(
    symbol: str, day: date, present: set[int], archived_hours: set[int], others: Mapping[str, set[int] | None],
    previous: pl.DataFrame, now: datetime,
) -> pl.DataFrame:
    """The pair-day's ledger rows. ``present``: the pair's minutes; ``archived_hours``: the hours
    (0…23) built from an archive file; ``others``: every other configured pair's minutes of the
    day, None where a pair's day is not complete in the lake; ``previous``: the ledger rows of the
    pair-day so far."""
    start, _ = day_bounds(day)
    known = [minutes for minutes in others.values() if minutes is not None]
    everyone_checked = bool(others) and len(known) == len(others)
    detected = dict(zip(_minute_numbers(previous["minute"], day), previous["detected_at"].to_list()))

    def cause(minute: int) -> str:
        if everyone_checked and not any(minute in minutes for minutes in known):
            return "exchange"
        if minute // 60 not in archived_hours or len(known) < len(others) and not any(minute in m for m in known):
            return "pending"  # the archive not consulted, or a pair that might lack it too not known yet
        return "pair"

    missing = {minute: cause(minute) for minute in range(1440) if minute not in present}
    recovered = {minute: "recovered" for minute in detected if minute in present}
    rows = sorted({**missing, **recovered}.items())
    return pl.DataFrame(
        {
            "symbol": [symbol] * len(rows),
            "minute": [epoch_ms(start) + minute * MINUTE_MS for minute, _ in rows],
            "cause": [found for _, found in rows],
            "detected_at": [detected.get(minute, now) for minute, _ in rows],
            "verified_at": [now] * len(rows),
        },
        schema_overrides={"symbol": pl.String, "minute": pl.Int64, "cause": pl.String},  # typed when empty too
    ).with_columns(
        pl.col("minute").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
        pl.col("detected_at", "verified_at").cast(TIMESTAMP),
    )


def _minute_numbers(times: pl.Series, day: date) -> list[int]:
    return ((times.dt.epoch("ms") - epoch_ms(day_bounds(day)[0])) // MINUTE_MS).to_list()


def causes_of(ledger: pl.DataFrame, day: date) -> dict[int, str]:
    """Minute of the day → cause, for the day's picture."""
    return dict(zip(_minute_numbers(ledger["minute"], day), ledger["cause"].to_list()))
