"""Column contracts shared by every cooked table, and the strict parsing of raw Binance values.

Binance sends prices and quantities as decimal strings. Parsing goes through polars expressions
with ``strict=False`` and then compares what came out with what went in, so a value that is not a
number, not exact in decimal(38,8), or missing fails with the partition, row and field named,
instead of becoming a silent null or a rounded number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import polars as pl
from dagster import TableColumn, TableSchema

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
class CookedHour:
    """One hour of a cooked table, with what cooking it found."""

    frame: pl.DataFrame
    duplicates_dropped: int
    missing_minutes: tuple[str, ...] = ()


class Cook(Protocol):
    """Raw rows of one hour → its cooked table; raises ``MalformedData``."""

    def __call__(
        self, rows: list[Any], symbol: str, partition: str, hour: datetime, complete: bool
    ) -> CookedHour: ...


@dataclass(frozen=True)
class Dataset:
    """One Binance dataset: its raw file, cooked columns, and how to cook and time its rows."""

    name: str
    raw_file: str
    columns: Sequence[Column]
    cook: Cook
    time_of: Callable[[Any], int]
    time_column: str


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


def polars_schema(columns: Sequence[Column]) -> pl.Schema:
    return pl.Schema({column.name: column.dtype for column in columns})


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


def _faithful(source: pl.Expr, converted: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """True where the converted value says exactly what the source string said."""
    if dtype == DECIMAL:
        return converted.cast(pl.String) == source
    if dtype == TIMESTAMP:
        return converted.is_not_null()
    return converted.cast(pl.String) == source


def parse_columns(
    raw: pl.DataFrame, columns: Sequence[Column], dataset: str, partition: str
) -> pl.DataFrame:
    """Typed contract columns from a frame of source strings; raises ``MalformedData`` on the first
    value that is missing or not exactly representable.

    ``raw`` holds one String column per source field (as sent, numbers rendered as text) and a
    ``_row`` column with each row's position in the raw JSON array.
    """
    typed = raw.select(
        "_row",
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
        value = raw.filter(pl.col("_row") == first["_row"])[column.source][0]
        why = "missing" if value is None else f"not a valid {column.dtype}"
        raise MalformedData(dataset, partition, first["_row"], column.source, value, why)
    return typed.select(c.name for c in columns)
