"""An offline Binance-compatible spot REST server with deterministic synthetic data.

Run it with ``python -m binance_emulator --host 127.0.0.1 --port 0``; from Python, use
:class:`binance_emulator.process.EmulatorProcess`. Modules: :mod:`.server` (HTTP, weights, admin),
:mod:`.market` (candles), :mod:`.account` (orders), :mod:`.signing` (signed requests),
:mod:`.errors` (Binance error answers), :mod:`.archive` (bulk zips), :mod:`.faults` (fault
injection), :mod:`.process` (run as a subprocess).
"""
