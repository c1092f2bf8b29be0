"""The bulk archive path of ``raw_candles``, against the emulator's archive over HTTP.

Old hours read from archive zips must leave exactly the lake REST leaves: the same raw
``klines.json`` bytes and the same cooked Parquet. A zip that is missing or fails its checksum is
replaced by REST; a file cut short is completed from REST.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime, timezone
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from binance_assets.binance.archive import BinanceArchive, periods, rest_row
from binance_assets.binance.client import BinanceResource
from binance_assets_tests.runs import lake_resources, run_hours, node
from binance_emulator.process import EmulatorProcess

SYMBOL = "BTCUSDT"
# Three days over a month end, starting and ending mid-day: four daily files, no monthly one.
START, END = "2025-02-27-05:00", "2025-03-02-04:00"
DAYS = ["2025-02-27", "2025-02-28", "2025-03-01", "2025-03-02"]
HOURS = 72


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


def _zip_path(day: str) -> str:
    return f"/data/spot/daily/klines/{SYMBOL}/1m/{SYMBOL}-1m-{day}.zip"


def _lake_files(lake: str) -> dict[str, bytes]:
    """The raw and cooked zones, each ``_SUCCESS`` reduced to its presence: it records where the
    hour came from (REST, or an archive file and its checksum), the only byte that may differ."""
    root = Path(lake)
    return {
        str(path.relative_to(root)): b"" if path.name == "_SUCCESS" else path.read_bytes()
        for zone in ("raw", "cooked")
        for path in sorted((root / zone).rglob("*"))
        if path.is_file()
    }


def _raw_metadata(result) -> dict:
    """The run's figures, on the materialization of its last hour."""
    materialization = result.asset_materializations_for_node(node("raw_candles"))[-1]
    if "run" in materialization.metadata:  # a range: the totals as one JSON entry
        return materialization.metadata["run"].value
    return {name: value.value for name, value in materialization.metadata.items()}


@pytest.fixture(scope="module")
def archive_emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as process:
        yield process


@pytest.fixture(scope="module")
def rest_lake(archive_emulator: EmulatorProcess, tmp_path_factory) -> dict[str, bytes]:
    """The range fetched by REST only: what every archive run must reproduce."""
    lake = str(tmp_path_factory.mktemp("rest") / "lake")
    assert run_hours(lake_resources(lake, archive_emulator.url), START, END).success
    return _lake_files(lake)


def test_archive_writes_the_lake_rest_writes(
    archive_emulator: EmulatorProcess, rest_lake: dict[str, bytes], lake: str
) -> None:
    archive_emulator.reset()
    result = run_hours(lake_resources(lake, archive_emulator.url, archive=True), START, END)
    assert result.success
    requests_made = archive_emulator.stats()["requests"]
    assert _lake_files(lake) == rest_lake  # raw klines.json bytes, _SUCCESS, cooked Parquet
    assert len(rest_lake) == 3 * HOURS
    assert "/api/v3/klines" not in requests_made  # no span of this range ends in a gap
    assert sorted(requests_made) == sorted(
        [_zip_path(day) for day in DAYS] + [_zip_path(day) + ".CHECKSUM" for day in DAYS]
        + ["/api/v3/exchangeInfo"]  # it brings Binance's clock for the archive's cut-off too
    )
    metadata = _raw_metadata(result)
    assert metadata["source"] == "archive"
    assert metadata["archive_files"] == 4 and metadata["archive_bytes"] > 0


def test_a_range_with_hours_already_stored_downloads_each_file_once(
    archive_emulator: EmulatorProcess, rest_lake: dict[str, bytes], lake: str
) -> None:
    """Hours stored complete before (a killed run leaves such holes) split the range into spans
    that share a day's file: it is downloaded once, and the stored hours are not fetched again."""
    assert run_hours(lake_resources(lake, archive_emulator.url), "2025-02-28-10:00").success
    assert run_hours(lake_resources(lake, archive_emulator.url), "2025-02-28-14:00").success
    archive_emulator.reset()
    result = run_hours(lake_resources(lake, archive_emulator.url, archive=True), START, END)
    assert result.success
    assert _lake_files(lake) == rest_lake
    requests_made = archive_emulator.stats()["requests"]
    assert all(requests_made[_zip_path(day)] == 1 for day in DAYS), requests_made
    assert _raw_metadata(result)["skipped_complete_hours"] == 2


def test_bad_checksum_and_missing_file_fall_back_to_rest(
    archive_emulator: EmulatorProcess, rest_lake: dict[str, bytes], lake: str
) -> None:
    archive_emulator.reset()
    archive_emulator.set_faults(
        [
            {"kind": "truncate", "path": _zip_path(DAYS[0]), "count": 1},  # zip ≠ its .CHECKSUM
            {"kind": "5xx", "path": _zip_path(DAYS[2]), "count": 1, "status": 404},
        ]
    )
    result = run_hours(lake_resources(lake, archive_emulator.url, archive=True), START, END)
    assert result.success
    assert _lake_files(lake) == rest_lake
    metadata = _raw_metadata(result)
    assert metadata["source"] == "archive+rest"
    assert metadata["archive_files"] == 2
    assert "2025-02-27T05:00 to 2025-02-28T00:00" in metadata["rest_spans"]
    assert "2025-03-01T00:00 to 2025-03-02T00:00" in metadata["rest_spans"]
    klines = archive_emulator.stats()["requests"]["/api/v3/klines"]
    assert klines <= 2 * (math.ceil(24 * 60 / 1000) + 2)


def test_recent_hours_and_a_disabled_archive_request_no_archive_file(
    archive_emulator: EmulatorProcess, lake: str
) -> None:
    """This hour of today is past the archive's cutoff, and an old hour with the archive off is
    REST's: neither asks the archive for a file (no wasted request, no 404 warning)."""
    today = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    for resources, hour in [
        (lake_resources(lake, archive_emulator.url, archive=True), today.strftime("%Y-%m-%d-%H:00")),
        (lake_resources(lake, archive_emulator.url, archive=False), START),
    ]:
        archive_emulator.reset()
        assert run_hours(resources, hour).success
        assert not [path for path in archive_emulator.stats()["requests"] if path.startswith("/data/")]


def test_hanging_archive_costs_one_timeout_then_rest_serves_the_run(
    archive_emulator: EmulatorProcess, rest_lake: dict[str, bytes], lake: str
) -> None:
    archive_emulator.reset()
    archive_emulator.set_faults([{"kind": "slow", "path": "/data/", "seconds": 1}])
    resources = lake_resources(lake, archive_emulator.url, archive=True)
    resources["binance_archive"] = BinanceArchive(archive_url=archive_emulator.url, timeout_seconds=0.3)
    try:
        result = run_hours(resources, START, END)
        time.sleep(1.5)  # the emulator counts the hanging request once it has answered it
        made = archive_emulator.stats()["requests"]
    finally:
        archive_emulator.set_faults([])
    assert result.success
    assert sum(count for path, count in made.items() if path.startswith("/data/")) == 1, made
    assert _lake_files(lake) == rest_lake
    assert _raw_metadata(result)["source"] == "rest"


def test_monthly_file_rows_equal_rest_rows(archive_emulator: EmulatorProcess) -> None:
    """A full month comes from one monthly zip, microseconds turned into REST's milliseconds."""
    start, end = _ms("2025-02-01T00:00"), _ms("2025-03-01T00:00")
    assert [p.name for p in periods(start, end)] == ["2025-02"]
    binance = BinanceResource(api_url=archive_emulator.url)
    archive = BinanceArchive(archive_url=archive_emulator.url)
    from_archive = [row for page in archive.klines(binance, SYMBOL, start, end) for row in page.rows]
    assert binance.stats.requests_by_endpoint.get("klines", 0) == 0
    from_rest = [row for page in binance.klines(SYMBOL, start, end) for row in page.rows]
    assert from_archive == from_rest
    assert [type(v) for v in from_archive[0]] == [int, str, str, str, str, str, int, str, int, str, str, str]
    assert archive.stats.files == 1


def test_rest_row_converts_microseconds_and_keeps_strings() -> None:
    fields = "1735689600000000,93576.00000000,93610.93000000,93537.50000000,93610.93000000," \
             "8.21827000,1735689659999999,768978.29095610,2557,4.72016000,441653.59698580,0"
    assert rest_row(fields.split(",")) == [
        1735689600000, "93576.00000000", "93610.93000000", "93537.50000000", "93610.93000000",
        "8.21827000", 1735689659999, "768978.29095610", 2557, "4.72016000", "441653.59698580", "0",
    ]
    before_2025 = ["1735603200000", "1.0", "1.0", "1.0", "1.0", "1.0", "1735603259999", "1.0", "3", "1.0", "1.0", "0"]
    assert rest_row(before_2025)[0:1] + rest_row(before_2025)[6:9] == [1735603200000, 1735603259999, "1.0", 3]
    with pytest.raises(ValueError):
        rest_row(fields.split(",")[:7])


@pytest.fixture
def truncated_archive(archive_emulator: EmulatorProcess, tmp_path: Path) -> Iterator[str]:
    """An archive server whose one daily file was cut mid-row yet has a matching checksum
    (a file Binance published truncated), served over HTTP from a directory."""
    day = DAYS[1]
    original = requests.get(archive_emulator.url + _zip_path(day), timeout=30).content
    with zipfile.ZipFile(io.BytesIO(original)) as source:
        (name,) = source.namelist()
        text = source.read(name).decode()
    cut = io.BytesIO()
    with zipfile.ZipFile(cut, "w", zipfile.ZIP_DEFLATED) as target:
        target.writestr(name, text[: int(len(text) * 0.6)])  # ends mid-row
    folder = tmp_path / _zip_path(day).lstrip("/")
    folder.parent.mkdir(parents=True)
    folder.write_bytes(cut.getvalue())
    checksum = hashlib.sha256(cut.getvalue()).hexdigest()
    folder.with_name(folder.name + ".CHECKSUM").write_text(f"{checksum}  {folder.name}\n")
    handler = partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass


def test_truncated_file_is_completed_from_rest(
    archive_emulator: EmulatorProcess, truncated_archive: str
) -> None:
    start, end = _ms(f"{DAYS[1]}T00:00"), _ms(f"{DAYS[2]}T00:00")
    binance = BinanceResource(api_url=archive_emulator.url)
    archive = BinanceArchive(archive_url=truncated_archive)
    from_archive = [row for page in archive.klines(binance, SYMBOL, start, end) for row in page.rows]
    assert archive.stats.files == 1 and 0 < archive.stats.rows < 1440 * 0.6
    rest_requests = binance.stats.requests_by_endpoint["klines"]
    assert rest_requests == 1  # the ~40% of the day after the cut
    from_rest = [row for page in binance.klines(SYMBOL, start, end) for row in page.rows]
    assert from_archive == from_rest
