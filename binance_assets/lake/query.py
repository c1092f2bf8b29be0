"""Reading the cooked tables straight from the lake, outside Dagster (notebooks, BI, DuckDB). The
cooked zone is plain hive-partitioned Parquet, so any engine reads it; these functions only spare
users the storage options of local and S3 lakes (the AWS variables, as ``settings`` reads them).
"""

from urllib.parse import urlparse

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from binance_assets.lake.zones import table_folder
from binance_assets.settings import current

# Partition columns from the folder names, 64-bit integers in every engine (DuckDB: BIGINT).
PARTITION_COLUMNS = ("year", "month", "day", "hour")
HIVE_PARTITIONING = ds.partitioning(pa.schema([(name, pa.int64()) for name in PARTITION_COLUMNS]), flavor="hive")
DUCKDB_HIVE_TYPES = "{" + ", ".join(f"'{name}': BIGINT" for name in PARTITION_COLUMNS) + "}"


def table_url(lake_url: str, dataset: str) -> str:
    return f"{lake_url.rstrip('/')}/{table_folder('cooked', dataset)}"


def scan(lake_url: str, dataset: str) -> pl.LazyFrame:
    """A polars LazyFrame over every hour and pair of a cooked table (``candles`` or ``orders``)."""
    location = table_url(lake_url, dataset)
    options = None
    if location.startswith("s3://"):
        s3 = current().s3
        http = s3.endpoint_url and s3.endpoint_url.startswith("http://")
        options = {key: value for key, value in {
            "aws_endpoint_url": s3.endpoint_url, "aws_region": s3.region, "aws_access_key_id": s3.access_key_id,
            "aws_secret_access_key": s3.secret_access_key, "aws_allow_http": "true" if http else None,
        }.items() if value}
    return pl.scan_parquet(
        f"{location}/**/*.parquet",
        hive_partitioning=True,
        hive_schema={"symbol": pl.String, **{name: pl.Int64 for name in PARTITION_COLUMNS}},
        storage_options=options,
    )


def arrow_dataset(lake_url: str, dataset: str) -> ds.Dataset:
    """A pyarrow dataset over a cooked table; DuckDB queries it by name (``FROM candles``) with
    pushdown, on S3 without its httpfs extension."""
    location = table_url(lake_url, dataset)
    parsed = urlparse(location)
    if parsed.scheme != "s3":
        return ds.dataset(location, format="parquet", partitioning=HIVE_PARTITIONING)
    s3 = current().s3
    endpoint = urlparse(s3.endpoint_url or "")
    filesystem = pafs.S3FileSystem(
        endpoint_override=endpoint.netloc or None,
        scheme=endpoint.scheme or "https",
        region=s3.region or "us-east-1",
        access_key=s3.access_key_id,
        secret_key=s3.secret_access_key,
    )
    return ds.dataset(parsed.netloc + parsed.path, filesystem=filesystem, format="parquet", partitioning=HIVE_PARTITIONING)
