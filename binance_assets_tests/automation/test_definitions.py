"""The code location loads: every pair's assets, checks, resources and schedules validate, and it
leans on Dagster's public API only."""

import re
from pathlib import Path

import pytest
from dagster import AssetKey, DefaultSensorStatus, Definitions

from binance_assets.definitions import build_definitions, defs
from binance_assets.settings import Settings, SettingsError

PAIRS = ("BTCUSDT", "BTCUSDC", "BTCFDUSD")
PACKAGE = Path(__file__).resolve().parents[1] / "binance_assets"


@pytest.fixture(scope="module")
def pairs_defs() -> Definitions:
    return build_definitions(Settings.from_env({"BINANCE_SYMBOLS": ",".join(PAIRS)}))


def test_definitions_validate(pairs_defs):
    Definitions.validate_loadable(defs)
    Definitions.validate_loadable(pairs_defs)


def test_every_pair_has_its_own_assets_group_and_lineage(pairs_defs):
    graph = pairs_defs.resolve_asset_graph()
    for pair in PAIRS:
        for dataset in ("candles", "orders"):
            raw, cooked, daily = (graph.get(AssetKey([pair, name])) for name in (f"raw_{dataset}", dataset, f"daily_{dataset}"))
            assert cooked.parent_keys == {raw.key} and daily.parent_keys == {cooked.key}
            assert raw.group_name == cooked.group_name == daily.group_name == pair
    assert len(graph.get_all_asset_keys()) == 6 * len(PAIRS)


def test_cooked_assets_publish_their_column_schema(pairs_defs):
    graph = pairs_defs.resolve_asset_graph()
    for key, first, last in [("candles", "trading_pair", "candle_close_time"), ("orders", "symbol", "update_time")]:
        value = graph.get(AssetKey(["BTCUSDC", key])).metadata["dagster/column_schema"]
        schema = getattr(value, "schema", value)
        assert schema.columns[0].name == first
        assert schema.columns[-1].name == last
        assert all(column.description for column in schema.columns)


def test_each_hour_has_blocking_checks_of_validity_and_completeness(pairs_defs):
    graph = pairs_defs.resolve_asset_graph()
    hourly = {
        (key.asset_key.path[0], key.name, graph.get_check_spec(key).blocking)
        for key in graph.asset_check_keys
        if graph.get_check_spec(key).partitions_def is not None and key.asset_key.path[1] in ("candles", "orders")
    }
    assert hourly == {
        (pair, name, blocking)
        for pair in PAIRS
        for name, blocking in [("candles_valid", True), ("candles_complete", True), ("candles_jumps", False),
                               ("orders_valid", True), ("orders_complete", True)]
    }


def test_days_are_built_by_an_automation_sensor_that_ships_running(pairs_defs):
    sensor = pairs_defs.get_sensor_def("daily_tables")
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    graph = pairs_defs.resolve_asset_graph()
    targeted = sensor.asset_selection.resolve(graph)
    assert targeted == {AssetKey([pair, f"daily_{d}"]) for pair in PAIRS for d in ("candles", "orders")}


def test_cooked_tables_carry_a_freshness_policy(pairs_defs):
    graph = pairs_defs.resolve_asset_graph()
    for pair in PAIRS:
        policy = graph.get(AssetKey([pair, "candles"])).freshness_policy
        assert policy is not None and policy.deadline_cron == "15 * * * *"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("BINANCE_SYMBOLS", "X/../../../../ESCAPED", "X/../../../../ESCAPED"),
        ("BINANCE_SYMBOLS", "BTC/USDT", "'BTC/USDT'"),
        ("BINANCE_SYMBOL", "BTC..USDT", "'BTC..USDT'"),
        ("LAKE_URL", "s3://", "names no bucket"),
        ("LAKE_URL", "file://rel_lake", "file:///absolute/path"),
        ("LAKE_URL", "ftp://host/lake", "only local paths and s3://"),
        ("BINANCE_API_URL", "https://api.binance.com/api", "without /api (e.g. https://api.binance.com)"),
        ("BINANCE_START_DATE", "2025-03-01-13:30", "not on the hour"),
        ("BINANCE_START_DATE", "2999-01-01-00:00", "in the future"),
        ("BINANCE_ARCHIVE_URL", "data.binance.vision", "expected an http:// or https:// URL"),
        ("BINANCE_WEIGHT_LIMIT", "lots", "whole number"),
        ("BINANCE_HEAL_LOOKBACK_HOURS", "0", "whole number of at least 1"),
        ("ICEBERG_CATALOG_URI", "catalog.db", "not a SQLAlchemy URL"),
        ("ICEBERG_CATALOG_URI", "mysql://db/x", "mysql is not supported"),
        ("ICEBERG_WAREHOUSE", "/etc/hostname/tables", "is not a folder this user can write to"),
        ("ICEBERG_WAREHOUSE", "gs://bucket/tables", "only local paths, file:// and s3://"),
    ],
)
def test_bad_settings_fail_the_load_naming_variable_and_value(variable, value, named):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert str(raised.value).startswith(f"{variable}={value!r}: ")
    assert named in str(raised.value)


def test_a_catalog_password_never_reaches_the_error():
    for uri in ("mysql://user:hunter2@db/x", "postgresql://user:hunter2@db:port/x"):
        with pytest.raises(SettingsError) as raised:
            Settings.from_env({"ICEBERG_CATALOG_URI": uri})
        assert "hunter2" not in str(raised.value) and "ICEBERG_CATALOG_URI" in str(raised.value)


def test_file_urls_name_the_local_path():
    assert Settings.from_env({"LAKE_URL": "file:///srv/lake"}).lake_url == "/srv/lake"
    assert Settings.from_env({"LAKE_URL": "file://localhost/srv/lake"}).lake_url == "/srv/lake"


def test_symbols_list_and_legacy_variable():
    assert Settings.from_env({"BINANCE_SYMBOLS": " btcusdt, BTCUSDC ,"}).symbols == ("BTCUSDT", "BTCUSDC")
    assert Settings.from_env({"BINANCE_SYMBOL": "BTCUSD"}).symbols == ("BTCUSD",)


def test_public_dagster_api_only():
    """Nothing from ``dagster._…`` and no Dagster run tag read by name, in the code location (the
    healing sensor writes the two tags that make a run request a single-run range)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if re.search(r"\bdagster\._|from dagster\._|tags(\.get\(|\[)\s*\"dagster/", text):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []
