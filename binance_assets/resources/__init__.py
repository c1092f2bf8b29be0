"""Dagster resources: the Binance REST client."""
