"""Binance: the REST client resource (python-binance) and the bulk archive (data.binance.vision)."""
