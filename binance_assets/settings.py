"""Every environment variable of the code location, read and checked here and nowhere else.

``Settings.from_env`` runs when the code location loads, so a bad value fails the load with the
variable and the value named, before anything is written. Resources read their defaults through
``from_env`` when a run starts, so a launchpad that sets one field keeps the environment's value
of the others, and a secret never enters run config.
"""

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Self
from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# Binance's own symbol format (the API refuses anything else with -1100): no "/", no "..".
SYMBOL_FORMAT = re.compile(r"^[A-Z0-9_.-]{1,20}$")
PARTITION_FORMAT = "%Y-%m-%d-%H:%M"

DEFAULTS = {
    "BINANCE_API_URL": "https://api.binance.com",
    "BINANCE_ARCHIVE_URL": "https://data.binance.vision",
    "BINANCE_SYMBOLS": "BTCUSDT",
    "BINANCE_START_DATE": "2025-01-01-00:00",
    "BINANCE_HEAL_LOOKBACK_HOURS": "48",
    "LAKE_URL": "data/lake",
    "ICEBERG_CATALOG_URI": "sqlite:///data/catalog.db",
}

# For S3 or any S3-compatible store; unset ones fall back to boto3's own chain (instance profile).
AWS_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


class SettingsError(ValueError):
    """An environment variable has a value the code location cannot use."""

    def __init__(self, variable: str, value: str, why: str) -> None:
        super().__init__(f"{variable}={value!r}: {why}")


@dataclass(frozen=True)
class S3Options:
    """The AWS variables that are set; the secret is kept out of ``repr``."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        endpoint, region, key, secret = ((env.get(name) or "").strip() or None for name in AWS_VARIABLES)
        return cls(endpoint, region, key, secret)  # AWS_DEFAULT_REGION alone is boto3's own business

    def variables(self) -> dict[str, str]:
        values = (self.endpoint_url, self.region, self.access_key_id, self.secret_access_key)
        return {name: value for name, value in zip(AWS_VARIABLES, values) if value}


@dataclass(frozen=True)
class Settings:
    """The deployment as the environment describes it (credentials excluded: see ``secret``)."""

    symbols: tuple[str, ...]
    start_date: str
    lake_url: str
    api_url: str
    archive_url: str
    iceberg_catalog_uri: str
    iceberg_warehouse: str
    credentials_configured: bool  # both BINANCE_API_KEY and BINANCE_API_SECRET are set
    weight_limit: int | None  # BINANCE_WEIGHT_LIMIT; None: what exchangeInfo advertises
    heal_lookback_hours: int
    s3: S3Options

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return (env.get(name) or "").strip() or DEFAULTS[name]

        lake_url = lake_root(get("LAKE_URL"))
        warehouse = (env.get("ICEBERG_WAREHOUSE") or "").strip()
        return cls(
            symbols=symbols(*symbols_variable(env)), start_date=start_date(get("BINANCE_START_DATE")), lake_url=lake_url,
            api_url=http_url("BINANCE_API_URL", get("BINANCE_API_URL")),
            archive_url=http_url("BINANCE_ARCHIVE_URL", get("BINANCE_ARCHIVE_URL")),
            iceberg_catalog_uri=catalog_uri(get("ICEBERG_CATALOG_URI")),
            iceberg_warehouse=iceberg_warehouse(warehouse) if warehouse else f"{lake_url}/tables",
            credentials_configured=bool(env.get("BINANCE_API_KEY") and env.get("BINANCE_API_SECRET")),
            weight_limit=positive("BINANCE_WEIGHT_LIMIT", env.get("BINANCE_WEIGHT_LIMIT")),
            heal_lookback_hours=positive("BINANCE_HEAL_LOOKBACK_HOURS", get("BINANCE_HEAL_LOOKBACK_HOURS")) or 48,
            s3=S3Options.from_env(env),
        )

    @property
    def lake_on_s3(self) -> bool:
        return self.lake_url.startswith("s3://")


def current() -> Settings:
    """The settings of this process's environment, read now."""
    return Settings.from_env()


def from_env(name: str) -> Callable[[], object]:
    """A pydantic ``default_factory`` for a resource field: the setting as of the run's start."""
    return lambda: getattr(current(), name)


def secret(name: str) -> Callable[[], str | None]:
    """A ``default_factory`` for a credential: read in the run's process only, never in run config."""
    return lambda: os.environ.get(name) or None


def symbols_variable(env: Mapping[str, str]) -> tuple[str, str]:
    """(variable, value) of the pairs: ``BINANCE_SYMBOLS``, else the one-pair ``BINANCE_SYMBOL``."""
    for variable in ("BINANCE_SYMBOLS", "BINANCE_SYMBOL"):
        if (env.get(variable) or "").strip():
            return variable, env[variable]
    return "BINANCE_SYMBOLS", DEFAULTS["BINANCE_SYMBOLS"]


def symbols(variable: str, value: str) -> tuple[str, ...]:
    """The configured pairs, each checked against Binance's format before a path is built from it."""
    names = tuple(dict.fromkeys(part.strip().upper() for part in value.split(",") if part.strip()))
    if not names:
        raise SettingsError(variable, value, "names no pair; e.g. BTCUSDT,BTCUSDC")
    for name in names:
        if not SYMBOL_FORMAT.match(name) or ".." in name:
            raise SettingsError(variable, value, f"{name!r} is not a Binance symbol (letters, digits, _.- only)")
    return names


def start_date(value: str) -> str:
    """The first hour; one in the future would leave the code location without a partition."""
    try:
        hour = datetime.strptime(value, PARTITION_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError as error:
        raise SettingsError("BINANCE_START_DATE", value, "not an hour in the form YYYY-MM-DD-HH:MM (UTC)") from error
    if hour.minute:
        raise SettingsError("BINANCE_START_DATE", value, "not on the hour (minutes must be 00)")
    if hour > datetime.now(timezone.utc):
        raise SettingsError("BINANCE_START_DATE", value, "is in the future: no hour would exist to fetch")
    return value


def http_url(variable: str, value: str) -> str:
    """An http(s) base URL without a trailing slash or ``/api``."""
    url = value.rstrip("/")
    if url.endswith("/api"):
        raise SettingsError(variable, value, f"give the base URL without /api (e.g. {url[: -len('/api')]})")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(variable, value, "expected an http:// or https:// URL with a host")
    return url


def positive(variable: str, value: str | None) -> int | None:
    """A positive whole number, or None when unset."""
    if value is None or not value.strip():
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise SettingsError(variable, value, "expected a whole number of at least 1")
    return int(value)


def catalog_uri(value: str) -> str:
    """A SQLAlchemy URL of SQLite or PostgreSQL; an error shows it without its password."""
    try:
        url = make_url(value)
        url.port  # noqa: B018 - a port that is not a number raises here
    except (ArgumentError, ValueError) as error:
        shown = value.split("@")[-1] if "@" in value else value
        raise SettingsError("ICEBERG_CATALOG_URI", f"…@{shown}" if "@" in value else shown, "not a SQLAlchemy URL, e.g. "
                            "sqlite:///data/catalog.db or postgresql+psycopg2://user@host/db") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise SettingsError("ICEBERG_CATALOG_URI", url.render_as_string(hide_password=True),
                            f"{url.get_backend_name()} is not supported: use sqlite or postgresql")
    return value


def s3_url(variable: str, value: str) -> str:
    if not urlparse(value).netloc:
        raise SettingsError(variable, value, "names no bucket; expected s3://bucket/prefix")
    return value.rstrip("/")


def iceberg_warehouse(value: str) -> str:
    """``s3://bucket/prefix``, or a local folder this process can create files in."""
    parsed = urlparse(value)
    if parsed.scheme == "s3":
        return s3_url("ICEBERG_WAREHOUSE", value)
    if len(parsed.scheme) > 1 and parsed.scheme != "file":
        raise SettingsError("ICEBERG_WAREHOUSE", value, "only local paths, file:// and s3:// are supported")
    folder = Path(parsed.path if parsed.scheme == "file" else value).expanduser().absolute()
    existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise SettingsError("ICEBERG_WAREHOUSE", value, f"{existing} is not a folder this user can write to")
    return value


def lake_root(value: str) -> str:
    """A local path or ``s3://bucket/prefix``; ``file:`` URLs become the local path they name."""
    parsed = urlparse(value)
    if parsed.scheme == "s3":
        return s3_url("LAKE_URL", value)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise SettingsError("LAKE_URL", value, "file: URLs name a local path: file:///absolute/path (no host), "
                                "or give the path itself")
        return parsed.path
    if len(parsed.scheme) > 1:  # a Windows drive letter is a one-letter scheme
        raise SettingsError("LAKE_URL", value, "only local paths and s3:// URLs are supported")
    return value
