"""The floor of the backfill benchmark: each pair's candles graph with bodies that do no work.

Same asset keys, hourly partitions, single-run backfill policy and check specs as the real code
location (built by ``binance_assets.assets.pair``), but nothing is fetched, cooked or stored, so a
run of it costs only Dagster's own bookkeeping per partition and step. ``BINANCE_SYMBOLS`` picks
the pairs, as for the real code location.
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetIn,
    AssetsDefinition,
    BackfillPolicy,
    Definitions,
    InputContext,
    IOManager,
    OutputContext,
    asset,
    multi_asset_check,
)

from binance_assets.assets.pair import pair_assets
from binance_assets.partitions import hourly_partitions
from binance_assets.settings import Settings

SETTINGS = Settings.from_env()
HOURS = hourly_partitions(SETTINGS.start_date)


class NoopIOManager(IOManager):
    """Stores nothing: the floor measures Dagster, not the lake."""

    def handle_output(self, context: OutputContext, obj: object) -> None:
        return None

    def load_input(self, context: InputContext) -> None:
        return None


def noop_pair(symbol: str) -> list[AssetsDefinition]:
    real = pair_assets(symbol, SETTINGS.start_date).candles
    options = dict(partitions_def=HOURS, backfill_policy=BackfillPolicy.single_run(), group_name=symbol)

    @asset(key=real.raw.key, **options)
    def raw() -> None:
        return None

    @asset(key=real.cooked.key, ins={"raw": AssetIn(real.raw.key)}, **options)
    def cooked(raw: object) -> None:
        return None

    specs = list(real.checks.check_specs)

    @multi_asset_check(name=f"{symbol}_candles_checks", specs=specs, ins={"table": AssetIn(real.cooked.key)})
    def checks(table: object) -> Iterator[AssetCheckResult]:
        for spec in specs:
            yield AssetCheckResult(asset_key=spec.asset_key, check_name=spec.name, passed=True)

    return [raw, cooked, checks]


defs = Definitions(
    assets=[a for symbol in SETTINGS.symbols for a in noop_pair(symbol)],
    resources={"io_manager": NoopIOManager()},
)
