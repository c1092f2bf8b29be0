"""What every dataset is made of: its columns, how a raw row is read and validated, how hours are
cooked into typed tables, and the rules a cooked hour is checked against.

Two gates, one contract. ``accept_page`` guards the raw zone: an answer whose rows are not what
Binance documents is refused as a whole before any of its hours is stored. ``cook`` guards the
cooked table: it compares every typed value with its source string, so a value the table cannot
hold exactly fails with partition, row, field and value named instead of being rounded.
Nothing here knows Dagster, the lake or HTTP.
"""

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from itertools import islice
from typing import Any, TypeVar

import polars as pl

from binance_assets.partitions import HOUR_MS, MINUTE_MS, epoch_ms, key_of_ms, partition_hour

DECIMAL = pl.Decimal(38, 8)
TIMESTAMP = pl.Datetime("ms", "UTC")
T = TypeVar("T")


@dataclass(frozen=True)
class Column:
    """One column of a cooked table: its name, type, the contract's label, and its source field."""

    name: str
    dtype: pl.DataType
    label: str
    source: str


@dataclass(frozen=True)
class Page:
    """The rows of one Binance answer (or archive slice), the request behind them (never its
    signature), and Binance's clock when it was asked: an hour not ended by then is not complete."""

    rows: list[Any]
    request: dict[str, Any]
    asked_at_ms: int


@dataclass(frozen=True)
class Rule:
    """An invariant of a cooked table: ``offending`` selects the rows of a batch frame that break
    it; the frame has each row's predecessor in ``_previous_*`` columns (see ``checks``)."""

    name: str
    description: str
    offending: Callable[[pl.DataFrame], pl.DataFrame]


@dataclass(frozen=True)
class HourRows:
    key: str
    hour: datetime
    rows: list[Any]
    complete: bool


@dataclass(frozen=True, eq=False)  # one object per dataset: compared and hashed by identity
class Dataset:
    """One Binance dataset: its fields are described in docs/architecture.md."""

    name: str  # "candles": lake folder, asset names, check names, Iceberg table
    columns: Sequence[Column]
    raw_file: str  # the raw zone's JSON file of an hour
    fields_of: Callable[[Any, str], Mapping[str, Any] | None]  # (row, symbol) → source fields
    time_of: Callable[[Any], int | None]  # a row's time, also of a malformed row: names its hour
    key_field: str  # the source field that identifies a row and orders a page
    time_field: str  # the source field of the row's time (epoch ms)
    on_the_minute: bool  # rows are minutes: times must be whole minutes
    symbol_column: str  # the pair's column in the cooked table
    time_column: str  # the time column the Iceberg table is partitioned by (day)
    rules: Sequence[Rule]  # blocking: a cooked hour that breaks one is kept out of the tables
    warnings: Sequence[Rule]  # non-blocking: reported, the hour still counts
    fetch: Callable[..., Iterable[Page]]  # (binance, archive, symbol, start_ms, end_ms, rest_only) → pages
    picture: Callable[[pl.DataFrame, date, Mapping[int, str]], bytes]  # the day in the UI (missing minutes by cause)
    needs_credentials: bool = False
    # rows of a cooked hour that Binance may still change (orders not in a final status), by key →
    # last update time in ms: watched until they settle (``sensors.settle_orders``)
    unsettled: Callable[[pl.DataFrame], dict[str, int]] | None = None

    @cached_property
    def raw_kinds(self) -> tuple[tuple[str, str], ...]:
        """(source field, JSON kind) of each column, worked out once: comparing polars types per
        value would cost more than checking the value."""
        return tuple((column.source, _json_kind(column.dtype)) for column in self.columns)


class MalformedData(ValueError):
    """A raw value is not what Binance documents or cannot be cooked exactly."""

    def __init__(self, dataset: str, partition: str, row: int, field: str, value: object, why: str):
        super().__init__(f"{dataset} partition {partition}: row {row}, field {field!r}, value {value!r}: {why}")
        self.partition = partition


def rows_where(condition: pl.Expr) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """A rule's ``offending``: the rows of a frame where ``condition`` holds."""
    return lambda frame: frame.filter(condition)


# ---- the raw gate ------------------------------------------------------------------------------

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
        return None if type(value) is str and DECIMAL_TEXT.fullmatch(value) else "not a decimal string"
    if kind == "int":
        return None if type(value) is int else "not an integer"
    return None if type(value) is str else "not a string"


def row_problem(dataset: Dataset, row: Any, symbol: str) -> tuple[str, Any, str] | None:
    """(field, value, why) for the first way a row departs from Binance's documented shape, or None.
    Extra fields are Binance's to add: kept in the raw zone, not cooked."""
    fields = dataset.fields_of(row, symbol)
    if fields is None:
        return "*", row, f"not a {dataset.name} row"
    for source, kind in dataset.raw_kinds:
        if why := _shape_of(fields.get(source), kind):
            return source, fields.get(source), why
    if fields.get("symbol") != symbol:
        return "symbol", fields.get("symbol"), f"not {symbol}"
    return None


@dataclass(frozen=True)
class Last:
    """The last row accepted so far: the next one must come after it."""

    key: Any
    time: int
    row: Any


def accept_page(
    dataset: Dataset, page: Page, symbol: str, start_ms: int, end_ms: int, last: Last | None
) -> tuple[list[Any], list[int], Last | None]:
    """The page's rows once the whole page is valid, identical repeats dropped; the times of the
    repeats; and the last row, which the next page continues from. Raises ``MalformedData`` at the
    first problem: a row of the wrong shape, a time off the minute or outside [start_ms, end_ms),
    a key or time that goes back, or two different rows for one key."""
    kept: list[Any] = []
    dropped: list[int] = []
    seen: dict[Any, Any] = {last.key: last.row} if last else {}
    for position, row in enumerate(page.rows):
        fields = dataset.fields_of(row, symbol)
        problem = row_problem(dataset, row, symbol) or _order_problem(dataset, fields, row, start_ms, end_ms, last, seen)
        if problem is not None:
            raise MalformedData(dataset.name, _hour_key_of(dataset.time_of(row), start_ms), position, *problem)
        key = fields[dataset.key_field]
        if key in seen:
            dropped.append(fields[dataset.time_field])
            continue
        kept.append(row)
        seen[key] = row
        last = Last(key, fields[dataset.time_field], row)
    return kept, dropped, last


def _order_problem(
    dataset: Dataset, fields: Mapping[str, Any], row: Any, start_ms: int, end_ms: int, last: Last | None,
    seen: Mapping[Any, Any],
) -> tuple[str, Any, str] | None:
    time, key = fields[dataset.time_field], fields[dataset.key_field]
    if not start_ms <= time < end_ms:
        return dataset.time_field, time, "time outside the range asked for"
    if dataset.on_the_minute and time % MINUTE_MS:
        return dataset.time_field, time, "not on the minute"
    if key in seen:
        return None if seen[key] == row else (dataset.key_field, key, "two different rows for the same key")
    if last is None:
        return None
    if key < last.key:
        return dataset.key_field, key, f"out of order: follows {last.key}"
    if time < last.time:
        return dataset.time_field, time, f"out of order: earlier than the row before ({last.time})"
    return None


def _hour_key_of(time: Any, fallback_ms: int) -> str:
    return key_of_ms(time if type(time) is int else fallback_ms)


# ---- cooking -----------------------------------------------------------------------------------

# A batch row's hour (position in the batch) and its position in that hour's raw JSON array.
HOUR_COLUMNS = ("_hour", "_row")
# Hours cooked and checked in one polars pass: enough rows that polars' cost per call no longer
# dominates, few enough that memory does not grow with a range.
BATCH_HOURS = 24


def batches(items: Iterable[T], size: int = BATCH_HOURS) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def cook(dataset: Dataset, hours: Sequence[HourRows], symbol: str) -> pl.DataFrame:
    """The hours' rows as one typed frame: ``_hour``, ``_row``, then the contract's columns in
    order. Raw hours are valid and ordered (``accept_page``), so nothing is sorted or dropped."""
    source = pl.from_dicts(
        [dataset.fields_of(row, symbol) for hour in hours for row in hour.rows],
        schema={column.source: pl.String for column in dataset.columns},
        strict=False,
    )
    counts = pl.Series([len(hour.rows) for hour in hours], dtype=pl.UInt32)
    positions = pl.Series(range(len(hours)), dtype=pl.Int32).repeat_by(counts).explode().drop_nulls()
    source = source.with_columns(positions.alias("_hour")).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).over("_hour").alias("_row")
    )
    return parse_columns(source, dataset, hours)


def split_hours(frame: pl.DataFrame, count: int) -> list[pl.DataFrame]:
    """A batch frame back into ``count`` hour frames of the contract's columns (empty ones too)."""
    parts = frame.partition_by("_hour", as_dict=True, maintain_order=True)
    columns = [name for name in frame.columns if not name.startswith("_")]
    empty = frame.select(columns).clear()
    return [parts[(n,)].select(columns) if (n,) in parts else empty for n in range(count)]


def _converted(source: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == TIMESTAMP:
        return source.cast(pl.Int64, strict=False).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    return source.cast(dtype, strict=False)


def _canonical_decimal(text: pl.Expr) -> pl.Expr:
    """Without trailing zeros and a zero's sign: ``43519.340`` is ``43519.34``, ``-0.00`` is ``0``."""
    trimmed = text.str.replace(r"(\.\d*?)0+$", "$1").str.replace(r"\.$", "")
    return trimmed.str.replace(r"^-(0)$", "$1")


def _faithful(source: pl.Expr, converted: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """True where the converted value says exactly what the source string said."""
    if dtype == DECIMAL:
        return _canonical_decimal(converted.cast(pl.String)) == _canonical_decimal(source)
    if dtype == TIMESTAMP:
        return converted.is_not_null()
    return converted.cast(pl.String) == source


def parse_columns(raw: pl.DataFrame, dataset: Dataset, hours: Sequence[HourRows]) -> pl.DataFrame:
    """Typed contract columns from a frame of source strings; raises ``MalformedData`` on the first
    value that is missing or not exactly representable."""
    columns = dataset.columns
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
    bad = typed.filter(~pl.all_horizontal(f"_ok_{c.name}" for c in columns))
    if bad.height:
        first = bad.row(0, named=True)
        column = next(c for c in columns if not first[f"_ok_{c.name}"])
        at = (pl.col("_hour") == first["_hour"]) & (pl.col("_row") == first["_row"])
        value = raw.filter(at)[column.source][0]
        why = "missing" if value is None else f"not a valid {column.dtype}"
        raise MalformedData(dataset.name, hours[first["_hour"]].key, first["_row"], column.source, value, why)
    return typed.select(*HOUR_COLUMNS, *(c.name for c in columns))


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
            problems.append(f"column {column.name!r} has type {actual[column.name]}, expected {column.dtype}")
    return problems


def hour_span(keys: Sequence[str]) -> tuple[int, int]:
    """[start, end) in epoch ms of consecutive hourly partition keys."""
    start = epoch_ms(partition_hour(keys[0]))
    return start, start + len(keys) * HOUR_MS


def missing_minutes(frame: pl.DataFrame, time_column: str, hour: datetime, complete: bool) -> list[int]:
    """Minutes (0…59) of an hour with no row; of an open hour only those before its last row.
    Gaps are real on Binance (no trades): listed, never filled."""
    offsets = frame[time_column].dt.epoch("ms") - epoch_ms(hour)
    present = set((offsets // MINUTE_MS).to_list())
    last = 59 if complete else (max(present) if present else -1)
    return [minute for minute in range(last + 1) if minute not in present]
