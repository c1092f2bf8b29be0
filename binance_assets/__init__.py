"""Binance spot candles and account orders as hourly-partitioned Dagster assets in a data lake."""

import warnings

from dagster import BetaWarning, PreviewWarning

# Used on purpose, and said so in the README: partitioned asset checks (preview; they give each
# hour its own check results) and the ``pool`` of the raw assets (beta). Their notices would
# repeat at every load and in every run's log.
warnings.filterwarnings("ignore", category=PreviewWarning)
warnings.filterwarnings("ignore", category=BetaWarning)
