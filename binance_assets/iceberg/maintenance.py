"""Snapshot expiry: keeps a table's history, and its files, bounded however often days are rebuilt.

Every write of a pair's day commits a snapshot (two when it replaces an older version: the old
file's removal, then the new file), and each snapshot keeps a manifest list, manifests and the
data files it removed alive. Without expiry a year of daily rebuilds grows the metadata file by
hundreds of snapshots and the warehouse by every replaced data file.

Retention comes from the table's standard Iceberg properties, set at creation in ``tables``:
``history.expire.min-snapshots-to-keep`` = 20 and ``history.expire.max-snapshot-age-ms`` = 0,
i.e. keep the last 20 snapshots whatever their age. Why a count and not an age: pyiceberg copies
the whole table metadata many times per commit, so a write costs more with every snapshot kept.
Measured here (one pair, SQLite catalog): a year written day by day took 140 s with every
snapshot kept (as an hour's retention does during a backfill: 383 ms a day, the last over 1 s)
and 47 s with the last 20 (127 ms a day). Twenty snapshots are the last ten rebuilds for time
travel, and give a reader that loaded the table before a burst of writes ten writes' time before
the files of its snapshot may go; in normal operation (a few writes a day) that is days. An
operator who wants an age guarantee sets ``history.expire.max-snapshot-age-ms`` on the table:
a snapshot is then kept while it is younger than that or among the last 20.

pyiceberg's ``expire_snapshots`` only removes snapshots from the metadata; deleting the files they
alone referenced (manifest lists, manifests, replaced data files) is done here, after the expiry is
committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of
from pyiceberg.utils.properties import property_as_int

log = logging.getLogger(__name__)

KEEP_PROPERTY = "history.expire.min-snapshots-to-keep"
MAX_AGE_PROPERTY = "history.expire.max-snapshot-age-ms"
DEFAULT_KEEP = 1  # Iceberg's defaults, for a table created without our properties
DEFAULT_MAX_AGE_MS = 5 * 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Expiry:
    """What one expiry removed."""

    snapshots: int
    files: int


def expired_snapshots(table: Table, now_ms: int) -> list[Snapshot]:
    """The snapshots the retention lets go, oldest part of the history: past the newest ``keep``
    and older than the maximum age. Taken as a suffix of the ancestry (newest first), so an
    expired snapshot never has a kept ancestor older than itself."""
    properties = table.metadata.properties
    keep = max(1, property_as_int(properties, KEEP_PROPERTY, DEFAULT_KEEP) or 0)
    max_age_ms = property_as_int(properties, MAX_AGE_PROPERTY, DEFAULT_MAX_AGE_MS) or 0
    history = list(ancestors_of(table.current_snapshot(), table.metadata))
    for position, snapshot in enumerate(history):
        if position >= keep and snapshot.timestamp_ms < now_ms - max_age_ms:
            return history[position:]
    return []


def removed_data_files(snapshot: Snapshot, io: FileIO) -> set[str]:
    """Data files that ``snapshot`` removed from the table (the DELETED entries of the manifests it
    wrote). Once it is expired, no remaining snapshot can reference them: the history is linear
    and a data file's path is never added twice."""
    return {
        entry.data_file.file_path
        for manifest in snapshot.manifests(io)
        if manifest.added_snapshot_id == snapshot.snapshot_id
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=False)
        if entry.status == ManifestEntryStatus.DELETED
    }


def unreachable_files(expired: Iterable[Snapshot], kept: Iterable[Snapshot], io: FileIO) -> set[str]:
    """Files only the expired snapshots reference: their manifest lists, manifests no kept
    snapshot lists, and the data files they removed."""
    kept_manifests = {manifest.manifest_path for snapshot in kept for manifest in snapshot.manifests(io)}
    files: set[str] = set()
    for snapshot in expired:
        files.add(snapshot.manifest_list)
        files.update(
            manifest.manifest_path
            for manifest in snapshot.manifests(io)
            if manifest.manifest_path not in kept_manifests
        )
        files.update(removed_data_files(snapshot, io))
    return files


def expire_snapshots(table: Table, now_ms: int | None = None) -> Expiry:
    """Expire what the table's retention lets go, then delete the files only those snapshots
    referenced. Best effort: when another writer commits in between, nothing is expired and the
    next write tries again (its snapshots are just as old then)."""
    table.refresh()
    expired = expired_snapshots(table, now_ms if now_ms is not None else int(time.time() * 1000))
    if not expired:
        return Expiry(0, 0)
    expired_ids = {snapshot.snapshot_id for snapshot in expired}
    kept = [snapshot for snapshot in table.snapshots() if snapshot.snapshot_id not in expired_ids]
    files = unreachable_files(expired, kept, table.io)
    try:
        table.maintenance.expire_snapshots().by_ids(sorted(expired_ids)).commit()
    except (CommitFailedException, ValueError) as error:  # ValueError: another writer expired them
        log.info("snapshot expiry of %s skipped: %s", table.name(), error)
        return Expiry(0, 0)
    for path in files:
        _delete(table.io, path)
    return Expiry(len(expired_ids), len(files))


def _delete(io: FileIO, path: str) -> None:
    """Delete a file no snapshot references; one already gone (a concurrent expiry) is fine."""
    try:
        io.delete(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        log.warning("could not delete unreferenced file %s: %s", path, error)
