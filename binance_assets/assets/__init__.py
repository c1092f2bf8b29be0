"""Software-defined assets: one module per Binance dataset."""
