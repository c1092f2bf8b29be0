"""The lake as a Dagster resource: its root (``LAKE_URL``) and, for S3, dagster-aws's client."""

from typing import Any

from dagster import ConfigurableResource, InitResourceContext, ResourceDependency
from pydantic import Field

from binance_assets import run_process
from binance_assets.lake.storage import LakeError, LakeStorage, open_lake
from binance_assets.lake.zones import CookedZone, RawZone
from binance_assets.settings import from_env, lake_root

_S3_CLIENTS: dict[str, Any] = {}


class Lake(ConfigurableResource):
    """The data lake: a local folder or ``s3://bucket/prefix``. Every step of the code location
    uses it, so it is also where a step process learns to exit with its run (``run_process``)."""

    url: str = Field(
        default_factory=from_env("lake_url"),
        description="Lake root: a local path or s3://bucket/prefix. Default: LAKE_URL, else data/lake.",
    )
    # dagster-aws's ``S3Resource``; typed loosely so a local lake never imports dagster-aws (≈ 0.7 s).
    s3: ResourceDependency[ConfigurableResource | None] = None

    def setup_for_execution(self, context: InitResourceContext) -> None:
        run_process.exit_with_run(context)

    def storage(self) -> LakeStorage:
        root = lake_root(self.url)
        return open_lake(root, lambda: self._s3_client(root))

    def raw_zone(self) -> RawZone:
        return RawZone(self.storage())

    def cooked_zone(self) -> CookedZone:
        return CookedZone(self.storage())

    def _s3_client(self, root: str) -> Any:
        """One (thread-safe) boto3 client per S3 configuration and process: one costs ~0.2 s."""
        if self.s3 is None:
            raise LakeError(
                f"LAKE_URL {root!r} is on S3 but the lake resource was given no s3 resource "
                f"(dagster_aws.s3.S3Resource)"
            )
        config = self.s3.model_dump_json()
        if config not in _S3_CLIENTS:
            _S3_CLIENTS[config] = self.s3.get_client()
        return _S3_CLIENTS[config]
