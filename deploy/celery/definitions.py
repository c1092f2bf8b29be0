"""The binance_assets code location, unchanged, with every step executed by Celery workers.

The project's ``Definitions`` are merged with a default executor, dagster-celery's
``celery_executor``, configured from ``celery.yaml`` beside this file (the file the workers are
started with). Every job without an executor of its own takes it: the candles and orders jobs,
their schedules, and the asset job behind ``dagster asset materialize`` and UI backfills.

    dagster asset materialize -m deploy.celery.definitions --select ... --partition-range A...B

See README.md beside this file for the broker, the workers and their environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dagster import Definitions
from dagster_celery import celery_executor

import binance_assets.definitions as project  # the module: one Definitions object at this scope

CELERY_YAML = Path(__file__).with_name("celery.yaml")


def executor_config(path: Path = CELERY_YAML, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The executor block of ``celery.yaml``; ``DAGSTER_CELERY_QUEUE`` names the queue steps go to
    (the workers listen on it with ``-q``). Broker and backend stay ``env:`` references, resolved
    where the run is orchestrated, so no URL (nor a password in it) enters the run's config."""
    config = yaml.safe_load(path.read_text())["execution"]["config"]
    queue = (environ.get("DAGSTER_CELERY_QUEUE") or "").strip()
    if queue:
        config["config_source"] = {**config.get("config_source", {}), "task_default_queue": queue}
    return config


defs = Definitions.merge(
    project.defs, Definitions(executor=celery_executor.configured(executor_config(), name="celery"))
)
