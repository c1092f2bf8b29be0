"""The floor of the backfill benchmark: the candles graph with bodies that do no work.

Same asset keys, hourly partitions, single-run backfill policy and check specs (the table checks
and the candles freshness check, each its own step as in ``binance_assets.definitions``), but
nothing is fetched, cooked or stored, so a run of it costs only Dagster's own bookkeeping per
partition and step. ``BENCH_CHECKS`` picks how checks are evaluated:
``run`` (default, as the real code location: one evaluation per check per run), ``hour`` (one
per check per hour, to measure what per-hour evaluation would cost) or ``none``.
"""

import os
from collections.abc import Iterator

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetIn,
    BackfillPolicy,
    Definitions,
    InputContext,
    IOManager,
    OpExecutionContext,
    OutputContext,
    asset,
    multi_asset_check,
)

from binance_assets.checks import candles_checks as real_checks
from binance_assets.checks import freshness_checks as real_freshness_checks
from binance_assets.partitions import hourly_partitions

CHECK_SPECS = list(real_checks.check_specs)
FRESHNESS_SPECS = [
    spec for checks in real_freshness_checks for spec in checks.check_specs if spec.asset_key.path == ["candles"]
]


class NoopIOManager(IOManager):
    """Stores nothing: the floor measures Dagster, not the lake."""

    def handle_output(self, context: OutputContext, obj: object) -> None:
        return None

    def load_input(self, context: InputContext) -> None:
        return None


@asset(partitions_def=hourly_partitions, backfill_policy=BackfillPolicy.single_run(), group_name="candles")
def raw_candles() -> None:
    return None


@asset(partitions_def=hourly_partitions, backfill_policy=BackfillPolicy.single_run(), group_name="candles")
def candles(raw_candles: object) -> None:
    return None


@multi_asset_check(specs=CHECK_SPECS, ins={"candles": AssetIn("candles")})
def candles_checks(context: OpExecutionContext, candles: object) -> Iterator[object]:
    if os.getenv("BENCH_CHECKS") == "hour":
        for key in context.partition_keys:
            for spec in CHECK_SPECS:
                yield AssetCheckEvaluation(
                    asset_key=spec.asset_key, check_name=spec.name, passed=True, partition=key
                )
    for spec in CHECK_SPECS:
        yield AssetCheckResult(check_name=spec.name, passed=True)


@multi_asset_check(specs=FRESHNESS_SPECS)
def freshness_checks() -> Iterator[object]:
    for spec in FRESHNESS_SPECS:
        yield AssetCheckResult(asset_key=spec.asset_key, check_name=spec.name, passed=True)


defs = Definitions(
    assets=[raw_candles, candles],
    asset_checks=[] if os.getenv("BENCH_CHECKS") == "none" else [candles_checks, freshness_checks],
    resources={"io_manager": NoopIOManager()},
)
