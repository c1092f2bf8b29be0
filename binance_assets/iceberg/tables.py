"""The Iceberg tables, derived from their contract columns, and how to read them. A table
(``TableSpec``: each dataset, and the gap ledger) is partitioned by the pair and the UTC day of its
time column, so a pair's day is one partition holding one data file.
"""

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

# Standard Iceberg properties, so Spark or Trino maintenance honours them too: snapshot retention
# (see ``maintenance``), manifests merged once 20 pile up (a scan plans from a handful, not one per
# day written), metadata.json files beyond the last 20 deleted after each commit.
PROPERTIES = {
    "history.expire.min-snapshots-to-keep": "20",
    "history.expire.max-snapshot-age-ms": "0",
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "20",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}


class TableSpec(Protocol):
    """A table: its name in the namespace, its columns, the pair and time columns it is partitioned by."""

    name: str
    columns: Sequence[Column]
    symbol_column: str
    time_column: str


def identifier(spec: TableSpec) -> str:
    return f"{NAMESPACE}.{spec.name}"


def iceberg_type(dtype: pl.DataType) -> IcebergType:
    """The Iceberg type that holds a contract column's values exactly."""
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
    """Field ids 1, 2, … in contract order; optional fields, as Iceberg refuses Arrow's nullable
    columns for a required one."""
    return Schema(*[
        NestedField(position, column.name, iceberg_type(column.dtype), required=False)
        for position, column in enumerate(columns, start=1)
    ])


def partition_spec(table: TableSpec, schema: Schema) -> PartitionSpec:
    """Identity on the pair, then the UTC day of the time column."""
    symbol = schema.find_field(table.symbol_column)
    moment = schema.find_field(table.time_column)
    return PartitionSpec(
        PartitionField(symbol.field_id, FIRST_PARTITION_FIELD_ID, IdentityTransform(), symbol.name),
        PartitionField(moment.field_id, FIRST_PARTITION_FIELD_ID + 1, DayTransform(), f"{moment.name}_day"),
    )


def open_table(catalog: Catalog, table: TableSpec) -> Table:
    """``binance.{name}``, created if missing, also by several processes at once. Loaded first:
    ``create_table_if_not_exists`` writes a metadata file before it finds the table exists."""
    try:
        return catalog.load_table(identifier(table))
    except NoSuchTableError:
        pass
    _create_namespace(catalog)
    schema = iceberg_schema(table.columns)
    return catalog.create_table_if_not_exists(
        identifier(table), schema=schema, partition_spec=partition_spec(table, schema), properties=PROPERTIES
    )


def _create_namespace(catalog: Catalog) -> None:
    """The SQL catalog checks, then inserts: a process that loses the race gets a unique-key error."""
    try:
        catalog.create_namespace_if_not_exists(NAMESPACE)
    except Exception:
        if not catalog.namespace_exists(NAMESPACE):
            raise


def schema_problems(table: Table, columns: Sequence[Column]) -> list[str]:
    """Every way the table's columns, as the catalog records them, depart from the contract."""
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
    """Rows of one pair and day: whole partitions, so replacing them drops files, not rewrites them."""
    start, end = day_bounds(day)
    return And(
        EqualTo(table.symbol_column, symbol),
        GreaterThanOrEqual(table.time_column, start.isoformat()),
        LessThan(table.time_column, end.isoformat()),
    )


def scan_table(catalog: Catalog, table: TableSpec) -> pl.LazyFrame:
    """``binance.{name}`` with the contract's exact types (timestamps back to milliseconds)."""
    return pl.scan_iceberg(open_table(catalog, table)).cast({column.name: column.dtype for column in table.columns})


def arrow_table(
    catalog: Catalog, table: TableSpec, row_filter: str | BooleanExpression = AlwaysTrue(), columns: Sequence[str] = ("*",)
) -> pa.Table:
    """The rows ``row_filter`` selects, as stored (microseconds); DuckDB queries it by its Python
    name without the iceberg extension (``candles = arrow_table(catalog, CANDLES)``)."""
    return open_table(catalog, table).scan(row_filter=row_filter, selected_fields=tuple(columns)).to_arrow()
