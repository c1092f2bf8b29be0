"""Replacing one pair's UTC day in an Iceberg table: one overwrite filtered on the pair and the
day, so readers see the old day or the new one, never both or neither, and a rebuild never
duplicates rows. A failed write names table, pair, day, what to check and where: the raw
SQLAlchemy or pyarrow error names none of them.
"""

import logging
import random
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import polars as pl
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.expressions import BooleanExpression
from pyiceberg.table import Table
from sqlalchemy.exc import SQLAlchemyError

from binance_assets.datasets.contract import Column
from binance_assets.iceberg.catalog import check_for, reason, redact, where
from binance_assets.iceberg.maintenance import after_write
from binance_assets.iceberg.tables import TableSpec, identifier, open_table, pair_day_filter
from binance_assets.partitions import day_bounds

log = logging.getLogger(__name__)

# A writer that lost every one of 5 attempts was seen with 6 writers and 2 expiry loops on a busy
# 2-core machine (test_iceberg_edges.py, keep 4); 8 holds there. The waits add up to 25 s at most.
ATTEMPTS = 8
BACKOFF_S = 0.1  # the k-th retry waits up to BACKOFF_S * 2**k, jittered so writers spread out


@dataclass(frozen=True)
class DayWrite:
    """The outcome of writing a pair's day, as materialization metadata wants it."""

    table: str
    symbol: str
    day: date
    rows: int
    data_files: int  # files holding the pair-day after the write: 1, or 0 for an empty day
    stored_rows: int  # rows those files hold, from the table's manifests (no data read)
    snapshot_id: int | None
    location: str
    attempts: int  # commits tried; more than 1 when another writer committed at the same time
    expired_snapshots: int
    orphan_files_removed: int = 0  # by the orphan sweep this write ran, when one was due

    def metadata(self) -> dict[str, str | int]:
        """The snapshot id as text: 64 bits are more digits than the UI's JavaScript numbers keep."""
        return {
            "table": self.table, "rows": self.rows, "data_files": self.data_files, "snapshot_id": str(self.snapshot_id),
            "table_location": self.location, "commit_attempts": self.attempts,
            "expired_snapshots": self.expired_snapshots, "orphan_files_removed": self.orphan_files_removed,
        }


class DayWriteFailed(RuntimeError):
    """Writing a pair's day failed; the message names table, pair, day and what to check."""


class DayWriteConflict(DayWriteFailed):
    """Other writers kept committing to the table first; the day was not written."""


@contextmanager
def failures_named(catalog: Catalog, table: str, symbol: str, day: date) -> Iterator[None]:
    """A catalog or warehouse error as ``DayWriteFailed``. Whether an interrupted commit landed is
    not known here; rewriting the day is safe."""
    try:
        yield
    except (SQLAlchemyError, OSError) as error:
        raise DayWriteFailed(
            redact(f"{table}: writing {symbol} {day} failed: {reason(error)}; {check_for(error)} ({where(catalog)})",
                   catalog)
        ) from error


def day_rows(table: TableSpec, symbol: str, day: date, frame: pl.DataFrame) -> pa.Table:
    """The pair-day's rows as Arrow: the contract columns, sorted by time, timestamps in
    microseconds. Refuses other types, and rows of another pair or day (the next overwrite would
    not replace them)."""
    _check_types(frame, table.columns)
    start, end = day_bounds(day)
    symbol_column, time_column = pl.col(table.symbol_column), pl.col(table.time_column)
    inside = (symbol_column == symbol) & time_column.is_between(start, end, closed="left")
    outside = frame.filter(~inside.fill_null(False)).height
    if outside:
        raise ValueError(f"{outside} rows of the frame are not {symbol} rows of {day}")
    rows = frame.select(column.name for column in table.columns).sort(table.time_column, maintain_order=True)
    return rows.with_columns(pl.col(pl.Datetime).cast(pl.Datetime("us", "UTC"))).to_arrow()


def _check_types(frame: pl.DataFrame, columns: Sequence[Column]) -> None:
    for column in columns:
        if column.name not in frame.schema:
            raise ValueError(f"column {column.name!r} ({column.dtype}) is missing")
        if frame.schema[column.name] != column.dtype:
            raise ValueError(f"column {column.name!r} has type {frame.schema[column.name]}, expected {column.dtype}")


def replace_rows(table: Table, rows: pa.Table, row_filter: BooleanExpression, attempts: int) -> int:
    """Overwrite ``row_filter``'s rows with ``rows``; returns the attempts it took. pyiceberg
    re-bases a commit that lost to one touching other rows itself. When the other commit replaced
    these rows (``ValidationException``), its retries ran out (``CommitFailedException``), or an
    expiry deleted files it checked against (``FileNotFoundError``), the overwrite is redone from
    the new head, so the last writer's rows are the day's; the orphan sweep removes the abandoned
    data file."""
    attempt = 1
    while True:
        try:
            with warnings.catch_warnings():
                # A pair-day's first build replaces nothing, which pyiceberg warns about each time.
                warnings.filterwarnings("ignore", "Delete operation did not match any records", UserWarning)
                table.overwrite(rows, overwrite_filter=row_filter)
            return attempt
        except (CommitFailedException, ValidationException, FileNotFoundError) as error:
            if attempt >= attempts:
                raise
            log.info("%s: overwrite attempt %d lost a race, redone from the new head: %s", table.name(), attempt, error)
            time.sleep(random.uniform(0, BACKOFF_S * 2**attempt))
            table.refresh()
            attempt += 1


def write_day(
    catalog: Catalog, spec: TableSpec, symbol: str, day: date, frame: pl.DataFrame, attempts: int = ATTEMPTS
) -> DayWrite:
    """Replace ``symbol``'s ``day`` in ``binance.{spec.name}`` (created if missing) with ``frame``."""
    with failures_named(catalog, identifier(spec), symbol, day):
        table = open_table(catalog, spec)
    return write_table_day(table, spec, symbol, day, frame, attempts)


def write_table_day(
    table: Table, spec: TableSpec, symbol: str, day: date, frame: pl.DataFrame, attempts: int = ATTEMPTS
) -> DayWrite:
    """Replace ``symbol``'s ``day`` in ``table`` with ``frame`` as one data file (an empty frame
    deletes the pair-day), then the upkeep (``maintenance``). Raises ``DayWriteConflict`` when
    ``attempts`` commits all lost to other writers, ``DayWriteFailed`` when the catalog or the
    warehouse fails."""
    rows = day_rows(spec, symbol, day, frame)
    row_filter = pair_day_filter(spec, symbol, day)
    with failures_named(table.catalog, identifier(spec), symbol, day):
        sequence_before = table.metadata.last_sequence_number
        try:
            tried = replace_rows(table, rows, row_filter, attempts)
        except (CommitFailedException, ValidationException) as error:
            raise DayWriteConflict(
                f"{identifier(spec)}: writing {symbol} {day} failed after {attempts} attempts, other writers "
                f"kept committing first (the same rows, or expiring the snapshot this write started from): {error}"
            ) from error
        snapshot = table.current_snapshot()
        expiry, sweep = after_write(table, sequence_before, getattr(snapshot, "sequence_number", None) or 0)
        files = [task.file for task in table.scan(row_filter=row_filter).plan_files()]
    return DayWrite(
        table=identifier(spec), symbol=symbol, day=day, rows=rows.num_rows, data_files=len(files),
        stored_rows=sum(file.record_count for file in files), snapshot_id=snapshot.snapshot_id if snapshot else None,
        location=table.location(), attempts=tried, expired_snapshots=expiry.snapshots, orphan_files_removed=sweep.removed,
    )
