"""Reading what the pipeline left in a lake, for assertions: file listings and cooked tables."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from binance_assets.lake.zones import hour_folder
from binance_assets.partitions import partition_hour


def hour_ms(partition: str) -> int:
    return int(partition_hour(partition).timestamp() * 1000)


def folder(zone: str, dataset: str, partition: str, symbol: str = "BTCUSDT") -> str:
    return hour_folder(zone, dataset, symbol, partition)


def local_files(root: str) -> dict[str, bytes]:
    """Every file under a local lake, by key relative to the root (temp area excluded)."""
    base = Path(root)
    return {
        str(path.relative_to(base)): path.read_bytes()
        for path in sorted(base.rglob("*"))
        if path.is_file() and not str(path.relative_to(base)).startswith("_tmp")
    }


def s3_files(client, bucket: str, prefix: str) -> dict[str, bytes]:
    """Every object under ``s3://bucket/prefix/``, by key relative to the prefix."""
    files = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            files[item["Key"][len(prefix) + 1 :]] = body
    return files


def parquet(data: bytes) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(data))


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
