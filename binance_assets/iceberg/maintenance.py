"""Snapshot expiry and orphan files: a table's history and files stay bounded however often days
are rebuilt (every day write commits a snapshot or two, each keeping its files alive).

Retention is the table's standard properties (set in ``tables``): keep the last 20 snapshots,
whatever their age. A count, not an age, because pyiceberg copies the whole metadata several
times per commit: a year written day by day took 140 s keeping every snapshot and 47 s keeping
20 (one pair, SQLite). An operator who wants an age guarantee sets
``history.expire.max-snapshot-age-ms``. pyiceberg's expiry only edits the metadata; the files only
the expired snapshots referenced are deleted here. A writer that loses a race skips; the next
write expires.

Orphan files (unreferenced: a refused commit's metadata file, a redone overwrite's data file, a
merged-away manifest) are removed by ``remove_orphan_files``, which pyiceberg 0.12 lacks: list the
files, then read the metadata, then delete what is unreferenced and older than a safety age (an
hour by default). A writer creates its files before committing them, and the longest write
measured under contention took 18 s, so the age keeps the sweep safe. The write path sweeps once
every ``binance.orphan-files.sweep-every-commits`` (20) sequence numbers, bounded per call.
"""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pyarrow.fs import FileSelector, FileSystem, FileType
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of
from pyiceberg.utils.properties import property_as_int
from sqlalchemy.exc import SQLAlchemyError

from binance_assets.iceberg.catalog import redact

log = logging.getLogger(__name__)

KEEP_PROPERTY = "history.expire.min-snapshots-to-keep"
MAX_AGE_PROPERTY = "history.expire.max-snapshot-age-ms"
DEFAULT_KEEP = 1  # Iceberg's defaults, for a table created without our properties
DEFAULT_MAX_AGE_MS = 5 * 24 * 60 * 60 * 1000

# Orphan files: this project's table properties (Iceberg has no standard ones), and their defaults.
ORPHAN_MIN_AGE_PROPERTY = "binance.orphan-files.min-age-ms"
SWEEP_EVERY_PROPERTY = "binance.orphan-files.sweep-every-commits"
DEFAULT_ORPHAN_MIN_AGE_MS = 60 * 60 * 1000  # an hour: thousands of times a day write's write-to-commit time
DEFAULT_SWEEP_EVERY = 20
MAX_ORPHANS_PER_SWEEP = 200  # per call, so a sweep on the write path stays short
MAX_SWEEP_SECONDS = 10.0


@dataclass(frozen=True)
class Expiry:
    snapshots: int
    files: int


@dataclass(frozen=True)
class Sweep:
    orphans: int  # unreferenced files older than the safety age
    removed: int  # of those, deleted by this call (within its bounds; the next call takes the rest)


def expired_snapshots(table: Table, now_ms: int) -> list[Snapshot]:
    """The snapshots the retention lets go: past the newest ``keep`` and older than the maximum age,
    as a suffix of the ancestry, so an expired snapshot never has a kept ancestor older than itself."""
    properties = table.metadata.properties
    keep = max(1, property_as_int(properties, KEEP_PROPERTY, DEFAULT_KEEP) or 0)
    max_age_ms = property_as_int(properties, MAX_AGE_PROPERTY, DEFAULT_MAX_AGE_MS) or 0
    history = list(ancestors_of(table.current_snapshot(), table.metadata))
    for position, snapshot in enumerate(history):
        if position >= keep and snapshot.timestamp_ms < now_ms - max_age_ms:
            return history[position:]
    return []


def removed_data_files(snapshot: Snapshot, io: FileIO) -> set[str]:
    """Data files ``snapshot`` removed (DELETED entries of its own manifests). Once it is expired no
    snapshot references them: the history is linear and a path is never added twice."""
    return {
        entry.data_file.file_path
        for manifest in snapshot.manifests(io)
        if manifest.added_snapshot_id == snapshot.snapshot_id
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=False)
        if entry.status == ManifestEntryStatus.DELETED
    }


def unreachable_files(expired: Iterable[Snapshot], kept: Iterable[Snapshot], io: FileIO) -> set[str]:
    """Files only the expired snapshots reference: manifest lists, manifests, removed data files."""
    kept_manifests = {manifest.manifest_path for snapshot in kept for manifest in snapshot.manifests(io)}
    files: set[str] = set()
    for snapshot in expired:
        files.add(snapshot.manifest_list)
        files.update(m.manifest_path for m in snapshot.manifests(io) if m.manifest_path not in kept_manifests)
        files.update(removed_data_files(snapshot, io))
    return files


def expire_snapshots(table: Table, now_ms: int | None = None) -> Expiry:
    """Expire what the retention lets go, then delete the files only those snapshots referenced.
    Best effort: when another writer commits or expires in between, the next write tries again."""
    try:
        table.refresh()
        expired = expired_snapshots(table, now_ms if now_ms is not None else int(time.time() * 1000))
        if not expired:
            return Expiry(0, 0)
        expired_ids = {snapshot.snapshot_id for snapshot in expired}
        kept = [snapshot for snapshot in table.snapshots() if snapshot.snapshot_id not in expired_ids]
        files = unreachable_files(expired, kept, table.io)
        table.maintenance.expire_snapshots().by_ids(sorted(expired_ids)).commit()
    except (CommitFailedException, ValueError, FileNotFoundError) as error:
        # ValueError: another writer expired them; FileNotFoundError: and deleted their files.
        log.info("snapshot expiry of %s lost a race with another writer, skipped: %s", table.name(), error)
        return Expiry(0, 0)
    for path in files:
        _delete(table.io.delete, path, "unreferenced")
    return Expiry(len(expired_ids), len(files))


def referenced_files(table: Table) -> set[str]:
    """Every file the current metadata reaches: metadata files, statistics, and each snapshot's
    manifest list, manifests and data files (deleted entries included: older snapshots read them).
    Raises ``FileNotFoundError`` when a concurrent expiry deleted a manifest meanwhile."""
    metadata = table.metadata
    files = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    files.update(stats.statistics_path for stats in metadata.statistics)
    files.update(stats.statistics_path for stats in metadata.partition_statistics)
    manifests = {}
    for snapshot in metadata.snapshots:
        files.add(snapshot.manifest_list)
        manifests.update((manifest.manifest_path, manifest) for manifest in snapshot.manifests(table.io))
    files.update(manifests)
    for manifest in manifests.values():
        files.update(entry.data_file.file_path for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False))
    return files


def remove_orphan_files(
    table: Table,
    now_ms: int | None = None,
    min_age_ms: int | None = None,
    max_files: int = MAX_ORPHANS_PER_SWEEP,
    max_seconds: float = MAX_SWEEP_SECONDS,
) -> Sweep:
    """Delete files under the table's location that its metadata does not reference and that are
    older than ``min_age_ms`` (default: ``binance.orphan-files.min-age-ms``, else an hour), at most
    ``max_files`` and for at most ``max_seconds``. Files are listed before the metadata is read, so
    a file committed before that read counts as referenced; when a concurrent expiry interferes,
    nothing is deleted. Tables on a FileIO other than pyarrow's are left alone."""
    if not isinstance(table.io, PyArrowFileIO):
        return Sweep(0, 0)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    if min_age_ms is None:
        min_age_ms = property_as_int(table.metadata.properties, ORPHAN_MIN_AGE_PROPERTY, DEFAULT_ORPHAN_MIN_AGE_MS) or 0
    filesystem, root = _filesystem(table.io, table.location())
    selector = FileSelector(root.rstrip("/"), recursive=True, allow_not_found=True)
    old = {
        info.path
        for info in filesystem.get_file_info(selector)
        if info.type == FileType.File and info.mtime_ns // 1_000_000 <= now_ms - min_age_ms
    }
    if not old:
        return Sweep(0, 0)
    try:
        table.refresh()
        referenced = {_filesystem(table.io, path)[1] for path in referenced_files(table)}
    except FileNotFoundError as error:
        log.info("orphan sweep of %s skipped, a concurrent expiry changed the table: %s", table.name(), error)
        return Sweep(0, 0)
    orphans = sorted(old - referenced)
    deadline = time.monotonic() + max_seconds
    removed = 0
    for path in orphans[:max_files]:
        if time.monotonic() > deadline:
            break
        removed += _delete(filesystem.delete_file, path, "orphan")
    return Sweep(len(orphans), removed)


def sweep_due(table: Table, sequence_before: int, sequence_after: int) -> bool:
    """Whether a write passed a multiple of the sweep interval: every sequence number belongs to
    one commit, so each multiple is passed by one writer, however writers interleave."""
    every = max(1, property_as_int(table.metadata.properties, SWEEP_EVERY_PROPERTY, DEFAULT_SWEEP_EVERY) or 1)
    return sequence_after // every > sequence_before // every


def after_write(table: Table, sequence_before: int, sequence_after: int) -> tuple[Expiry, Sweep]:
    """Expire snapshots, and sweep orphan files when due. The write stands whatever happens here:
    an error is logged, and the next write does the upkeep again."""
    expiry, sweep = Expiry(0, 0), Sweep(0, 0)
    try:
        expiry = expire_snapshots(table)
        if sweep_due(table, sequence_before, sequence_after):
            sweep = remove_orphan_files(table)
    except (OSError, SQLAlchemyError) as error:
        log.warning("upkeep of %s after a committed write failed, the next write retries: %s", table.name(),
                    redact(str(error), table.catalog))
    return expiry, sweep


def _filesystem(io: PyArrowFileIO, location: str) -> tuple[FileSystem, str]:
    """pyarrow's file system for ``location`` and its path there, in the form the listing returns."""
    scheme, netloc, path = PyArrowFileIO.parse_location(location, io.properties)
    return io.fs_by_scheme(scheme, netloc), path


def _delete(delete: Callable[[str], None], path: str, kind: str) -> int:
    """1 when ``path`` was deleted; 0 when it was already gone (a concurrent expiry) or could not be."""
    try:
        delete(path)
        return 1
    except FileNotFoundError:
        return 0
    except OSError as error:
        log.warning("could not delete %s file %s: %s", kind, path, error)
        return 0
