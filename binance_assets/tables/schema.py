"""Column contracts shared by every cooked table, and the strict parsing of raw Binance values.

Two gates, one contract. ``shape_problem`` is the raw zone's: a response whose rows are not what
Binance documents (a field missing, a price that is not a decimal string, a time outside its hour)
is refused before it is stored. ``parse_columns`` is the cooked table's: it types the values with
polars expressions (``strict=False``) and compares what came out with what went in, so a value the
table cannot hold exactly (more than 8 decimal places) fails with partition, row, field and value
named, instead of becoming a silent null or a rounded number.
"""

from __future__ import annotations

import re
from functools import cached_property
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import polars as pl
from dagster import TableColumn, TableSchema

from binance_assets.partitions import HOUR_MS, epoch_ms

DECIMAL = pl.Decimal(38, 8)
TIMESTAMP = pl.Datetime("ms", "UTC")


@dataclass(frozen=True)
class Column:
    """One column of a cooked table: its name, type, the contract's label, and its source field."""

    name: str
    dtype: pl.DataType
    label: str
    source: str


@dataclass(frozen=True)
class HourRows:
    """One hour of raw rows as cooking takes them; ``complete`` when the hour had closed."""

    key: str
    hour: datetime
    rows: list[Any]
    complete: bool


@dataclass(frozen=True)
class CookedHour:
    """One hour of a cooked table, with what cooking it found."""

    frame: pl.DataFrame
    duplicates_dropped: int
    missing_minutes: tuple[str, ...] = ()
    rows_with_extra_fields: int = 0


class Cook(Protocol):
    """Raw rows of consecutive hours → each hour's cooked table, in order; raises
    ``MalformedData``. One call cooks many hours because polars' cost per call, not per row,
    dominates an hour of 60 candles."""

    def __call__(self, hours: Sequence[HourRows], symbol: str) -> list[CookedHour]: ...


@dataclass(frozen=True)
class Dataset:
    """One Binance dataset: its cooked columns, how to read a raw row's fields, and how to cook."""

    name: str
    columns: Sequence[Column]
    cook: Cook
    fields_of: Callable[[Any, str], Mapping[str, Any] | None]  # (row, symbol) → source fields
    time_of: Callable[[Any], int | None]  # a raw row's time in epoch ms, None if it has none
    time_source: str  # the source field of that time
    time_column: str

    @cached_property
    def raw_kinds(self) -> tuple[tuple[str, str], ...]:
        """(source field, JSON kind) of each column, worked out once: comparing polars types
        costs more than checking a value, and a year is half a million rows."""
        return tuple((column.source, _json_kind(column.dtype)) for column in self.columns)


class MalformedData(ValueError):
    """A raw value cannot be cooked exactly; the message names partition, row, field and value."""

    def __init__(self, dataset: str, partition: str, row: int, field: str, value: object, why: str):
        super().__init__(
            f"{dataset} partition {partition}: row {row}, field {field!r}, value {value!r}: {why}"
        )
        self.dataset = dataset
        self.partition = partition
        self.row = row
        self.field = field
        self.value = value


def table_schema(columns: Sequence[Column]) -> TableSchema:
    """The contract as ``dagster/column_schema`` metadata; descriptions carry the required names."""
    return TableSchema(
        columns=[
            TableColumn(
                name=column.name,
                type=str(column.dtype),
                description=f"{column.label} (Binance field {column.source})",
            )
            for column in columns
        ]
    )


def schema_differences(actual: pl.Schema, columns: Sequence[Column]) -> list[str]:
    """Every way ``actual`` departs from the contract: names, order, types. Extra columns may follow."""
    problems = []
    names = list(actual.names())
    for position, column in enumerate(columns):
        if position >= len(names):
            problems.append(f"column {position} {column.name!r} ({column.dtype}) is missing")
        elif names[position] != column.name:
            problems.append(f"column {position} is {names[position]!r}, expected {column.name!r}")
        elif actual[column.name] != column.dtype:
            problems.append(
                f"column {column.name!r} has type {actual[column.name]}, expected {column.dtype}"
            )
    return problems


def _converted(source: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == TIMESTAMP:
        return source.cast(pl.Int64, strict=False).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    return source.cast(dtype, strict=False)


def _without_trailing_zeros(text: pl.Expr) -> pl.Expr:
    return text.str.replace(r"(\.\d*?)0+$", "$1").str.replace(r"\.$", "")


def _faithful(source: pl.Expr, converted: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """True where the converted value says exactly what the source string said: ``43519.34``
    is exact in decimal(38,8) (as ``43519.34000000``), ``0.123456789`` is not."""
    if dtype == DECIMAL:
        return _without_trailing_zeros(converted.cast(pl.String)) == _without_trailing_zeros(source)
    if dtype == TIMESTAMP:
        return converted.is_not_null()
    return converted.cast(pl.String) == source


DECIMAL_TEXT = re.compile(r"-?\d+(\.\d+)?")


def _json_kind(dtype: pl.DataType) -> str:
    """What Binance sends for a column of ``dtype``: decimals as text, times and counts as ints."""
    if dtype == DECIMAL:
        return "decimal"
    return "int" if dtype in (pl.Int64, TIMESTAMP) else "str"


def _shape_of(value: Any, kind: str) -> str | None:
    """Why ``value`` is not what Binance sends for a column of ``kind``, or None."""
    if value is None:
        return "missing"
    if kind == "decimal":
        ok = type(value) is str and DECIMAL_TEXT.fullmatch(value) is not None
        return None if ok else "not a decimal string"
    if kind == "int":
        return None if type(value) is int else "not an integer"
    return None if type(value) is str else "not a string"


def shape_problem(
    dataset: Dataset, row: Any, symbol: str, hour_start_ms: int
) -> tuple[str, Any, str] | None:
    """(field, value, why) for the first way a raw row departs from Binance's documented shape:
    not a row at all, a field missing or of the wrong JSON type, another pair's row, a time
    outside its hour. None for a well-formed row; extra fields are Binance's to add."""
    fields = dataset.fields_of(row, symbol)
    if fields is None:
        return "*", row, f"not a {dataset.name} row"
    for source, kind in dataset.raw_kinds:
        value = fields.get(source)
        if why := _shape_of(value, kind):
            return source, value, why
    if fields.get("symbol") != symbol:
        return "symbol", fields.get("symbol"), f"not {symbol}"
    time = fields[dataset.time_source]
    if not hour_start_ms <= time < hour_start_ms + HOUR_MS:
        return dataset.time_source, time, "time outside the hour"
    return None


def parse_columns(
    raw: pl.DataFrame, columns: Sequence[Column], dataset: str, hours: Sequence[HourRows]
) -> pl.DataFrame:
    """Typed contract columns from a frame of source strings; raises ``MalformedData`` on the first
    value that is missing or not exactly representable.

    ``raw`` holds one String column per source field (as sent, numbers rendered as text) and the
    columns of ``with_hour_columns``, which are kept, so errors name the partition and the row's
    position in its raw JSON array.
    """
    typed = raw.select(
        *HOUR_COLUMNS,
        *[_converted(pl.col(c.source), c.dtype).alias(c.name) for c in columns],
        *[
            (pl.col(c.source).is_not_null() & _faithful(pl.col(c.source), _converted(pl.col(c.source), c.dtype), c.dtype))
            .fill_null(False)
            .alias(f"_ok_{c.name}")
            for c in columns
        ],
    )
    checks = [f"_ok_{c.name}" for c in columns]
    bad = typed.filter(~pl.all_horizontal(checks))
    if bad.height:
        first = bad.row(0, named=True)
        column = next(c for c in columns if not first[f"_ok_{c.name}"])
        at = (pl.col("_hour") == first["_hour"]) & (pl.col("_row") == first["_row"])
        value = raw.filter(at)[column.source][0]
        why = "missing" if value is None else f"not a valid {column.dtype}"
        partition = hours[first["_hour"]].key
        raise MalformedData(dataset, partition, first["_row"], column.source, value, why)
    return typed.select(*HOUR_COLUMNS, *(c.name for c in columns))


# Columns that tie a row of a many-hour frame to its hour: the hour's position in the batch, the
# row's position in that hour's raw JSON array, and the hour's start in epoch milliseconds.
HOUR_COLUMNS = ("_hour", "_row", "_start")


def hour_positions(counts: Sequence[int]) -> pl.Series:
    """For rows laid out hour after hour, each row's hour position (0, 0, …, 1, 1, …)."""
    positions = pl.Series(range(len(counts)), dtype=pl.Int32)
    return positions.repeat_by(pl.Series(counts, dtype=pl.UInt32)).explode().drop_nulls().alias("_hour")


def with_hour_columns(frame: pl.DataFrame, hours: Sequence[HourRows]) -> pl.DataFrame:
    """``frame`` (all hours' rows, in order) with the ``HOUR_COLUMNS``."""
    starts = pl.Series([epoch_ms(hour.hour) for hour in hours], dtype=pl.Int64)
    return frame.with_columns(hour_positions([len(hour.rows) for hour in hours])).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).over("_hour").alias("_row"),
        pl.lit(starts).gather(pl.col("_hour")).alias("_start"),
    )


def split_hours(frame: pl.DataFrame, count: int) -> list[pl.DataFrame]:
    """A many-hour frame, ordered by hour, back into ``count`` frames without the hour columns;
    an hour without rows gets an empty frame of the same schema."""
    parts = frame.partition_by("_hour", as_dict=True, maintain_order=True)
    empty = frame.drop(HOUR_COLUMNS).clear()
    return [
        parts[(position,)].drop(HOUR_COLUMNS) if (position,) in parts else empty
        for position in range(count)
    ]

