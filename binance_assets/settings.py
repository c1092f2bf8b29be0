"""Deployment settings read when the code location loads (they shape asset paths and partitions)."""

import os

from dagster import EnvVar

DEFAULT_SYMBOL = "BTCUSDT"


def symbol() -> str:
    """The traded pair (``BINANCE_SYMBOL``): BTCUSDT on binance.com, BTCUSD on binance.us."""
    return (os.getenv("BINANCE_SYMBOL") or DEFAULT_SYMBOL).upper()


def optional_env(name: str) -> EnvVar | None:
    """``EnvVar(name)`` when the variable is set, else None.

    Credentials are optional (candles need none); a bare ``EnvVar`` would make every run fail
    when it is unset. Through ``EnvVar`` the UI shows the variable's name, never its value.
    """
    return EnvVar(name) if os.getenv(name) else None


def env_or_default(name: str, default: str) -> EnvVar | str:
    """``EnvVar(name)`` when set (the UI shows where the value came from), else the default."""
    return EnvVar(name) if os.getenv(name) else default
