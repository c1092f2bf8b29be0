"""Binance spot candles and account orders as hourly-partitioned Dagster assets in a data lake."""
