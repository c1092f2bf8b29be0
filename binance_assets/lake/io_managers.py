"""Dagster IO managers for the lake: the raw JSON zone and the cooked Parquet zone.

Both accept outputs that span many hourly partitions (Dagster's stock UPath IO managers refuse
them), so a backfill of any range runs as a single run and still writes one file set per hour,
exactly as one-hour runs would. Each asset declares where it lives in its definition metadata
(``lake_zone``, ``lake_dataset``, ``lake_file``, ``symbol``), so one IO manager serves every
dataset and the storage (local or S3) stays behind ``LakeStorage``.
"""

import io
import json
from abc import abstractmethod
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import polars as pl
from dagster import (
    ConfigurableIOManager,
    ConfigurableResource,
    InputContext,
    OutputContext,
    ResourceDependency,
)
from pydantic import Field

from binance_assets.lake.hours import HourStream, LakeHours, RawHour, Rejected
from binance_assets.lake.paths import SUCCESS_MARKER, hour_folder
from binance_assets.lake.storage import LakeError, LakeStorage, open_lake
from binance_assets.partitions import HOUR, partition_hour

_S3_CLIENTS: dict[str, Any] = {}


def _s3_client(lake_url: str, s3: ConfigurableResource | None) -> Any:
    """One boto3 client per S3 configuration and process: building one costs ~0.2 s, and a run
    opens the lake from every step (boto3 clients are thread-safe)."""
    if s3 is None:
        raise LakeError(
            f"LAKE_URL {lake_url!r} is on S3 but the lake IO managers were given no s3 resource "
            f"(dagster_aws.s3.S3Resource)"
        )
    config = s3.model_dump_json()
    if config not in _S3_CLIENTS:
        _S3_CLIENTS[config] = s3.get_client()
    return _S3_CLIENTS[config]


# Hours written between two syncs: one ``sync`` per day of hours instead of an fsync per file.
SETTLE_EVERY_HOURS = 24


class QuarantinedResponse(Exception):
    """A malformed Binance response failed its partition and was kept in the quarantine area."""


class LakeIOManager(ConfigurableIOManager):
    """What both zones share: the lake root, the S3 client and the hour-to-path mapping."""

    lake_url: str = Field(
        default="data/lake", description="Lake root: a local path or s3://bucket/prefix (LAKE_URL)."
    )
    # A dagster-aws ``S3Resource`` for S3 lakes. Typed loosely and optional so that a local lake
    # never imports dagster-aws (≈ 0.7 s in every step process).
    s3: ResourceDependency[ConfigurableResource | None] = None

    def storage(self) -> LakeStorage:
        return open_lake(self.lake_url, lambda: _s3_client(self.lake_url, self.s3))

    @staticmethod
    def _file_key(definition_metadata: Mapping[str, Any], partition_key: str, name: str) -> str:
        folder = hour_folder(
            definition_metadata["lake_zone"],
            definition_metadata["lake_dataset"],
            definition_metadata["symbol"],
            partition_hour(partition_key),
        )
        return f"{folder}/{name}"

    def handle_output(self, context: OutputContext, obj: HourStream[Any]) -> None:
        storage = self.storage()
        meta = context.definition_metadata
        expected = list(context.asset_partition_keys)
        covered = set(expected)
        written: list[str] = []
        unsettled: list[tuple[str, Any]] = []
        try:
            for key, value in obj:
                if key not in covered:
                    raise LakeError(
                        f"{context.asset_key.to_user_string()} produced partition {key}, "
                        f"which this run does not cover ({expected[0]}...{expected[-1]})"
                    )
                data_key = self.write_hour(storage, meta, key, value)
                written.append(key)
                unsettled.append((key, value))
                if len(unsettled) == SETTLE_EVERY_HOURS:
                    self._settle(storage, meta, unsettled)
                figures = {"dagster/row_count": _row_count(value), "path": storage.url(data_key)}
                self._add_hour_metadata(context, key, {**figures, **obj.hour_metadata(key)})
        finally:
            self._settle(storage, meta, unsettled)
        missing = sorted(covered.difference(written))
        if missing:
            raise LakeError(
                f"{context.asset_key.to_user_string()} produced no data for "
                f"{len(missing)} partition(s): {', '.join(missing[:10])}"
            )
        self._add_hour_metadata(
            context, written[-1], {**obj.metadata(), "partitions_written": len(written)}
        )

    @staticmethod
    def _add_hour_metadata(context: OutputContext, key: str, metadata: Mapping[str, Any]) -> None:
        """Metadata on one partition's materialization: each hour gets its own figures (so the UI
        plots rows per hour), the run's last hour also the run's totals. Output metadata would be
        copied onto every partition of the run."""
        context.step_context.add_asset_metadata(metadata, asset_key=context.asset_key, partition_key=key)

    def _settle(self, storage: LakeStorage, meta: Mapping[str, Any], hours: list[tuple[str, Any]]) -> None:
        """Make the written hours durable with one ``sync``, then finish them; also on failure,
        so every hour written before it is finished."""
        if not hours:
            return
        storage.sync()
        for key, value in hours:
            self.finish_hour(storage, meta, key, value)
        hours.clear()

    def finish_hour(self, storage: LakeStorage, meta: Mapping[str, Any], key: str, value: Any) -> None:
        """What may follow an hour's data once it is durable (nothing, unless a zone says so)."""

    def load_input(self, context: InputContext) -> LakeHours[Any]:
        storage = self.storage()
        meta = context.upstream_output.definition_metadata
        return LakeHours(
            list(context.asset_partition_keys), lambda key: self.read_hour(storage, meta, key)
        )

    @abstractmethod
    def file_name(self, definition_metadata: Mapping[str, Any]) -> str:
        """The data file's name inside an hour folder."""

    @abstractmethod
    def write_hour(
        self, storage: LakeStorage, meta: Mapping[str, Any], key: str, value: Any
    ) -> str:
        """Write one hour so that a reader never sees a part of it; returns its data file's key."""

    @abstractmethod
    def read_hour(self, storage: LakeStorage, meta: Mapping[str, Any], key: str) -> Any:
        """Read one hour written by ``write_hour``."""


def _row_count(value: RawHour | pl.DataFrame) -> int:
    return value.height if isinstance(value, pl.DataFrame) else len(value.rows)


class RawZoneIOManager(LakeIOManager):
    """Raw zone: the JSON Binance returned for each hour, then ``_SUCCESS`` once the hour closed.

    A closed hour is rewritten under its marker: both files are complete copies of an hour that
    can no longer change, so a reader (or a concurrent run) never sees a complete hour turn
    incomplete, and a run killed mid-rewrite leaves it complete. An open hour's snapshot first
    removes the marker, so ``_SUCCESS`` is never paired with a partial file.
    """

    def file_name(self, definition_metadata: Mapping[str, Any]) -> str:
        return definition_metadata["lake_file"]

    def write_hour(
        self, storage: LakeStorage, meta: Mapping[str, Any], key: str, value: RawHour | Rejected
    ) -> str:
        if isinstance(value, Rejected):
            kept_at = self.quarantine(storage, meta, key, value)
            raise QuarantinedResponse(f"{value.error}; the response is kept at {kept_at}") from value.error
        data_key = self._file_key(meta, key, self.file_name(meta))
        if not value.complete:
            storage.delete(self._file_key(meta, key, SUCCESS_MARKER))
        storage.write(data_key, json.dumps(value.rows, separators=(",", ":")).encode())
        return data_key

    def finish_hour(self, storage: LakeStorage, meta: Mapping[str, Any], key: str, value: RawHour) -> None:
        """``_SUCCESS`` for a closed hour, written once its data is durable."""
        if value.complete:
            storage.write(self._file_key(meta, key, SUCCESS_MARKER), b"")

    @staticmethod
    def quarantine(storage: LakeStorage, meta: Mapping[str, Any], key: str, value: Rejected) -> str:
        """Keep a malformed response, with the requests behind it, under ``quarantine/`` for
        inspection; the partition's lake files are left as they were."""
        folder = hour_folder(
            "quarantine", meta["lake_dataset"], meta["symbol"], partition_hour(key)
        )
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        record = {
            "partition": key,
            "error": str(value.error),
            "requests": value.requests,
            "rows": value.rows,
        }
        quarantine_key = f"{folder}/{stamp}.json"
        storage.write(quarantine_key, json.dumps(record, indent=1).encode())
        return storage.url(quarantine_key)

    def read_hour(self, storage: LakeStorage, meta: Mapping[str, Any], key: str) -> RawHour:
        data_key = self._file_key(meta, key, self.file_name(meta))
        if not storage.exists(data_key):
            raise LakeError(
                f"raw partition {key} is missing ({storage.url(data_key)}): "
                f"materialize the raw asset for it first"
            )
        complete = storage.exists(self._file_key(meta, key, SUCCESS_MARKER))
        if not complete and partition_hour(key) + HOUR <= datetime.now(timezone.utc):
            raise LakeError(
                f"raw partition {key} has no {SUCCESS_MARKER} although its hour has closed "
                f"({storage.url(data_key)}): it is an open-hour snapshot never completed or the "
                f"leftover of an interrupted run; materialize the raw asset for it again"
            )
        rows = json.loads(storage.read(data_key))
        return RawHour(rows=rows, complete=complete)

class ParquetIOManager(LakeIOManager):
    """Cooked zone: one ``data.parquet`` per hour, with the asset's exact column types."""

    def file_name(self, definition_metadata: Mapping[str, Any]) -> str:
        return "data.parquet"

    def write_hour(
        self, storage: LakeStorage, meta: Mapping[str, Any], key: str, value: pl.DataFrame
    ) -> str:
        buffer = io.BytesIO()
        value.write_parquet(buffer, compression="zstd", statistics=True)
        data_key = self._file_key(meta, key, self.file_name(meta))
        storage.write(data_key, buffer.getvalue())
        return data_key

    def read_hour(self, storage: LakeStorage, meta: Mapping[str, Any], key: str) -> pl.DataFrame:
        return pl.read_parquet(io.BytesIO(storage.read(self._file_key(meta, key, self.file_name(meta)))))
