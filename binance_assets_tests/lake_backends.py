"""The two lake backends the reliability tests run against (a local folder and moto's S3 over
HTTP), behind one small interface, and the clean lake every faulty run is compared with."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from binance_assets_tests.lake_files import local_files, s3_files
from binance_assets_tests.runs import ALL_ASSETS, failure_messages, lake_resources, run_hours
from binance_assets_tests.servers import MotoS3Server

# Retries that keep a faulty run fast: first backoff 50 ms, a request that takes 1 s has timed out.
FAST_RETRIES: dict[str, Any] = {"backoff_seconds": 0.05, "timeout_seconds": 1}


@dataclass(frozen=True)
class LakeUnderTest:
    """A lake root, how Dagster reaches it, and every file in it by key relative to the root."""

    url: str
    files: Callable[[], dict[str, bytes]]
    s3_endpoint: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def resources(self, api_url: str, **binance_options: Any) -> dict[str, Any]:
        return lake_resources(
            self.url, api_url, s3_endpoint=self.s3_endpoint, **{**FAST_RETRIES, **binance_options}
        )

    def process_env(self) -> dict[str, str]:
        """Environment for a ``dagster`` subprocess writing to this lake."""
        return {"LAKE_URL": self.url, **self.env}


def local_lake(root: Path) -> LakeUnderTest:
    return LakeUnderTest(url=str(root), files=lambda: local_files(str(root)))


def s3_lake(server: MotoS3Server) -> LakeUnderTest:
    """A lake under a fresh bucket, so tests never see each other's objects."""
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    server.create_bucket(bucket)
    return LakeUnderTest(
        url=f"s3://{bucket}/lake",
        files=lambda: s3_files(server.client(), bucket, "lake"),
        s3_endpoint=server.url,
        env=server.env(),
    )


def clean_lake_files(
    root: Path, api_url: str, start: str, end: str, assets: Sequence[Any] = ALL_ASSETS
) -> dict[str, bytes]:
    """The files a fault-free run of ``start...end`` writes: what every faulty run must equal."""
    lake = local_lake(root)
    result = run_hours(lake.resources(api_url), start, end, assets=assets)
    assert result.success, failure_messages(result)
    return lake.files()
