"""The Iceberg tables, derived from their contract columns, and how to read them.

Each table has its dataset's columns, in order, with the Iceberg type of each polars type
(decimal(38,8), long, string, timestamptz), and is partitioned by the pair (identity) and the UTC
day of its time column, so a pair's day is one partition holding one data file. A table is
described by a ``TableSpec``: every dataset is one (``binance.candles``, ``binance.orders``), and
so is the gap ledger (``binance.gaps``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

import polars as pl
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, EqualTo, GreaterThanOrEqual, LessThan
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import DecimalType, IcebergType, LongType, NestedField, StringType, TimestamptzType

from binance_assets.datasets.contract import Column
from binance_assets.partitions import day_bounds

NAMESPACE = "binance"
FIRST_PARTITION_FIELD_ID = 1000  # Iceberg numbers partition fields from 1000

# Table properties set at creation, standard Iceberg names so Spark or Trino maintenance honours
# them too. Snapshot retention (keep the last 20, whatever their age) is explained in
# ``maintenance``. Appends merge small manifests once 20 pile up, so a scan plans from a handful of
# manifests instead of one per day written; the writer deletes metadata.json files beyond the
# last 20 after each commit.
PROPERTIES = {
    "history.expire.min-snapshots-to-keep": "20",
    "history.expire.max-snapshot-age-ms": "0",
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "20",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}


class TableSpec(Protocol):
    """What a table is made of: its name in the namespace, its contract columns, and the pair
    and time columns it is partitioned by."""

    name: str
    columns: Sequence[Column]
    symbol_column: str
    time_column: str


def identifier(spec: TableSpec) -> str:
    return f"{NAMESPACE}.{spec.name}"


def iceberg_type(dtype: pl.DataType) -> IcebergType:
    """The Iceberg type that holds a contract column's values exactly. A timezone-aware datetime
    is ``timestamptz`` (microseconds in Iceberg; the cooked milliseconds convert exactly)."""
    if isinstance(dtype, pl.Decimal):
        return DecimalType(dtype.precision, dtype.scale)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone == "UTC":
        return TimestamptzType()
    if dtype == pl.Int64:
        return LongType()
    if dtype == pl.String:
        return StringType()
    raise TypeError(f"no Iceberg type for contract type {dtype}")


def iceberg_schema(columns: Sequence[Column]) -> Schema:
    """The contract columns as an Iceberg schema, field ids 1, 2, … in contract order. Optional
    fields: polars (and so Arrow) columns are nullable, and Iceberg refuses nullable data for a
    required field."""
    return Schema(
        *[
            NestedField(position, column.name, iceberg_type(column.dtype), required=False)
            for position, column in enumerate(columns, start=1)
        ]
    )


def partition_spec(table: TableSpec, schema: Schema) -> PartitionSpec:
    """Identity on the pair, then the UTC day of the time column."""
    symbol = schema.find_field(table.symbol_column)
    moment = schema.find_field(table.time_column)
    return PartitionSpec(
        PartitionField(symbol.field_id, FIRST_PARTITION_FIELD_ID, IdentityTransform(), symbol.name),
        PartitionField(moment.field_id, FIRST_PARTITION_FIELD_ID + 1, DayTransform(), f"{moment.name}_day"),
    )


def open_table(catalog: Catalog, table: TableSpec) -> Table:
    """``binance.{name}``, created (with its namespace) if missing; safe when several processes
    create it at once. Loaded first: pyiceberg's ``create_table_if_not_exists`` writes a metadata
    file before it finds the table exists, which would leave one orphan file per call."""
    try:
        return catalog.load_table(identifier(table))
    except NoSuchTableError:
        pass
    _create_namespace(catalog)
    schema = iceberg_schema(table.columns)
    return catalog.create_table_if_not_exists(
        identifier(table),
        schema=schema,
        partition_spec=partition_spec(table, schema),
        properties=PROPERTIES,
    )


def _create_namespace(catalog: Catalog) -> None:
    """``binance``, unless it exists. The SQL catalog checks, then inserts: a process that loses
    the race to another gets the database's unique-key error, which is fine once it exists."""
    try:
        catalog.create_namespace_if_not_exists(NAMESPACE)
    except Exception:
        if not catalog.namespace_exists(NAMESPACE):
            raise


def schema_problems(table: Table, columns: Sequence[Column]) -> list[str]:
    """Every way the table's columns depart from the contract (names, order, Iceberg types), as
    the catalog records them. Extra columns may follow."""
    actual = [(field.name, field.field_type) for field in table.schema().fields]
    problems = []
    for position, column in enumerate(columns):
        expected = (column.name, iceberg_type(column.dtype))
        if position >= len(actual):
            problems.append(f"column {position} {column.name!r} ({expected[1]}) is missing")
        elif actual[position] != expected:
            problems.append(f"column {position} is {actual[position][0]!r} ({actual[position][1]}), "
                            f"expected {column.name!r} ({expected[1]})")
    return problems


def pair_day_filter(table: TableSpec, symbol: str, day: date) -> BooleanExpression:
    """Rows of one pair and UTC day. It matches whole partitions, so replacing it drops files
    instead of rewriting them."""
    start, end = day_bounds(day)
    return And(
        EqualTo(table.symbol_column, symbol),
        GreaterThanOrEqual(table.time_column, start.isoformat()),
        LessThan(table.time_column, end.isoformat()),
    )


def contract_types(table: TableSpec) -> dict[str, pl.DataType]:
    return {column.name: column.dtype for column in table.columns}


def scan_table(catalog: Catalog, table: TableSpec) -> pl.LazyFrame:
    """A polars LazyFrame over ``binance.{name}`` with the contract's exact types (timestamps back
    to milliseconds), so it can be compared or joined with cooked hours. Filters on the pair and
    time prune partitions and files."""
    return pl.scan_iceberg(open_table(catalog, table)).cast(contract_types(table))


def arrow_table(
    catalog: Catalog,
    table: TableSpec,
    row_filter: str | BooleanExpression = AlwaysTrue(),
    columns: Sequence[str] = ("*",),
) -> pa.Table:
    """The rows of ``binance.{dataset}`` that ``row_filter`` selects, as Arrow, read by pyiceberg
    with partition and file pruning. DuckDB queries it by its Python name without the iceberg
    extension: ``duckdb.sql("SELECT max(high_price) FROM candles")`` after
    ``candles = arrow_table(catalog, CANDLES)``. Timestamps are microseconds, as stored."""
    return open_table(catalog, table).scan(row_filter=row_filter, selected_fields=tuple(columns)).to_arrow()
