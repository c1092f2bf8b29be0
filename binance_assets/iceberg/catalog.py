"""Opening the Iceberg SQL catalog ``lake`` (``ICEBERG_CATALOG_URI``, ``ICEBERG_WAREHOUSE``).

The catalog is a SQL database that maps a table name to its current metadata file; the warehouse
is where data and metadata files live. SQLite suits one machine, PostgreSQL is for production
and for S3 warehouses (several processes commit at once, each in its own transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pyiceberg.catalog import Catalog, load_catalog
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

CATALOG_NAME = "lake"
DEFAULT_CATALOG_URI = "sqlite:///data/catalog.db"

# The standard AWS variables and the pyiceberg FileIO property each one sets.
S3_PROPERTIES = {
    "AWS_ENDPOINT_URL": "s3.endpoint",
    "AWS_ACCESS_KEY_ID": "s3.access-key-id",
    "AWS_SECRET_ACCESS_KEY": "s3.secret-access-key",
    "AWS_REGION": "s3.region",
}


class CatalogUnavailable(RuntimeError):
    """The catalog database cannot be opened; the message shows its URL without the password."""


def catalog_url(uri: str) -> URL:
    """``uri`` as SQLAlchemy will use it. A bare ``postgresql://`` becomes
    ``postgresql+psycopg2://``: SQLAlchemy 2.1 picks psycopg 3 for the bare scheme, which this
    project does not install, while psycopg2 is what the pyiceberg ``sql-postgres`` extra brings."""
    url = make_url(uri)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    return url


def warehouse_location(warehouse: str) -> str:
    """``s3://bucket/prefix`` as it is; a local path as an absolute ``file://`` URI, so table
    locations recorded in the catalog do not depend on the directory a process started in."""
    if warehouse.startswith("s3://"):
        return warehouse.rstrip("/")
    return Path(warehouse).expanduser().resolve().as_uri()


def s3_properties(aws: Mapping[str, str]) -> dict[str, str]:
    """pyiceberg's S3 FileIO properties from the AWS variables that are set in ``aws``."""
    return {prop: aws[name] for name, prop in S3_PROPERTIES.items() if aws.get(name)}


def open_catalog(uri: str, warehouse: str, aws: Mapping[str, str] | None = None) -> Catalog:
    """The SQL catalog ``lake`` at ``uri`` (SQLite or PostgreSQL), with tables under
    ``warehouse`` (a local path or ``s3://bucket/prefix``).

    ``aws`` holds the standard AWS variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``), e.g. ``os.environ`` or a resource's fields; the
    caller decides where they come from. They are used for S3 warehouses only, and no error
    raised here contains them or the database password.
    """
    url = catalog_url(uri)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    location = warehouse_location(warehouse)
    properties = {"uri": url.render_as_string(hide_password=False), "warehouse": location}
    if location.startswith("s3://"):
        properties |= s3_properties(aws or {})
    try:
        return load_catalog(CATALOG_NAME, type="sql", **properties)
    except SQLAlchemyError as error:
        shown = url.render_as_string(hide_password=True)
        reason = str(getattr(error, "orig", None) or type(error).__name__).splitlines()[0]
        raise CatalogUnavailable(
            f"cannot open the Iceberg catalog {CATALOG_NAME!r} at {shown}: {reason}"
        ) from error
