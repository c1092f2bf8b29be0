"""The lake's IO manager: it only loads, handing a step the upstream hours of its partitions as a
lazy ``Hours`` mapping. Hourly assets store their own hours through the zones as they go (memory
stays a window, a killed run keeps what it stored). Where the hours live is the upstream asset's
``lake/*`` definition metadata, never parsed from an asset key.
"""

from typing import Any

from dagster import ConfigurableIOManager, InputContext, OutputContext, ResourceDependency

from binance_assets.lake.resource import Lake
from binance_assets.lake.storage import LakeError
from binance_assets.lake.zones import Hours, Place

ZONE, DATASET, SYMBOL, RAW_FILE = "lake/zone", "lake/dataset", "lake/symbol", "lake/raw_file"


def place_metadata(zone: str, place: Place) -> dict[str, str]:
    """What tells this IO manager (and the UI) where an asset's hours live."""
    return {ZONE: zone, DATASET: place.dataset, SYMBOL: place.symbol, RAW_FILE: place.raw_file}


class LakeIOManager(ConfigurableIOManager):
    """Loads an hourly asset's hours from its zone of the lake."""

    lake: ResourceDependency[Lake]

    def load_input(self, context: InputContext) -> Hours[Any]:
        metadata = context.upstream_output.definition_metadata
        place = Place(metadata[DATASET], metadata[SYMBOL], metadata[RAW_FILE])
        zone = self.lake.raw_zone() if metadata[ZONE] == "raw" else self.lake.cooked_zone()
        return Hours(list(context.asset_partition_keys), lambda key: zone.read(place, key))

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is not None:
            raise LakeError(
                f"{context.asset_key.to_user_string()} returned a value; hourly assets store their hours "
                f"through the lake zones and return MaterializeResult"
            )
