"""The code location loads: every asset, check, resource and schedule validates."""

from dagster import AssetKey, Definitions

from binance_assets.definitions import defs


def test_definitions_validate():
    Definitions.validate_loadable(defs)


def test_contract_asset_keys_and_lineage():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"raw_candles", "candles", "raw_orders", "orders"} <= keys
    assert graph.get(AssetKey("candles")).parent_keys == {AssetKey("raw_candles")}
    assert graph.get(AssetKey("orders")).parent_keys == {AssetKey("raw_orders")}


def test_cooked_assets_publish_their_column_schema():
    graph = defs.resolve_asset_graph()
    for key, first, last in [("candles", "trading_pair", "candle_close_time"), ("orders", "symbol", "update_time")]:
        value = graph.get(AssetKey(key)).metadata["dagster/column_schema"]
        schema = getattr(value, "schema", value)
        assert schema.columns[0].name == first
        assert schema.columns[-1].name == last
        assert all(column.description for column in schema.columns)


def test_schema_checks_are_blocking():
    graph = defs.resolve_asset_graph()
    blocking = {
        key.name
        for key in graph.asset_check_keys
        if graph.get_check_spec(key).blocking
    }
    assert {"candles_schema", "orders_schema"} <= blocking
