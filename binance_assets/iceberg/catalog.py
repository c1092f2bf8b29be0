"""Opening the Iceberg SQL catalog ``lake``: a SQL database mapping table names to metadata files
(SQLite for one machine, PostgreSQL for production and S3 warehouses), and the warehouse where
the files live. Errors say what to check, and never hold a password or secret key.
"""

import re
from collections.abc import Mapping
from pathlib import Path

from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import NotInstalledError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

CATALOG_NAME = "lake"
# The standard AWS variables and the pyiceberg FileIO property each one sets.
S3_PROPERTIES = {
    "AWS_ENDPOINT_URL": "s3.endpoint",
    "AWS_ACCESS_KEY_ID": "s3.access-key-id",
    "AWS_SECRET_ACCESS_KEY": "s3.secret-access-key",
    "AWS_REGION": "s3.region",
}

# What to check for a catalog error, by the words of the database driver's message (psycopg2's
# connection errors carry no SQLSTATE code, so the text is all there is). First match wins.
CATALOG_CHECKS = (
    (r'database ".*" does not exist', "the database named in the URI does not exist: create it or fix the URI"),
    (r"password authentication failed|not permitted to log in|role .* does not exist|no password supplied",
     "the server refused the login: check the user and password in the URI"),
    (r"Connection refused|could not connect|server closed the connection|timeout expired|"
     r"could not translate host name|Network is unreachable|No route to host",
     "the catalog database is down or unreachable: check that its server runs and the URI's host and port"),
    (r"unable to open database file|readonly database|disk I/O error",
     "the SQLite file cannot be written: check its folder and permissions"),
)
CATALOG_CHECK = "check that the catalog database is up and reachable, the user and password, and that the database exists"

# What to check for a warehouse error, by the words of pyarrow's (or the OS's) message.
WAREHOUSE_CHECKS = (
    (r"NO_SUCH_BUCKET|NoSuchBucket|bucket does not exist", "the S3 bucket does not exist: create it or fix ICEBERG_WAREHOUSE"),
    (r"ACCESS_DENIED|AccessDenied|Access Denied|InvalidAccessKeyId|SignatureDoesNotMatch|Forbidden",
     "S3 refused the request: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's policy"),
    (r"Not a directory|Permission denied|Read-only file system|No space left|Is a directory",
     "the warehouse path is not writable: it must be a folder this process may create and write files in"),
    (r"No such file or directory|Path does not exist|NoSuchKey|NO_SUCH_KEY",
     "a file the table references is missing from the warehouse (deleted by hand, or a lost race with "
     "another writer's snapshot expiry: retry)"),
    (r"[Cc]onnect|resolve host|[Tt]imed? ?out|Couldn't connect",
     "the S3 endpoint is unreachable: check AWS_ENDPOINT_URL and AWS_REGION"),
)
WAREHOUSE_CHECK = "check that the warehouse exists and this process may write to it"

URI_EXAMPLES = "postgresql://user:password@host:5432/database or sqlite:///path/to/catalog.db"


class CatalogUnavailable(RuntimeError):
    """The catalog database cannot be opened; the message shows its URL without the password."""


def hide_password(uri: str) -> str:
    """Text SQLAlchemy could not parse, with everything between ``user:`` and the last ``@`` hidden;
    not shown at all unless ``scheme://...``: it may be a password pasted into the wrong place."""
    if "://" not in uri:
        return "(not shown: not a URL)"
    return re.sub(r"(://[^/:@]*:).*@", r"\1***@", uri)


def catalog_url(uri: str) -> URL:
    """``uri`` as SQLAlchemy will use it. A bare ``postgresql://`` becomes ``postgresql+psycopg2://``:
    SQLAlchemy 2.1 picks psycopg 3, which is not installed (pyiceberg's extra brings psycopg2)."""
    try:
        url = make_url(uri)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        raise CatalogUnavailable(
            f"the Iceberg catalog URI {hide_password(uri)} is not a SQLAlchemy URL; expected {URI_EXAMPLES} "
            f"(ICEBERG_CATALOG_URI)"
        ) from None  # the original error may quote the URI, password included
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    return url


def warehouse_location(warehouse: str) -> str:
    """``s3://bucket/prefix`` as it is; a local path as an absolute ``file://`` URI, so the catalog's
    table locations do not depend on a process's directory. Other schemes are refused: ``gs://b``
    would otherwise become a folder named ``gs:``."""
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]+)://", warehouse)
    if scheme is None:
        return Path(warehouse).expanduser().resolve().as_uri()
    if scheme.group(1) == "file":
        return Path(warehouse.removeprefix("file://")).resolve().as_uri()
    if scheme.group(1) == "s3" and re.match(r"s3://[^/]+", warehouse):
        return warehouse.rstrip("/")
    raise ValueError(
        f"the Iceberg warehouse {warehouse!r} is neither a local path nor s3://bucket[/prefix] (ICEBERG_WAREHOUSE)"
    )


def where(catalog: Catalog) -> str:
    """Where the catalog keeps its tables, for error messages (never a password or secret key)."""
    shown = make_url(catalog.properties["uri"]).render_as_string(hide_password=True)
    endpoint = catalog.properties.get("s3.endpoint")
    return f"catalog {shown}, warehouse {catalog.properties.get('warehouse')}" + (f", S3 endpoint {endpoint}" if endpoint else "")


def redact(text: str, catalog: Catalog) -> str:
    """``text`` without the database password or S3 secret key, should a driver's message quote them."""
    secrets = [make_url(catalog.properties["uri"]).password, catalog.properties.get("s3.secret-access-key")]
    for secret in secrets:
        if secret:
            text = text.replace(str(secret), "***")
    return text


def check_for(error: BaseException) -> str:
    """What an operator should check for a catalog (SQLAlchemy) or warehouse (OS) error."""
    checks, default = (CATALOG_CHECKS, CATALOG_CHECK) if isinstance(error, SQLAlchemyError) else (
        WAREHOUSE_CHECKS, WAREHOUSE_CHECK)
    text = str(getattr(error, "orig", None) or error)
    return next((check for pattern, check in checks if re.search(pattern, text)), default)


def reason(error: BaseException) -> str:
    """The first line of the driver's own message: what failed, without SQLAlchemy's SQL text."""
    text = str(getattr(error, "orig", None) or error).strip() or type(error).__name__
    return text.splitlines()[0]


def open_catalog(uri: str, warehouse: str, aws: Mapping[str, str] | None = None) -> Catalog:
    """The SQL catalog ``lake`` at ``uri`` (SQLite or PostgreSQL), tables under ``warehouse`` (a
    local path or ``s3://bucket/prefix``). ``aws``: the standard AWS variables, for S3 warehouses."""
    url = catalog_url(uri)
    location = warehouse_location(warehouse)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # pool_pre_ping: a catalog server restarted since the last write costs a reconnect, not a failed
    # write, and one really gone fails with its actual cause instead of "connection closed".
    properties = {"uri": url.render_as_string(hide_password=False), "warehouse": location, "pool_pre_ping": "true"}
    if location.startswith("s3://"):
        properties |= {prop: aws[name] for name, prop in S3_PROPERTIES.items() if aws and aws.get(name)}
    shown = url.render_as_string(hide_password=True)
    try:
        return load_catalog(CATALOG_NAME, type="sql", **properties)
    except SQLAlchemyError as error:
        raise CatalogUnavailable(
            f"cannot open the Iceberg catalog {CATALOG_NAME!r} at {shown}: {reason(error)}; {check_for(error)} "
            f"(ICEBERG_CATALOG_URI)"
        ) from error
    except (NotInstalledError, ImportError):  # a scheme whose driver is not installed
        raise CatalogUnavailable(
            f"cannot open the Iceberg catalog {CATALOG_NAME!r} at {shown}: no database driver for "
            f"{url.drivername!r} is installed; expected {URI_EXAMPLES} (ICEBERG_CATALOG_URI)"
        ) from None
