"""Reading the cooked tables straight from the lake, outside Dagster (notebooks, BI, DuckDB).

The cooked zone is plain hive-partitioned Parquet (``symbol=/year=/month=/day=/hour=``), so any
engine reads it; these two functions only spare users the storage options for local vs S3 lakes.
S3 settings come from the standard AWS variables (``AWS_ENDPOINT_URL`` for S3-compatible stores).
"""

import os
from urllib.parse import urlparse

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

# Partition columns read from the folder names, as 64-bit integers whatever the engine: polars and
# pyarrow are given Int64, DuckDB BIGINT (``DUCKDB_HIVE_TYPES``). The pair is a column of each
# table already (``trading_pair``, ``symbol``).
PARTITION_COLUMNS = ("year", "month", "day", "hour")
HIVE_PARTITIONING = ds.partitioning(
    pa.schema([(name, pa.int64()) for name in PARTITION_COLUMNS]), flavor="hive"
)
DUCKDB_HIVE_TYPES = "{" + ", ".join(f"'{name}': BIGINT" for name in PARTITION_COLUMNS) + "}"


def table_url(lake_url: str, dataset: str) -> str:
    """Where a cooked table lives: ``{LAKE_URL}/cooked/{dataset}``."""
    return f"{lake_url.rstrip('/')}/cooked/{dataset}"


def _aws(name: str) -> str | None:
    return os.environ.get(name)


def scan(lake_url: str, dataset: str) -> pl.LazyFrame:
    """A polars LazyFrame over every hour and pair of a cooked table (``candles`` or ``orders``)."""
    location = table_url(lake_url, dataset)
    options = None
    if location.startswith("s3://"):
        endpoint = _aws("AWS_ENDPOINT_URL")
        options = {
            key: value
            for key, value in {
                "aws_endpoint_url": endpoint,
                "aws_region": _aws("AWS_REGION") or _aws("AWS_DEFAULT_REGION"),
                "aws_access_key_id": _aws("AWS_ACCESS_KEY_ID"),
                "aws_secret_access_key": _aws("AWS_SECRET_ACCESS_KEY"),
                "aws_allow_http": "true" if endpoint and endpoint.startswith("http://") else None,
            }.items()
            if value
        }
    return pl.scan_parquet(
        f"{location}/**/*.parquet",
        hive_partitioning=True,
        hive_schema={"symbol": pl.String, **{name: pl.Int64 for name in PARTITION_COLUMNS}},
        storage_options=options,
    )


def arrow_dataset(lake_url: str, dataset: str) -> ds.Dataset:
    """A pyarrow dataset over a cooked table; DuckDB queries it by name (``FROM candles``) with
    filter and projection pushdown, on S3 without DuckDB's httpfs extension."""
    location = table_url(lake_url, dataset)
    parsed = urlparse(location)
    if parsed.scheme != "s3":
        return ds.dataset(location, format="parquet", partitioning=HIVE_PARTITIONING)
    endpoint = urlparse(_aws("AWS_ENDPOINT_URL") or "")
    filesystem = pafs.S3FileSystem(
        endpoint_override=endpoint.netloc or None,
        scheme=endpoint.scheme or "https",
        region=_aws("AWS_REGION") or _aws("AWS_DEFAULT_REGION") or "us-east-1",
        access_key=_aws("AWS_ACCESS_KEY_ID"),
        secret_key=_aws("AWS_SECRET_ACCESS_KEY"),
    )
    return ds.dataset(
        parsed.netloc + parsed.path,
        filesystem=filesystem,
        format="parquet",
        partitioning=HIVE_PARTITIONING,
    )
