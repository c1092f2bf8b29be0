"""Binance spot candles and account orders as hourly-partitioned Dagster assets in a data lake."""

import warnings

from dagster import BetaWarning, PreviewWarning

# Two Dagster features used on purpose (docs/architecture.md), whose notices would repeat at every
# load and in every run's log: single-run backfills (beta) and check specs per hour (preview).
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` of function", category=BetaWarning)
warnings.filterwarnings("ignore", message=r"Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning)
