"""Dagster's bare floor: each pair's candles graph as two hourly assets whose bodies do no work.

Same asset keys (``{SYMBOL}/raw_candles → {SYMBOL}/candles``), hourly partitions from
``BINANCE_START_DATE`` and single-run backfill policy as the real code location, but no checks,
no IO manager and nothing fetched or stored: a run of it costs only Dagster's own bookkeeping
(process start, the executor, one planned event per asset or per partition, one materialization
event per partition and asset). ``BINANCE_SYMBOLS`` picks the pairs, as for the real code location.

    dg launch -f benchmarks/noop_definitions.py --assets BTCUSDT/raw_candles,BTCUSDT/candles \\
        --partition-range 2025-01-01-00:00...2025-01-31-23:00
"""

from dagster import AssetKey, AssetsDefinition, BackfillPolicy, Definitions, asset

from binance_assets.partitions import hourly_partitions
from binance_assets.settings import Settings

SETTINGS = Settings.from_env()
HOURS = hourly_partitions(SETTINGS.start_date)


def noop_pair(symbol: str) -> list[AssetsDefinition]:
    options = dict(partitions_def=HOURS, backfill_policy=BackfillPolicy.single_run(), group_name=symbol)
    raw_key = AssetKey([symbol, "raw_candles"])

    @asset(key=raw_key, **options)
    def raw() -> None:
        return None

    @asset(key=AssetKey([symbol, "candles"]), deps=[raw_key], **options)
    def cooked() -> None:
        return None

    return [raw, cooked]


defs = Definitions(assets=[a for symbol in SETTINGS.symbols for a in noop_pair(symbol)])
