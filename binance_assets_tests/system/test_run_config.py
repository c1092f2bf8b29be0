"""Run config as the launchpad sends it: setting one field of a resource keeps every other field's
value from the environment (URLs, credentials), so a tuned run still talks to the configured
Binance and never loses its key."""

from __future__ import annotations

from binance_assets_tests.cli import cli_env, materialize_cli
from binance_assets_tests.lake_files import local_files
from binance_assets_tests.runs import API_KEY, API_SECRET
from binance_emulator.process import EmulatorProcess

OLD_HOUR = "2025-03-01-12:00"  # before the archive cutoff: its day comes from the archive


def test_one_field_per_resource_keeps_the_environment_for_the_others(tmp_path) -> None:
    with EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET) as emulator:
        env = cli_env(emulator.url, tmp_path, credentials=True)
        config = {
            "resources": {
                "binance": {"config": {"max_attempts": 3}},
                "binance_archive": {"config": {"min_age_days": 2}},
            }
        }
        run = materialize_cli(env, ",".join(f"BTCUSDT/{name}" for name in ("raw_candles", "candles", "raw_orders", "orders")), partition=OLD_HOUR, config=config)
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        requests_made = emulator.stats()["requests"]

    assert requests_made.get("/api/v3/allOrders"), "orders reached BINANCE_API_URL with the credentials"
    assert any(path.endswith(".zip") for path in requests_made), "candles came from BINANCE_ARCHIVE_URL"
    files = local_files(str(tmp_path / "lake"))
    assert any(key.startswith("cooked/orders/symbol=BTCUSDT/") for key in files)
    assert any(key.startswith("cooked/candles/symbol=BTCUSDT/") for key in files)
    assert API_SECRET not in run.stdout + run.stderr
