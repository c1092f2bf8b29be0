"""Every environment variable of the code location, read and checked in one place.

``Settings.from_env`` runs when the code location loads, so a mistake (a symbol that would build a
path outside the lake, an S3 URL without a bucket, an API URL ending in ``/api``) fails the load
with the variable and the value named, before any run. The resources resolve the values that may
change between runs (URLs, credentials, lake root) through ``current()`` when a run starts: a
launchpad or ``--config-json`` that sets one resource field keeps the environment's value of every
other field, and a secret never enters run config.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlparse

# Binance's own symbol format (the API refuses anything else with -1100): no "/", no "..".
SYMBOL_FORMAT = re.compile(r"^[A-Z0-9_.-]{1,20}$")
PARTITION_FORMAT = "%Y-%m-%d-%H:%M"

DEFAULTS = {
    "BINANCE_API_URL": "https://api.binance.com",
    "BINANCE_ARCHIVE_URL": "https://data.binance.vision",
    "BINANCE_SYMBOLS": "BTCUSDT",
    "BINANCE_START_DATE": "2025-01-01-00:00",
    "LAKE_URL": "data/lake",
    "ICEBERG_CATALOG_URI": "sqlite:///data/catalog.db",
}


class SettingsError(ValueError):
    """An environment variable has a value the code location cannot use."""

    def __init__(self, variable: str, value: str, why: str) -> None:
        super().__init__(f"{variable}={value!r}: {why}")


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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return (env.get(name) or "").strip() or DEFAULTS[name]

        lake_url = lake_root(get("LAKE_URL"))
        return cls(
            symbols=symbols(*symbols_variable(env)),
            start_date=start_date(get("BINANCE_START_DATE")),
            lake_url=lake_url,
            api_url=api_url(get("BINANCE_API_URL")),
            archive_url=get("BINANCE_ARCHIVE_URL").rstrip("/"),
            iceberg_catalog_uri=get("ICEBERG_CATALOG_URI"),
            iceberg_warehouse=(env.get("ICEBERG_WAREHOUSE") or "").strip() or f"{lake_url}/tables",
            credentials_configured=bool(env.get("BINANCE_API_KEY") and env.get("BINANCE_API_SECRET")),
        )

    @property
    def lake_on_s3(self) -> bool:
        return self.lake_url.startswith("s3://")


def current() -> Settings:
    """The settings of this process's environment, read now (used when a run starts)."""
    return Settings.from_env()


def from_env(field: str) -> Callable[[], str]:
    """A pydantic ``default_factory`` for a resource field: the setting as of the run's start."""
    return lambda: getattr(current(), field)


def secret(name: str) -> Callable[[], str | None]:
    """A ``default_factory`` for a credential: read in the run's process only, so it never
    appears in run config, the UI or an event."""
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
    try:
        hour = datetime.strptime(value, PARTITION_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError as error:
        raise SettingsError("BINANCE_START_DATE", value, "not an hour in the form YYYY-MM-DD-HH:MM (UTC)") from error
    if hour.minute:
        raise SettingsError("BINANCE_START_DATE", value, "not on the hour (minutes must be 00)")
    return value


def api_url(value: str) -> str:
    url = value.rstrip("/")
    if url.endswith("/api"):
        raise SettingsError(
            "BINANCE_API_URL", value, f"give the base URL without /api (e.g. {url[: -len('/api')]})"
        )
    if urlparse(url).scheme not in ("http", "https"):
        raise SettingsError("BINANCE_API_URL", value, "expected an http:// or https:// URL")
    return url


def lake_root(value: str) -> str:
    """A local path or ``s3://bucket/prefix``; ``file:`` URLs become the local path they name."""
    parsed = urlparse(value)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise SettingsError("LAKE_URL", value, "names no bucket; expected s3://bucket/prefix")
        return value.rstrip("/")
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise SettingsError(
                "LAKE_URL", value, "file: URLs name a local path: file:///absolute/path (no host), "
                "or give the path itself"
            )
        return parsed.path
    if len(parsed.scheme) > 1:  # a Windows drive letter is a one-letter scheme
        raise SettingsError("LAKE_URL", value, "only local paths and s3:// URLs are supported")
    return value
