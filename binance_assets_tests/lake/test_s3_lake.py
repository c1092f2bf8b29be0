"""The lake on S3 (moto's server over HTTP): contract keys, single-run ranges, failures."""

from __future__ import annotations

import time
import uuid

import pytest
from dagster import PartitionKeyRange

from binance_assets.assets.pair import IO_MANAGER
from binance_assets.lake.io_manager import LakeIOManager
from binance_assets.lake.resource import Lake
from binance_assets.lake.zones import hour_folder
from binance_assets_tests.lake_files import local_files, s3_files
from binance_assets_tests.runs import ALL_ASSETS, HOURS, failure_messages, lake_resources, run_hours
from binance_assets_tests.servers import MotoS3Server, free_port

START, END = "2025-03-02-00:00", "2025-03-02-23:00"  # a day, including its busy orders hour (13:00)


def hours(start: str, end: str) -> list[str]:
    return HOURS.get_partition_keys_in_range(PartitionKeyRange(start, end))


def contract_keys(partitions: list[str]) -> set[str]:
    keys = set()
    for partition in partitions:
        for dataset, raw_file in (("candles", "klines.json"), ("orders", "orders.json")):
            raw = hour_folder("raw", dataset, "BTCUSDT", partition)
            keys |= {f"{raw}/{raw_file}", f"{raw}/_SUCCESS"}
            keys.add(f"{hour_folder('cooked', dataset, 'BTCUSDT', partition)}/data.parquet")
    return keys


@pytest.fixture
def bucket(s3_server) -> str:
    name = f"lake-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(name)
    return name


def test_range_on_s3_matches_contract_and_local_lake(emulator, s3_server, bucket, lake):
    s3 = lake_resources(f"s3://{bucket}/lake", emulator.url, s3_endpoint=s3_server.url)
    assert run_hours(s3, START, END, assets=ALL_ASSETS).success
    assert run_hours(s3, "2025-03-03-00:00", assets=ALL_ASSETS).success

    stored = s3_files(s3_server.client(), bucket, "lake")
    assert set(stored) == contract_keys(hours(START, END) + ["2025-03-03-00:00"])

    assert run_hours(lake_resources(lake, emulator.url), START, END, assets=ALL_ASSETS).success
    assert run_hours(lake_resources(lake, emulator.url), "2025-03-03-00:00", assets=ALL_ASSETS).success
    assert local_files(lake) == stored


def test_single_range_run_equals_one_run_per_hour(emulator, s3_server, bucket):
    start, end = "2025-03-04-21:00", "2025-03-05-02:00"  # 6 hours across midnight
    ranged = lake_resources(f"s3://{bucket}/ranged", emulator.url, s3_endpoint=s3_server.url)
    hourly = lake_resources(f"s3://{bucket}/hourly", emulator.url, s3_endpoint=s3_server.url)
    assert run_hours(ranged, start, end).success
    for partition in hours(start, end):
        assert run_hours(hourly, partition).success
    client = s3_server.client()
    ranged_files = s3_files(client, bucket, "ranged")
    assert len(ranged_files) == 6 * 3
    assert ranged_files == s3_files(client, bucket, "hourly")


def test_a_malformed_page_stores_none_of_its_hours_and_is_quarantined(emulator, s3_server, bucket):
    """A malformed row in the first page (middle row: hour 8 of the range) fails the run there;
    the page is refused as a whole, so none of the hours it covers is stored."""
    resources = lake_resources(f"s3://{bucket}/lake", emulator.url, s3_endpoint=s3_server.url)
    emulator.set_faults([{"kind": "bad_number", "path": "/api/v3/klines", "count": 1, "field": 2}])
    try:
        result = run_hours(resources, "2025-03-06-00:00", "2025-03-07-23:00")
    finally:
        emulator.reset()
    assert not result.success
    message = failure_messages(result)
    assert "2025-03-06-08:00" in message and "'high'" in message and "'abc'" in message

    stored = s3_files(s3_server.client(), bucket, "lake")
    assert not any(key.startswith(("raw/", "cooked/")) for key in stored)
    quarantined = [key for key in stored if key.startswith("quarantine/candles/")]
    assert len(quarantined) == 1 and "/day=06/hour=08/" in quarantined[0]


@pytest.mark.parametrize("problem", ["missing-bucket", "unreachable-endpoint", "bad-credentials"])
def test_storage_errors_name_bucket_and_endpoint(emulator, s3_server, problem):
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    if problem == "missing-bucket":
        resources = lake_resources(f"s3://{bucket}/lake", emulator.url, s3_endpoint=s3_server.url)
        endpoint = s3_server.url
        result, elapsed = _timed_run(resources)
    elif problem == "unreachable-endpoint":
        endpoint = f"http://127.0.0.1:{free_port()}"
        resources = lake_resources(f"s3://{bucket}/lake", emulator.url, s3_endpoint=endpoint)
        result, elapsed = _timed_run(resources)
    else:
        with MotoS3Server(check_credentials=True) as strict:
            endpoint = strict.url
            resources = lake_resources(f"s3://{bucket}/lake", emulator.url, s3_endpoint=endpoint)
            result, elapsed = _timed_run(resources)
    assert not result.success
    assert elapsed < 60  # bounded retries, never forever
    message = failure_messages(result)
    assert f"bucket {bucket!r}" in message and f"endpoint {endpoint}" in message


def _timed_run(resources):
    began = time.monotonic()
    result = run_hours(resources, "2025-03-01-00:00")
    return result, time.monotonic() - began


def test_s3_lake_without_s3_resource_is_named(emulator, lake):
    """An S3 LAKE_URL with IO managers built without dagster-aws's S3Resource fails the run with
    an error naming the lake URL and the missing resource, before anything is written."""
    resources = lake_resources(lake, emulator.url)
    resources["lake"] = Lake(url="s3://somewhere/lake")
    resources[IO_MANAGER] = LakeIOManager(lake=resources["lake"])
    result = run_hours(resources, "2025-03-01-00:00", "2025-03-01-00:00")
    assert not result.success
    message = failure_messages(result)
    assert "s3://somewhere/lake" in message and "S3Resource" in message
