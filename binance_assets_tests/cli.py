"""Running Dagster's real CLI, ``dg``, against the code location, as a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from binance_assets_tests.runs import API_KEY, API_SECRET

ROOT = Path(__file__).resolve().parents[1]
DG = str(Path(sys.executable).with_name("dg"))


def cli_env(emulator_url: str, root: Path, credentials: bool = False, **extra: str) -> dict[str, str]:
    """The environment of a CLI run against the emulator, with a lake, an Iceberg catalog and a
    Dagster instance of its own under ``root`` (never the repository's ``data/``)."""
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "BINANCE_API_URL": emulator_url,
        "BINANCE_ARCHIVE_URL": emulator_url,
        "LAKE_URL": str(root / "lake"),
        "ICEBERG_CATALOG_URI": f"sqlite:///{root}/catalog.db",
        "DAGSTER_HOME": str(home),
        # the instance environment docs/operations.md recommends: one planned event per asset of a range
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",
        **extra,
    }
    if credentials:
        env |= {"BINANCE_API_KEY": API_KEY, "BINANCE_API_SECRET": API_SECRET}
    return env


def materialize_cli(
    env: dict[str, str],
    select: str,
    partition: str | None = None,
    partition_range: str | None = None,
    config: dict | None = None,
) -> subprocess.CompletedProcess:
    """``dg launch --assets SELECT`` from the project's folder with ``env`` added, and run
    ``config`` as ``--config-json`` (what the launchpad sends)."""
    command = [DG, "launch", "--assets", select]
    if partition:
        command += ["--partition", partition]
    if partition_range:
        command += ["--partition-range", partition_range]
    if config is not None:
        command += ["--config-json", json.dumps(config)]
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
