"""Asset checks: every hour of a cooked table is judged, the verdict stored with the hour and
recorded as that hour's own results: ``{dataset}_valid`` (blocking, ERROR), ``{dataset}_complete``
(blocking, WARN: a near-real-time run of an open hour succeeds, but no day uses the hour) and one
non-blocking check per warning. ``AssetCheckResult`` cannot name an hour of a range (1.13), and
Dagster counts a result only when it names the materialization it judged: each result is an
``AssetCheckEvaluation`` with its hour and that hour's materialization.
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    MetadataValue,
    PartitionsDefinition,
    deserialize_value,
)

from binance_assets.datasets.contract import Dataset, HourRows, missing_minutes, schema_differences, split_hours

SAMPLE_ROWS = 20
SHOWN_MINUTES = 60


@dataclass
class Verdict:
    """What one cooked hour was found to be; ``as_json`` is what the cooked file keeps."""

    rows: int
    complete: bool
    broken: dict[str, int] = field(default_factory=dict)  # blocking rule (or "schema") → offending rows
    warned: dict[str, int] = field(default_factory=dict)  # warning → offending rows
    missing_minutes: list[int] = field(default_factory=list)
    samples: dict[str, pl.DataFrame] = field(default_factory=dict)  # rule → a few offending rows

    @property
    def valid(self) -> bool:
        return not self.broken

    def as_json(self) -> dict[str, Any]:
        return {"complete": self.complete, "valid": self.valid, "rows": self.rows, "broken": self.broken,
                "warned": self.warned, "missing_minutes": self.missing_minutes}


def check_names(dataset: Dataset) -> tuple[str, str, list[str]]:
    return f"{dataset.name}_valid", f"{dataset.name}_complete", [f"{dataset.name}_{w.name}" for w in dataset.warnings]


def specs(dataset: Dataset, table: AssetKey, hours: PartitionsDefinition) -> list[AssetCheckSpec]:
    valid, complete, warnings = check_names(dataset)
    rules = "; ".join(f"{rule.name}: {rule.description}" for rule in dataset.rules)
    return [
        AssetCheckSpec(valid, asset=table, blocking=True, partitions_def=hours,
                       description=f"Columns, order and types are the contract's, and every rule holds — {rules}"),
        AssetCheckSpec(complete, asset=table, blocking=True, partitions_def=hours,
                       description="The hour is complete: Binance's clock had passed its end and every row "
                       "is there (_SUCCESS in the raw zone). An open hour fails with WARN; no day uses it."),
        *[
            AssetCheckSpec(name, asset=table, blocking=False, partitions_def=hours, description=rule.description)
            for name, rule in zip(warnings, dataset.warnings)
        ],
    ]


def judge(
    dataset: Dataset, frame: pl.DataFrame, hours: Sequence[HourRows], previous: pl.DataFrame | None
) -> list[Verdict]:
    """The verdict of each hour of a cooked batch; ``previous`` is the row before the batch, if
    any, so rules that look back see across hour boundaries."""
    tables = split_hours(frame, len(hours))
    verdicts = [Verdict(table.height, hour.complete) for hour, table in zip(hours, tables)]
    if problems := schema_differences(frame.drop("_hour", "_row").schema, dataset.columns):
        for verdict in verdicts:
            verdict.broken["schema"] = len(problems)
            verdict.samples["schema"] = pl.DataFrame({"problem": problems})
        return verdicts
    looking_back = _with_previous(frame, dataset, previous)
    for rules, found in ((dataset.rules, "broken"), (dataset.warnings, "warned")):
        for rule in rules:
            offending = rule.offending(looking_back)
            for (position,), rows in offending.partition_by("_hour", as_dict=True).items():
                getattr(verdicts[position], found)[rule.name] = rows.height
                verdicts[position].samples[rule.name] = rows.head(SAMPLE_ROWS)
    if dataset.on_the_minute:
        for verdict, hour, table in zip(verdicts, hours, tables):
            verdict.missing_minutes = missing_minutes(table, dataset.time_column, hour.hour, hour.complete)
    return verdicts


def _with_previous(frame: pl.DataFrame, dataset: Dataset, previous: pl.DataFrame | None) -> pl.DataFrame:
    """``frame`` with ``_previous_{column}``: each row's predecessor, across hours."""
    names = [column.name for column in dataset.columns]
    head = previous.select(names).tail(1) if previous is not None else frame.select(names).clear()
    shifted = pl.concat([head, frame.select(names)]).select(pl.all().shift(1).name.prefix("_previous_"))
    return pl.concat([frame, shifted.tail(frame.height)], how="horizontal")


def evaluations(
    dataset: Dataset, table: AssetKey, verdicts: Mapping[str, Verdict], targets: Mapping[str, Any]
) -> Iterator[AssetCheckEvaluation]:
    """Each hour's result of each check, aimed at that hour's materialization."""
    valid, complete, warnings = check_names(dataset)
    for key, verdict in verdicts.items():
        common = dict(asset_key=table, partition=key, target_materialization_data=targets.get(key))
        yield AssetCheckEvaluation(
            check_name=valid, passed=verdict.valid, blocking=True, severity=AssetCheckSeverity.ERROR,
            metadata={"rows": verdict.rows, **_findings(verdict.broken, verdict.samples)}, **common,
        )
        yield AssetCheckEvaluation(
            check_name=complete, passed=verdict.complete, blocking=True, severity=AssetCheckSeverity.WARN,
            metadata=_completeness(key, verdict), **common,
            description=None if verdict.complete else "open: no _SUCCESS in the raw zone (the hour had not "
            "ended by Binance's clock when fetched, or its answer was not complete); it is fetched again "
            "automatically, and no day is built from it until then",
        )
        for name, rule in zip(warnings, dataset.warnings):
            found = {rule.name: verdict.warned[rule.name]} if rule.name in verdict.warned else {}
            yield AssetCheckEvaluation(
                check_name=name, passed=not found, blocking=False, severity=AssetCheckSeverity.WARN,
                metadata=_findings(found, verdict.samples), **common,
            )


def _completeness(key: str, verdict: Verdict) -> dict[str, Any]:
    shown = ", ".join(f"{key[11:13]}:{minute:02d}" for minute in verdict.missing_minutes[:SHOWN_MINUTES])
    return {
        "rows": verdict.rows,
        "complete": verdict.complete,
        **({"missing_minutes": len(verdict.missing_minutes), "missing": shown or "none"} if shown or verdict.rows else {}),
    }


def _findings(found: Mapping[str, int], samples: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    if not found:
        return {}
    return {
        "offending_rows": sum(found.values()),
        "failing": MetadataValue.md("\n".join(f"- {name}: {rows} rows" for name, rows in found.items())),
        "sample": MetadataValue.md("\n\n".join(_table(samples[name]) for name in found if name in samples)),
    }


def _table(frame: pl.DataFrame) -> str:
    shown = frame.select(pl.exclude("^_.*$").cast(pl.String))
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + " --- |" * len(shown.columns)]
    return "\n".join(lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.iter_rows()])


def materialization_targets(context: AssetExecutionContext, table: AssetKey, keys: Sequence[str]) -> dict[str, Any]:
    """This run's materialization of each of ``keys``, as the target its check results name: a week
    of hours per query. Dagster 1.13 does not export the target type; it is built from its stored
    form (``deserialize_value``), which Dagster keeps readable across versions."""
    targets: dict[str, Any] = {}
    for offset in range(0, len(keys), 168):
        chunk = list(keys[offset : offset + 168])
        records = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=table, asset_partitions=chunk), limit=3 * len(chunk)
        ).records
        for record in records:
            if record.run_id == context.run.run_id:
                targets.setdefault(record.partition_key, _target(record))
    return targets


def _target(record: Any) -> Any:
    return deserialize_value(json.dumps({
        "__class__": "AssetCheckEvaluationTargetMaterializationData",
        "storage_id": record.storage_id,
        "run_id": record.run_id,
        "timestamp": record.timestamp,
    }))
