"""The Iceberg catalog as a Dagster resource, configured from the settings when a run starts."""

from dagster import ConfigurableResource
from pydantic import Field
from pyiceberg.catalog import Catalog

from binance_assets.iceberg.catalog import open_catalog
from binance_assets.settings import current, from_env


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
        """The catalog, with the settings' S3 options for an S3 warehouse."""
        return open_catalog(self.catalog_uri, self.warehouse, current().s3.variables())
