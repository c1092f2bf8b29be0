"""Peer benchmark: freqtrade's ``download-data`` fetches one pair's year of 1m candles from the emulator.

    python benchmarks/peer_freqtrade.py                      # BTC/USDT, 2025, 3 runs
    python benchmarks/peer_freqtrade.py --year 2025 --pair BTC/USDC --runs 2

From another benchmark (the caller owns the emulator)::

    from peer_freqtrade import freqtrade_year      # a script in benchmarks/ has this folder on sys.path
    with EmulatorProcess() as emulator:
        figures = freqtrade_year(emulator.url, 2025, "BTC/USDT")

freqtrade is the yardstick for "history at the speed of the API": a mature tool that pages
``GET /api/v3/klines`` through ccxt. It is installed from the package index, pinned to
:data:`FREQTRADE_VERSION`, into a virtual environment of its own outside the repository
(:data:`DEFAULT_VENV`, or ``--venv``), so its many dependencies never meet the project's.

How it is pointed at the emulator (the whole config is :func:`freqtrade_config`):

* ccxt's ``urls.api``: every Binance API base URL that ccxt knows is rewritten onto the emulator,
  path kept. Only ``public`` (``/api/v3``) is used; the rest are there so that a call nobody
  foresaw shows up as a 404 in the emulator's stats instead of leaving the machine.
* ccxt's ``options``: markets are loaded from spot ``exchangeInfo`` only (no futures, no margin
  pairs, no ``sapi`` currencies), which the emulator serves.
* freqtrade's ``only_from_ccxt``: without it freqtrade's Binance class reads 1m history from the
  bulk archive at a host written into its code, which no setting redirects. With it, the download
  is REST only, as the project's REST backfill is.

Figures: wall seconds of the ``freqtrade download-data`` process (start-up included, as the
project's benchmark times its CLI), the seconds freqtrade's own log puts between the start and the
end of the pair's download, CPU seconds, candles stored, and the requests the emulator saw. The
stored candles are checked against the emulator's generator: inside the year, exactly the minutes
:func:`binance_emulator.market.is_missing` does not drop (about 1 in 500 is missing by design).
freqtrade keeps the whole last page it fetched, so its file runs a few hours into the next year;
those rows are counted apart.

freqtrade runs as installed, with ccxt's own rate limiter on (ccxt's default): ccxt spaces kline
requests 20 ms apart (its cost 0.4 for a 1,000-row page times its 50 ms ``rateLimit`` for Binance), which is
Binance's 6,000 weight a minute spent on klines alone. So the download part is paced, not bound by
the emulator: a year's 526 pages take at least 10.5 s.
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from binance_emulator import market
from binance_emulator.process import EmulatorProcess

FREQTRADE_VERSION = "2026.9"
DEFAULT_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "binance-peer" / f"freqtrade-{FREQTRADE_VERSION}"
TIMEFRAME = "1m"
# Reads freqtrade's feather file inside freqtrade's environment (pandas is there, not here) and
# answers in JSON: row count, duplicates, and the year's missing minutes, so the comparison with
# the generator happens here without moving half a million timestamps between processes.
_INSPECT = """
import json, sys
import pandas as pd
path, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
df = pd.read_feather(path)
ms = df["date"].dt.as_unit("ms").astype("int64")
seen = set(ms.tolist())
inside = ms[(ms >= start) & (ms < end)]
picked = {int(inside.min()), int(inside.max())} | {t for t in range(start + 43_200_000, end, 30 * 86_400_000)}
sample = df[ms.isin(picked)]
print(json.dumps({
    "rows": len(ms),
    "duplicates": len(ms) - len(seen),
    "inside": len(inside),
    "before": int((ms < start).sum()),
    "after": int((ms >= end).sum()),
    "off_minute": int((ms % 60_000 != 0).sum()),
    "missing": [t for t in range(start, end, 60_000) if t not in seen],
    "samples": {str(t): [r.open, r.high, r.low, r.close, r.volume]
                for t, r in zip(ms[sample.index].tolist(), sample.itertuples(index=False))},
}))
"""


def ensure_freqtrade(venv: Path = DEFAULT_VENV) -> Path:
    """Create ``venv`` with freqtrade :data:`FREQTRADE_VERSION` unless it is already there; returns
    its ``python``. Installing takes about half a minute, so it is done once and reused."""
    python = venv / "bin" / "python"
    if python.exists() and _installed_version(python, "freqtrade") == FREQTRADE_VERSION:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip", f"freqtrade=={FREQTRADE_VERSION}"],
        capture_output=True, text=True,
    )
    if install.returncode or _installed_version(python, "freqtrade") != FREQTRADE_VERSION:
        raise RuntimeError(f"installing freqtrade {FREQTRADE_VERSION} into {venv} failed:\n{install.stderr[-4000:]}")
    return python


def _installed_version(python: Path, package: str) -> str | None:
    """The version of ``package`` in the environment of ``python``, or None when it is absent."""
    probe = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True, text=True,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def ccxt_api_urls(python: Path, emulator_url: str) -> dict[str, str]:
    """Every base URL of ccxt's Binance class (freqtrade's ccxt, not the project's), moved onto
    the emulator with its path kept: an unexpected call then reaches the emulator, not the internet."""
    listed = subprocess.run(
        [str(python), "-c", "import ccxt, json; print(json.dumps(ccxt.binance().urls['api']))"],
        capture_output=True, text=True, check=True,
    )
    return {name: re.sub(r"^https?://[^/]+", emulator_url.rstrip("/"), url)
            for name, url in json.loads(listed.stdout).items()}


def freqtrade_config(api_urls: dict[str, str]) -> dict[str, Any]:
    """The freqtrade config: Binance spot through ccxt only, every API URL on the emulator."""
    return {
        "exchange": {
            "name": "binance",
            "only_from_ccxt": True,  # REST only: the bulk-archive path has a fixed host
            "ccxt_config": {
                "urls": {"api": api_urls},
                "options": {
                    "fetchMarkets": {"types": ["spot"]},  # spot exchangeInfo, no fapi/dapi/eapi
                    "fetchMargins": False,  # no sapi margin pairs
                    "fetchCurrencies": False,  # no sapi capital config
                },
            },
        },
        "trading_mode": "spot",
        "stake_currency": "USDT",
        "dry_run": True,
        "dataformat_ohlcv": "feather",  # freqtrade's default, named so the file name is known
    }


def year_ms(year: int) -> tuple[int, int]:
    """Open time of the year's first minute and of the next year's first minute, UTC ms."""
    return calendar.timegm((year, 1, 1, 0, 0, 0)) * 1000, calendar.timegm((year + 1, 1, 1, 0, 0, 0)) * 1000


def expected_missing(symbol: str, start_ms: int, end_ms: int, seed: int = 0) -> list[int]:
    """The minutes in [start, end) the emulator never serves for ``symbol`` (its gap rule)."""
    first = max(start_ms, market.listing_ms(symbol))
    before_listing = list(range(start_ms, first, market.MINUTE_MS))
    return before_listing + [t for t in range(first, end_ms, market.MINUTE_MS) if market.is_missing(symbol, t, seed)]


def _emulator(url: str, path: str) -> dict:
    """GET one of the emulator's admin answers (``/_emulator/stats``)."""
    with urllib.request.urlopen(url.rstrip("/") + path, timeout=10) as response:
        return json.loads(response.read())


def _download_seconds(log: str, pair: str) -> float | None:
    """Seconds between freqtrade's "Download history data for PAIR" and "Downloaded data for PAIR"
    log lines: the download without interpreter start-up and market loading (None if not found)."""
    stamp = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*"
    began = re.search(stamp + re.escape(f'Download history data for "{pair}"'), log, re.M)
    ended = re.search(stamp + re.escape(f"Downloaded data for {pair}"), log, re.M)
    if not (began and ended):
        return None
    moments = [datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f") for found in (began, ended)]
    return (moments[1] - moments[0]).total_seconds()


def run_download(python: Path, workdir: Path, config: dict[str, Any], year: int, pair: str) -> dict[str, Any]:
    """Run ``freqtrade download-data`` once into an empty ``workdir``; wall, CPU and download seconds."""
    (workdir / "user_data").mkdir(parents=True)
    (workdir / "data").mkdir()
    (workdir / "config.json").write_text(json.dumps(config, indent=2))
    command = [
        str(python.with_name("freqtrade")), "download-data",
        "--config", str(workdir / "config.json"),
        "--userdir", str(workdir / "user_data"),
        "--datadir", str(workdir / "data"),
        "--pairs", pair, "--timeframes", TIMEFRAME,
        "--timerange", f"{year}0101-{year + 1}0101",
    ]
    with open(workdir / "freqtrade.log", "w+") as log:
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read()
    if process.returncode:
        raise RuntimeError(f"freqtrade download-data failed ({process.returncode}):\n{text[-4000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "download_s": _download_seconds(text, pair),
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def inspect_candles(python: Path, path: Path, start_ms: int, end_ms: int) -> dict[str, Any]:
    """What freqtrade stored: rows, rows inside [start, end), duplicates, missing minutes, samples."""
    answer = subprocess.run([str(python), "-c", _INSPECT, str(path), str(start_ms), str(end_ms)],
                            capture_output=True, text=True, check=True)
    return json.loads(answer.stdout)


def check_candles(stored: dict[str, Any], symbol: str, start_ms: int, end_ms: int, seed: int) -> list[str]:
    """Differences between freqtrade's candles and the emulator's generator; empty when they agree.
    Counts, the exact set of missing minutes, and OHLCV of a few sampled rows (freqtrade keeps
    floats; the generator's 8-decimal strings are compared as floats)."""
    problems = []
    missing = expected_missing(symbol, start_ms, end_ms, seed)
    expected = (end_ms - start_ms) // market.MINUTE_MS - len(missing)
    if stored["inside"] != expected:
        problems.append(f"{stored['inside']} candles inside the year, the emulator serves {expected}")
    if stored["missing"] != missing:
        extra = sorted(set(stored["missing"]) - set(missing))[:5]
        lost = sorted(set(missing) - set(stored["missing"]))[:5]
        problems.append(f"missing minutes differ: absent though served {extra}, present though never served {lost}")
    for label in ("duplicates", "before", "off_minute"):
        if stored[label]:
            problems.append(f"{stored[label]} rows {label.replace('_', ' ')}")
    for t, values in stored["samples"].items():
        row = market.candle(symbol, int(t), seed, now_ms=end_ms + market.DAY_MS)
        want = [float(row[i]) for i in (1, 2, 3, 4, 5)] if row else None
        if want != values:
            problems.append(f"candle {t}: freqtrade {values}, emulator {want}")
    return problems


def freqtrade_year(emulator_url: str, year: int = 2025, pair: str = "BTC/USDT", seed: int = 0,
                   venv: Path = DEFAULT_VENV) -> dict[str, Any]:
    """Download ``pair``'s ``year`` of 1m candles with freqtrade from the emulator at
    ``emulator_url`` (started with ``--seed seed``) and return the figures.

    Requests are the emulator's counts during the run (its stats before and after, so an emulator
    already used by the caller is fine; nothing else should use it meanwhile). ``problems`` lists
    what differs from the generator; empty means every served minute arrived, and no other."""
    python = ensure_freqtrade(venv)
    symbol = pair.replace("/", "")
    start_ms, end_ms = year_ms(year)
    before = _emulator(emulator_url, "/_emulator/stats")
    if before["server_time"] < end_ms + market.MINUTE_MS:
        raise ValueError(f"{year} has not ended on the emulator's clock")
    config = freqtrade_config(ccxt_api_urls(python, emulator_url))
    with tempfile.TemporaryDirectory(prefix="peer-freqtrade-") as tmp:
        workdir = Path(tmp)
        timing = run_download(python, workdir, config, year, pair)
        after = _emulator(emulator_url, "/_emulator/stats")
        stored = inspect_candles(python, workdir / "data" / f"{pair.replace('/', '_')}-{TIMEFRAME}.feather", start_ms, end_ms)
    requests = {path: n - before["requests"].get(path, 0) for path, n in after["requests"].items()
                if not path.startswith("/_emulator") and n != before["requests"].get(path, 0)}
    statuses = {code: n - before["statuses"].get(code, 0) for code, n in after["statuses"].items()
                if n != before["statuses"].get(code, 0)}
    return {
        **timing,
        "freqtrade": FREQTRADE_VERSION,
        "ccxt": _installed_version(python, "ccxt"),
        "pair": pair,
        "year": year,
        "candles_stored": stored["rows"],
        "candles_in_year": stored["inside"],
        "candles_after_year": stored["after"],
        "candles_expected": (end_ms - start_ms) // market.MINUTE_MS - len(expected_missing(symbol, start_ms, end_ms, seed)),
        "requests": requests,
        "requests_total": sum(requests.values()),
        "statuses": statuses,
        "max_weight_per_minute": after["max_weight_per_minute"],
        "problems": check_candles(stored, symbol, start_ms, end_ms, seed),
    }


def report(runs: list[dict[str, Any]]) -> None:
    """Print one line per run, the spread of wall seconds, and what the runs share."""
    first = runs[0]
    print(f"freqtrade {first['freqtrade']} (ccxt {first['ccxt']}) download-data, {first['pair']} {TIMEFRAME} {first['year']}, "
          f"REST from a fresh emulator per run")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
          f"date {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"{'run':>3} {'wall s':>7} {'download s':>10} {'cpu s':>6} {'RSS MB':>6} {'stored':>7} {'in year':>7} "
          f"{'expected':>8} {'requests':>8}  per path")
    for i, r in enumerate(runs, 1):
        download = f"{r['download_s']:.1f}" if r["download_s"] is not None else "–"
        print(f"{i:3} {r['wall_s']:7.1f} {download:>10} {r['cpu_s']:6.1f} {r['peak_rss_mb']:6.0f} {r['candles_stored']:7} "
              f"{r['candles_in_year']:7} {r['candles_expected']:8} {r['requests_total']:8}  {r['requests']}")
    walls = [r["wall_s"] for r in runs]
    print(f"wall s: min {min(walls):.1f}, median {statistics.median(walls):.1f}, max {max(walls):.1f}")
    print(f"statuses: {[r['statuses'] for r in runs]}; max weight in a minute: {[r['max_weight_per_minute'] for r in runs]}")
    for i, r in enumerate(runs, 1):
        print(f"run {i} candles: " + ("match the emulator" if not r["problems"] else "; ".join(r["problems"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--pair", default="BTC/USDT", help="freqtrade's spelling: BTC/USDT, BTC/USDC, BTC/FDUSD")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="freqtrade's own virtual environment")
    args = parser.parse_args()
    ensure_freqtrade(args.venv)
    runs = []
    for i in range(args.runs):
        with EmulatorProcess() as emulator:
            runs.append(freqtrade_year(emulator.url, args.year, args.pair, venv=args.venv))
        print(f"  run {i + 1}: {runs[-1]['wall_s']:.1f} s", file=sys.stderr, flush=True)
    report(runs)
    if any(r["problems"] for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
