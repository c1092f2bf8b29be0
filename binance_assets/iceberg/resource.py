"""The Iceberg catalog as a Dagster resource, configured from the environment when a run starts."""

import os

from dagster import ConfigurableResource
from pydantic import Field
from pyiceberg.catalog import Catalog

from binance_assets.settings import from_env
from binance_assets.iceberg.catalog import S3_PROPERTIES, open_catalog


class Warehouse(ConfigurableResource):
    """The Iceberg SQL catalog ``lake`` and the warehouse its tables' files live in."""

    catalog_uri: str = Field(
        default_factory=from_env("iceberg_catalog_uri"),
        description="SQLAlchemy URL of the catalog. Default: ICEBERG_CATALOG_URI, else sqlite:///data/catalog.db.",
    )
    warehouse: str = Field(
        default_factory=from_env("iceberg_warehouse"),
        description="Where table files live. Default: ICEBERG_WAREHOUSE, else {LAKE_URL}/tables.",
    )

    def catalog(self) -> Catalog:
        """The catalog, with the standard AWS variables of this process for an S3 warehouse."""
        aws = {name: os.environ[name] for name in S3_PROPERTIES if os.environ.get(name)}
        return open_catalog(self.catalog_uri, self.warehouse, aws)
