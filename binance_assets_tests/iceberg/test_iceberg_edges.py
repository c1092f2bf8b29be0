"""The Iceberg tables at the edges of operation: writers racing each other and each other's snapshot
expiry through one PostgreSQL catalog, the orphan files such races leave and their removal, and
catalog or warehouse failures while a day is written, each named so an operator knows which day
failed and what to check. Real servers over real sockets: PostgreSQL (a fresh database per test,
reached directly or through a TCP relay the test can cut), moto's S3 server; no mocks.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import psycopg2
import pytest
from pyiceberg.table import Table

from binance_assets.iceberg.catalog import CatalogUnavailable, open_catalog
from binance_assets.iceberg.days import DayWrite, DayWriteFailed, write_day, write_table_day
from binance_assets.iceberg.maintenance import (
    KEEP_PROPERTY,
    SWEEP_EVERY_PROPERTY,
    expire_snapshots,
    referenced_files,
    remove_orphan_files,
)
from binance_assets.datasets.candles import CANDLES
from binance_assets.iceberg.tables import open_table, scan_table
from binance_assets_tests.postgres import PG, fresh_database
from binance_assets_tests.servers import MotoS3Server
from binance_assets_tests.iceberg.test_iceberg import DAY, candles_frame

PAIRS = ("BTCUSDT", "BTCUSDC", "BTCFDUSD")
PAIR_DAYS = [(symbol, DAY + timedelta(days=offset)) for symbol in PAIRS for offset in range(2)]
PASSWORD = "hunter2-catalog-secret"  # trust auth accepts it; it must never show in a message
AWS_SECRET = "aws-secret-value-never-shown"


# ---- helpers --------------------------------------------------------------------------------------


class TcpRelay:
    """A TCP relay to PostgreSQL on a port of its own: stopping it is the catalog server going
    down for this test alone (the shared server stays up), starting another on the same port is
    the server coming back."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # stopped
                return
            server = socket.create_connection((PG["host"], int(PG["port"])))
            self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone would not
        self.listener.close()
        for end in self.sockets:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()


def _admin(sql: str) -> None:
    connection = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


def _with_password(uri: str, password: str = PASSWORD) -> str:
    """The fresh database's URL with a password in it (trust auth ignores it)."""
    scheme, rest = uri.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user.split(':')[0]}:{password}@{host}"


def _set_properties(table: Table, properties: dict[str, str]) -> None:
    with table.transaction() as transaction:
        transaction.set_properties(properties)


def _local(path: str) -> Path:
    return Path(path.removeprefix("file://"))


def _files_under(table: Table) -> set[str]:
    return {f"file://{path}" for path in _local(table.location()).rglob("*") if path.is_file()}


def _orphans(table: Table) -> set[str]:
    table.refresh()
    return _files_under(table) - referenced_files(table)


def _missing(table: Table) -> list[str]:
    """Files some snapshot or metadata version of the table needs that are not in the warehouse,
    found with pyiceberg's own inspection (not the sweep's ``referenced_files``): a lost file."""
    table.refresh()
    needed = {table.metadata_location, *(entry.metadata_file for entry in table.metadata.metadata_log)}
    needed.update(snapshot.manifest_list for snapshot in table.snapshots())
    needed.update(table.inspect.all_manifests()["path"].to_pylist())
    needed.update(table.inspect.all_files()["file_path"].to_pylist())
    return sorted(path for path in needed if not _local(path).exists())


def _full_text(error: BaseException) -> str:
    """The error as a traceback prints it, causes included: where a secret could leak."""
    return "".join(traceback.format_exception(error))


def _assert_named(error: BaseException, *expected: str, secrets: tuple[str, ...] = (PASSWORD,)) -> None:
    message = str(error)
    assert isinstance(error, DayWriteFailed), _full_text(error)
    for text in ("binance.candles", "BTCUSDT", str(DAY), *expected):
        assert text in message, f"{text!r} not in {message!r}"
    for secret in secrets:
        assert secret not in _full_text(error)


# ---- concurrent writers -----------------------------------------------------------------------------


def _run_writers(
    uri: str,
    warehouse: str,
    versions: list[Callable[[pl.DataFrame], pl.DataFrame]],
    frames: dict[tuple[str, date], pl.DataFrame],
    expirers: int,
) -> tuple[list[DayWrite], list[BaseException], float]:
    """One thread per pair-day, each with its own catalog connection like a separate process,
    writing its pair-day once per version, while ``expirers`` threads expire snapshots in a loop
    (an operator's maintenance job next to the writers' own expiry). Returns the writes, every
    error of writers and expirers, and the longest write in seconds."""
    writes: list[DayWrite] = []
    errors: list[BaseException] = []
    longest = [0.0]
    done = threading.Event()

    def writer(symbol: str, day: date) -> None:
        catalog = open_catalog(uri, warehouse)
        for version in versions:
            started = time.monotonic()
            try:
                writes.append(write_day(catalog, CANDLES, symbol, day, version(frames[symbol, day])))
            except Exception as error:  # every error is checked by the test
                errors.append(error)
            longest[0] = max(longest[0], time.monotonic() - started)
        catalog.close()

    def expirer() -> None:
        catalog = open_catalog(uri, warehouse)
        table = open_table(catalog, CANDLES)
        while not done.is_set():
            try:
                expire_snapshots(table)
            except Exception as error:
                errors.append(error)
            time.sleep(0.01)
        catalog.close()

    writers = [threading.Thread(target=writer, args=pair_day) for pair_day in PAIR_DAYS]
    helpers = [threading.Thread(target=expirer) for _ in range(expirers)]
    for thread in writers + helpers:
        thread.start()
    for thread in writers:
        thread.join(120)
    done.set()
    for thread in helpers:
        thread.join(30)
    return writes, errors, longest[0]


def _version(trades_added: int) -> Callable[[pl.DataFrame], pl.DataFrame]:
    return lambda frame: frame.with_columns(pl.col("number_of_trades") + trades_added)


def test_contended_writers_and_expiries_never_fail_and_orphans_are_swept(tmp_path: Path) -> None:
    """Six threads write six pair-days of one table through one PostgreSQL catalog, four versions
    each, while two more threads expire snapshots in a loop (kept: 4, so expiries race each other
    and the writers' commits; the production table keeps 20). Every write lands and no expiry
    fails: losing a race to another expiry is redone (a writer) or skipped (an expiry), never a raw
    FileNotFoundError. The races leave orphan files. An hour later (the files' times set back an
    hour), two more contended rounds sweep them from the write path while the writers keep
    committing, and no file the table references goes missing."""
    frames = {pair_day: candles_frame(*pair_day) for pair_day in PAIR_DAYS}
    warehouse = str(tmp_path / "warehouse")
    with fresh_database("iceberg_edges") as uri:
        setup = open_catalog(uri, warehouse)
        table = open_table(setup, CANDLES)
        _set_properties(table, {KEEP_PROPERTY: "4", SWEEP_EVERY_PROPERTY: "4"})

        writes, errors, longest = _run_writers(uri, warehouse, [_version(n) for n in range(4)], frames, expirers=2)
        assert errors == [], "\n".join(_full_text(error) for error in errors)
        assert len(writes) == 4 * len(PAIR_DAYS)
        orphans = _orphans(table)
        assert orphans, "contended writes leave orphan files"
        assert all(write.orphan_files_removed == 0 for write in writes)  # all younger than an hour
        assert _missing(table) == []

        an_hour_ago = time.time() - 3600 - 60
        for path in _files_under(table):
            os.utime(_local(path), (an_hour_ago, an_hour_ago))
        more, errors, longest_more = _run_writers(uri, warehouse, [_version(n) for n in range(4, 6)], frames, expirers=1)

        assert errors == [], "\n".join(_full_text(error) for error in errors)
        assert sum(write.orphan_files_removed for write in more) >= len(orphans)
        assert not any(_local(path).exists() for path in orphans)
        assert _missing(table) == []
        stored = scan_table(setup, CANDLES).collect()
        for symbol, day in PAIR_DAYS:
            part = stored.filter((pl.col("trading_pair") == symbol) & (pl.col("candle_open_time").dt.date() == day))
            assert part.sort("candle_open_time").equals(_version(5)(frames[symbol, day]))
        assert len(table.inspect.files()) == len(PAIR_DAYS)
        # The safety age (an hour) dwarfs what a write takes from its first file to its commit.
        assert max(longest, longest_more) < 60
        setup.close()


def test_a_writer_whose_snapshots_were_expired_meanwhile_redoes_its_write(tmp_path: Path) -> None:
    """A writer holding the table from before other writers rebuilt a day three times and expired
    (kept: 1) the snapshots its view rests on finds their files gone: it redoes its overwrite from
    the new head instead of failing with a raw FileNotFoundError, and its rows are the day's."""
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}", str(tmp_path / "warehouse"))
    frame = candles_frame("BTCUSDT", DAY)
    write_day(catalog, CANDLES, "BTCUSDT", DAY, frame)
    _set_properties(open_table(catalog, CANDLES), {KEEP_PROPERTY: "1"})
    stale = open_table(catalog, CANDLES)
    for trades_added in (1, 2, 3):
        write_day(catalog, CANDLES, "BTCUSDT", DAY, _version(trades_added)(frame))

    result = write_table_day(stale, CANDLES, "BTCUSDT", DAY, _version(7)(frame))

    assert (result.attempts, result.data_files) == (2, 1)
    assert scan_table(catalog, CANDLES).collect().sort("candle_open_time").equals(_version(7)(frame))
    catalog.close()


# ---- orphan sweep ---------------------------------------------------------------------------------


def test_the_sweep_removes_old_orphans_only_bounded_per_call_on_s3(s3_server: MotoS3Server, tmp_path: Path) -> None:
    """On an S3 warehouse: files the table does not reference are removed once older than the
    safety age, at most ``max_files`` per call; referenced files, young orphans and a neighbouring
    table's files (same key prefix) are left alone."""
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    s3_server.create_bucket(bucket)
    s3 = s3_server.client()
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}", f"s3://{bucket}/tables", s3_server.env())
    frame = candles_frame("BTCUSDT", DAY)
    write_day(catalog, CANDLES, "BTCUSDT", DAY, frame)
    table = open_table(catalog, CANDLES)
    prefix = table.location().removeprefix(f"s3://{bucket}/")
    strays = [f"{prefix}/data/trading_pair=BTCUSDT/stray-{n}.parquet" for n in range(3)]
    neighbour = f"{prefix}_archive/data/kept.parquet"  # binance/candles_archive: another table
    for key in [*strays, neighbour]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"left by a crashed writer")
    live = sorted(referenced_files(table))

    assert remove_orphan_files(table).removed == 0  # younger than the default hour
    an_hour_later = int(time.time() * 1000) + 3600 * 1000 + 60_000
    first = remove_orphan_files(table, now_ms=an_hour_later, max_files=2)
    second = remove_orphan_files(table, now_ms=an_hour_later)

    assert (first.orphans, first.removed, second.orphans, second.removed) == (3, 2, 1, 1)
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert not keys & set(strays)
    assert neighbour in keys
    assert {path.removeprefix(f"s3://{bucket}/") for path in live} <= keys
    assert scan_table(catalog, CANDLES).collect().height == frame.height
    catalog.close()


# ---- catalog and warehouse failures while a day is written ----------------------------------------


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database("iceberg_edges") as uri:
        yield uri


def test_catalog_database_down_is_named_and_a_restart_is_survived(database: str, tmp_path: Path) -> None:
    relay = TcpRelay()
    uri = _with_password(database).replace(f":{PG['port']}/", f":{relay.port}/")
    catalog = open_catalog(uri, str(tmp_path / "warehouse"))
    frame = candles_frame("BTCUSDT", DAY)
    write_day(catalog, CANDLES, "BTCUSDT", DAY, frame)

    relay.stop()
    with pytest.raises(DayWriteFailed) as raised:
        write_day(catalog, CANDLES, "BTCUSDT", DAY, frame)
    _assert_named(raised.value, "down or unreachable", f"postgres:***@127.0.0.1:{relay.port}/",
                  (tmp_path / "warehouse").as_uri())

    back = TcpRelay(relay.port)  # the server is back: the pooled connections are dead, the catalog reconnects
    assert write_day(catalog, CANDLES, "BTCUSDT", DAY, frame).data_files == 1
    catalog.close()
    back.stop()


def test_a_refused_login_is_named_without_the_password(database: str, tmp_path: Path) -> None:
    """This server trusts every password, so a wrong one cannot be refused here; a role that may
    no longer log in is refused the same way (FATAL at connection time), as a rotated password is."""
    role = f"iceberg_writer_{uuid.uuid4().hex[:8]}"
    name = database.rsplit("/", 1)[1]
    _admin(f"CREATE ROLE {role} LOGIN")
    try:
        _admin(f'ALTER DATABASE "{name}" OWNER TO {role}')
        uri = f"postgresql://{role}:{PASSWORD}@{PG['host']}:{PG['port']}/{name}"
        catalog = open_catalog(uri, str(tmp_path / "warehouse"))
        frame = candles_frame("BTCUSDT", DAY)
        write_day(catalog, CANDLES, "BTCUSDT", DAY, frame)
        _admin(f"ALTER ROLE {role} NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")

        with pytest.raises(DayWriteFailed) as raised:
            write_day(catalog, CANDLES, "BTCUSDT", DAY, frame)
        _assert_named(raised.value, "refused the login", f"{role}:***@")
        catalog.close()
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(f"DROP ROLE IF EXISTS {role}")


def test_an_unknown_catalog_database_is_named(database: str, tmp_path: Path) -> None:
    catalog = open_catalog(_with_password(database), str(tmp_path / "warehouse"))
    frame = candles_frame("BTCUSDT", DAY)
    write_day(catalog, CANDLES, "BTCUSDT", DAY, frame)
    name = database.rsplit("/", 1)[1]
    _admin(f'DROP DATABASE "{name}" WITH (FORCE)')

    with pytest.raises(DayWriteFailed) as raised:
        write_day(catalog, CANDLES, "BTCUSDT", DAY, frame)
    _assert_named(raised.value, "does not exist", name)
    catalog.close()


def test_a_warehouse_that_is_not_writable_is_named(tmp_path: Path) -> None:
    """A warehouse path under a regular file: not writable by anyone, root included."""
    (tmp_path / "not-a-folder").write_text("a file")
    warehouse = tmp_path / "not-a-folder" / "tables"
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}", str(warehouse))
    with pytest.raises(DayWriteFailed) as raised:
        write_day(catalog, CANDLES, "BTCUSDT", DAY, candles_frame("BTCUSDT", DAY))
    _assert_named(raised.value, "not writable", warehouse.as_uri(), "sqlite:///")
    catalog.close()


def test_a_missing_s3_bucket_is_named_without_the_secret(s3_server: MotoS3Server, tmp_path: Path) -> None:
    aws = {**s3_server.env(), "AWS_SECRET_ACCESS_KEY": AWS_SECRET}
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}", "s3://no-such-bucket/tables", aws)
    with pytest.raises(DayWriteFailed) as raised:
        write_day(catalog, CANDLES, "BTCUSDT", DAY, candles_frame("BTCUSDT", DAY))
    _assert_named(raised.value, "bucket does not exist", "s3://no-such-bucket/tables", s3_server.url,
                  secrets=(AWS_SECRET,))
    catalog.close()


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("postgresql://reader:hunter2-secret@127.0.0.1:notaport/lake", "reader:***@127.0.0.1:notaport/lake"),
        ("hunter2-secret", "not a URL"),
        ("mysql://reader:hunter2-secret@127.0.0.1/lake", "no database driver for 'mysql'"),
    ],
)
def test_an_invalid_catalog_uri_is_named_without_its_password(uri: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(CatalogUnavailable) as raised:
        open_catalog(uri, str(tmp_path / "warehouse"))
    assert expected in str(raised.value) and "ICEBERG_CATALOG_URI" in str(raised.value)
    assert "hunter2-secret" not in _full_text(raised.value)


@pytest.mark.parametrize("warehouse", ["gs://bucket/tables", "s3a://bucket/tables", "s3:///tables"])
def test_an_invalid_warehouse_uri_is_refused_not_taken_for_a_folder(
    warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="ICEBERG_WAREHOUSE"):
        open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}", warehouse)
    assert [path.name for path in tmp_path.iterdir()] in ([], ["catalog.db"])
