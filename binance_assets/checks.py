"""Asset checks on each pair's cooked tables.

A table's checks read the run's hours from the lake once, in order, and evaluate every rule a
week of hours per polars call. A rule that proves the table wrong (schema, close times, OHLC,
volumes, order invariants) is an ERROR and blocking: nothing downstream runs. A rule about what
the market did (gaps in the minutes, a jump across an hour boundary) is a WARN and non-blocking:
Binance really has minutes without trades, and a gap is reported, never filled in. What cooking
already guarantees (unique open times and order ids, times inside their hour) is not checked again.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl
from dagster import (
    AssetChecksDefinition,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetIn,
    AssetKey,
    MetadataValue,
    PartitionsDefinition,
    multi_asset_check,
)

from binance_assets.lake.zones import Hours, read_ahead
from binance_assets.partitions import HOUR, MINUTE_MS, partition_hour
from binance_assets.tables import candles as candles_table
from binance_assets.tables import orders as orders_table
from binance_assets.tables.batches import batches
from binance_assets.tables.schema import TIMESTAMP, Column, Dataset, hour_positions, schema_differences

SAMPLE_ROWS = 100

# Hours the rules see at once: a week of candles is 10,080 rows.
CHECK_CHUNK_HOURS = 168

# The first candle of an hour opens at the hour's first trade, normally a few ticks from the
# previous hour's close. A move of more than 1% across one minute boundary is rare enough to be
# worth a look (a stale, shifted or foreign hour), yet real markets make it: a warning.
MAX_BOUNDARY_JUMP = 0.01


@dataclass(frozen=True)
class Chunk:
    """Consecutive hours of a cooked table as the rules see them, in one frame: a ``partition``
    column first, then the table's columns, then each row's hour start as ``_hour_start``.

    ``hours`` lists every hour of the chunk, also those without rows; ``previous`` holds the rows
    of the hour before the chunk when the run covers it (rules never reach outside the run)."""

    frame: pl.DataFrame
    hours: list[tuple[str, datetime]]
    previous: pl.DataFrame | None


@dataclass(frozen=True)
class Rule:
    """An invariant: ``offending`` returns what breaks it in a chunk of hours (rows, or missing
    minutes), with the partition of each in a ``partition`` column.

    ERROR rules block downstream assets; WARN rules only report.
    """

    name: str
    description: str
    offending: Callable[[Chunk], pl.DataFrame]
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR


def _rows_where(condition: pl.Expr) -> Callable[[Chunk], pl.DataFrame]:
    return lambda chunk: chunk.frame.filter(condition)


def _outside(column: str, low: str, high: str) -> pl.Expr:
    return (pl.col(low) > pl.col(column)) | (pl.col(column) > pl.col(high))


def _missing_minutes(chunk: Chunk) -> pl.DataFrame:
    """Minutes of each hour without a candle; an hour still open counts only those before its
    last candle (later minutes have not happened yet). Only hours short of 60 distinct whole
    minutes are looked at one by one."""
    time = pl.col("candle_open_time")
    whole_minutes = chunk.frame.group_by("partition").agg(
        time.filter(time.dt.epoch("ms") % MINUTE_MS == 0).n_unique().alias("minutes")
    )
    present = dict(whole_minutes.iter_rows())
    now = datetime.now(timezone.utc)
    found: dict[str, list[str]] = {"partition": [], "missing_minute": []}
    for key, hour in chunk.hours:
        closed = hour + HOUR <= now
        if closed and present.get(key) == 60:
            continue
        rows = chunk.frame.filter(pl.col("partition") == key)
        for minute in candles_table.missing_minutes(rows, hour, closed):
            found["partition"].append(key)
            found["missing_minute"].append(minute)
    return pl.DataFrame(found, schema={"partition": pl.String, "missing_minute": pl.String})


def _boundary_jump(chunk: Chunk) -> pl.DataFrame:
    """Each hour's first open against the previous hour's last close, when it moved too far."""
    frames = [chunk.frame] if chunk.previous is None else [chunk.previous, chunk.frame]
    edges = pl.concat(frames).group_by("partition", maintain_order=True).agg(
        pl.col("_hour_start").first(),
        pl.col("candle_open_time").first(),
        pl.col("open_price").first(),
        pl.col("candle_close_time").last().alias("previous_close_time"),
        pl.col("close_price").last().alias("previous_close"),
    )
    pairs = edges.with_columns(
        pl.col("_hour_start", "previous_close_time", "previous_close").shift(1)
    ).filter(pl.col("_hour_start") + HOUR == edges["_hour_start"])
    return pairs.select(
        "partition",
        "previous_close_time",
        "previous_close",
        "candle_open_time",
        "open_price",
        (pl.col("open_price").cast(pl.Float64) / pl.col("previous_close").cast(pl.Float64) - 1)
        .abs()
        .alias("relative_jump"),
    ).filter(pl.col("relative_jump") > MAX_BOUNDARY_JUMP)


CANDLE_RULES = [
    Rule(
        "candles_close_time",
        "Every candle closes 59,999 ms after it opens.",
        _rows_where(
            pl.col("candle_close_time")
            != pl.col("candle_open_time") + pl.duration(milliseconds=candles_table.CLOSE_OFFSET_MS)
        ),
    ),
    Rule(
        "candles_ohlc",
        "low ≤ open ≤ high and low ≤ close ≤ high.",
        _rows_where(
            _outside("open_price", "low_price", "high_price")
            | _outside("close_price", "low_price", "high_price")
        ),
    ),
    Rule(
        "candles_volumes",
        "Volumes and trade counts are not negative.",
        _rows_where(
            (pl.col("btc_volume") < 0) | (pl.col("usd_volume") < 0) | (pl.col("number_of_trades") < 0)
        ),
    ),
    Rule(
        "candles_completeness",
        "All 60 minutes of a closed hour are present; missing minutes (no trading) are listed, "
        "never filled in.",
        _missing_minutes,
        AssetCheckSeverity.WARN,
    ),
    Rule(
        "candles_continuity",
        f"Across each hour boundary inside the run, the first open is within "
        f"{MAX_BOUNDARY_JUMP:.0%} of the previous hour's last close.",
        _boundary_jump,
        AssetCheckSeverity.WARN,
    ),
]

ORDER_RULES = [
    Rule(
        "orders_executed_qty",
        "executed_qty ≤ orig_qty.",
        _rows_where(pl.col("executed_qty") > pl.col("orig_qty")),
    ),
    Rule(
        "orders_non_negative",
        "price, orig_qty and executed_qty are not negative.",
        _rows_where((pl.col("price") < 0) | (pl.col("orig_qty") < 0) | (pl.col("executed_qty") < 0)),
    ),
    Rule(
        "orders_update_time",
        "An order is never updated before it was placed: update_time ≥ order_time.",
        _rows_where(pl.col("update_time") < pl.col("order_time")),
    ),
    Rule(
        "orders_enums",
        "status, type and side are values Binance defines.",
        _rows_where(
            ~pl.col("status").is_in(orders_table.STATUSES)
            | ~pl.col("type").is_in(orders_table.TYPES)
            | ~pl.col("side").is_in(orders_table.SIDES)
        ),
    ),
]


RULES = {"candles": CANDLE_RULES, "orders": ORDER_RULES}


def _sample(frame: pl.DataFrame) -> MetadataValue:
    shown = frame.head(SAMPLE_ROWS).select(pl.exclude("^_.*$").cast(pl.String))
    header = "| " + " | ".join(shown.columns) + " |"
    lines = [header, "|" + " --- |" * len(shown.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.iter_rows()]
    return MetadataValue.md("\n".join(lines))


def _chunk(dataset: Dataset, frames: dict[str, pl.DataFrame], previous: pl.DataFrame | None) -> Chunk:
    """One frame of the hours in ``frames`` (contract columns only), tagged with partition and
    hour start."""
    hours = [(key, partition_hour(key)) for key in frames]
    positions = hour_positions([frame.height for frame in frames.values()])
    starts = pl.Series([hour for _, hour in hours], dtype=TIMESTAMP)
    frame = pl.concat([frame.select(c.name for c in dataset.columns) for frame in frames.values()])
    frame = frame.select(
        pl.Series("partition", list(frames), dtype=pl.String).gather(positions),
        pl.all(),
        starts.gather(positions).alias("_hour_start"),
    )
    return Chunk(frame, hours, previous)


def evaluate(
    dataset: Dataset, hours: Mapping[str, pl.DataFrame], rules: Sequence[Rule]
) -> Iterator[AssetCheckResult]:
    """The schema check, then every rule, over all ``hours`` of the run, each hour read once and
    the rules applied to ``CHECK_CHUNK_HOURS`` hours at a time (polars' cost per call, not per
    row, dominates one hour)."""
    schema_problems: dict[str, list[str]] = {}
    findings: dict[str, list[pl.DataFrame]] = {rule.name: [] for rule in rules}
    previous: pl.DataFrame | None = None
    for chunk_hours in batches(read_ahead(hours), CHECK_CHUNK_HOURS):
        frames = {}
        for key, frame in chunk_hours:
            if problems := schema_differences(frame.schema, dataset.columns):
                schema_problems[key] = problems
            frames[key] = frame
        if schema_problems:  # the rules are not evaluated on a table off the contract
            continue
        chunk = _chunk(dataset, frames, previous)
        for rule in rules:
            if (found := rule.offending(chunk)).height:
                findings[rule.name].append(found)
        previous = chunk.frame.filter(pl.col("partition") == chunk.hours[-1][0])

    keys = list(hours)
    covered = {"hours_checked": len(keys), "hours": f"{keys[0]}...{keys[-1]}" if keys else ""}
    yield AssetCheckResult(
        check_name=f"{dataset.name}_schema",
        passed=not schema_problems,
        metadata={
            **covered,
            "failing_hours": len(schema_problems),
            "problems": MetadataValue.md(
                "\n".join(f"- {key}: {'; '.join(p)}" for key, p in list(schema_problems.items())[:50])
                or "none"
            ),
        },
    )
    for rule in rules:
        if schema_problems:
            yield AssetCheckResult(
                check_name=rule.name,
                passed=False,
                severity=rule.severity,
                description="not evaluated: the table does not have the contract's schema",
            )
            continue
        offending = findings[rule.name]
        rows = pl.concat(offending, how="diagonal_relaxed") if offending else pl.DataFrame()
        yield AssetCheckResult(
            check_name=rule.name,
            passed=not offending,
            severity=rule.severity,
            metadata={
                **covered,
                "failing_hours": rows["partition"].n_unique() if offending else 0,
                "offending_rows": rows.height,
                **({"sample": _sample(rows)} if offending else {}),
            },
        )


def _specs(
    table: AssetKey, columns: Sequence[Column], rules: Sequence[Rule], partitions: PartitionsDefinition
) -> list[AssetCheckSpec]:
    schema = AssetCheckSpec(
        f"{table.path[-1]}_schema",
        asset=table,
        blocking=True,
        partitions_def=partitions,
        description="Column names, order and types match the contract: "
        + ", ".join(f"{c.name} ({c.dtype})" for c in columns),
    )
    return [schema] + [
        AssetCheckSpec(
            rule.name,
            asset=table,
            blocking=rule.severity == AssetCheckSeverity.ERROR,
            partitions_def=partitions,
            description=rule.description,
        )
        for rule in rules
    ]


def table_checks(
    dataset: Dataset, table: AssetKey, partitions: PartitionsDefinition
) -> AssetChecksDefinition:
    """One multi-check for a pair's cooked table: its schema check and its rules, over the hours
    of the run, read once from the lake. The checks are partitioned by hour, so a one-hour run
    (every scheduled run) records each result on its hour; a range run records one result for
    the range, with the failing hours in its metadata."""
    rules = RULES[dataset.name]

    @multi_asset_check(
        name=f"{table.path[0]}_{dataset.name}_checks",
        specs=_specs(table, dataset.columns, rules, partitions),
        ins={"hours": AssetIn(table)},
    )
    def checks(hours: Hours) -> Iterator[AssetCheckResult]:
        yield from evaluate(dataset, hours, rules)

    return checks
