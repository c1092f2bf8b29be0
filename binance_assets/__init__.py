"""Binance spot candles and account orders as hourly-partitioned Dagster assets in a data lake."""

import warnings

from dagster import BetaWarning, PreviewWarning

# Two Dagster features used on purpose (docs/architecture.md): single-run backfills of the hourly
# and daily assets (``backfill_policy``, beta) and a check result per hour (a ``partitions_def`` on
# the check specs, preview). Their notices would repeat at every load and in every run's log; only
# these two messages are hidden.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` of function", category=BetaWarning)
warnings.filterwarnings("ignore", message=r"Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning)
