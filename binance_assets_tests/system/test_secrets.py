"""The API secret never leaves the process: not in logs, events, metadata, run config or files."""

from __future__ import annotations

from pathlib import Path

from binance_assets_tests.cli import cli_env, materialize_cli
from binance_assets_tests.runs import API_KEY, API_SECRET


def files_containing(root: Path, needle: str) -> list[str]:
    return [
        str(path)
        for path in root.rglob("*")
        if path.is_file() and needle.encode() in path.read_bytes()
    ]


def test_secret_and_full_key_appear_nowhere_after_a_full_run(emulator, tmp_path):
    lake, home = tmp_path / "lake", tmp_path / "dagster_home"
    env = cli_env(emulator.url, tmp_path, credentials=True)
    hourly = ",".join(f"BTCUSDT/{name}" for name in ("raw_candles", "candles", "raw_orders", "orders"))
    run = materialize_cli(env, hourly, partition="2025-03-01-13:00")
    assert run.returncode == 0, run.stderr[-3000:]
    assert (lake / "cooked" / "orders").exists()

    # a wrong secret makes Binance reject the signature: the error path must not leak it either
    bad = materialize_cli({**env, "BINANCE_API_SECRET": API_SECRET[::-1]}, "BTCUSDT/raw_orders", partition="2025-03-01-14:00")
    assert bad.returncode != 0 and "-1022" in bad.stdout + bad.stderr

    output = run.stdout + run.stderr + bad.stdout + bad.stderr
    for needle in (API_SECRET, API_SECRET[::-1], API_KEY):
        assert needle not in output
        assert files_containing(home, needle) == []
        assert files_containing(lake, needle) == []
    assert API_KEY[-4:] in output  # the key is shown masked, which tells the user which key ran
