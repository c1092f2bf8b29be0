"""Shared fixtures: the emulator and moto's S3 server as real processes over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from binance_assets_tests.lake_backends import LakeUnderTest, local_lake, s3_lake
from binance_assets_tests.runs import API_KEY, API_SECRET
from binance_assets_tests.servers import MotoS3Server
from binance_emulator.process import EmulatorProcess


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """System tests start servers, CLIs, daemons and browsers and wait on them: they run one after
    another on one xdist worker (``--dist loadgroup``), beside the fast tests on the other, never
    two at once."""
    for item in items:
        if item.get_closest_marker("system"):
            item.add_marker(pytest.mark.xdist_group("system"))


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """One emulator for the session, with the tests' credentials. Tests that inject faults or
    change limits start their own with ``EmulatorProcess``."""
    with EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET) as process:
        yield process


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3Server]:
    with MotoS3Server() as server:
        yield server


@pytest.fixture
def lake(tmp_path) -> str:
    return str(tmp_path / "lake")


@pytest.fixture(params=["local", "s3"])
def any_lake(request, tmp_path) -> LakeUnderTest:
    """Each test that takes it runs twice: on a local lake and on an S3 lake (moto over HTTP)."""
    if request.param == "local":
        return local_lake(tmp_path / "lake")
    return s3_lake(request.getfixturevalue("s3_server"))
