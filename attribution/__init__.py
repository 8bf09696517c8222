"""Attribution: sessions × shelf events × POS × RFID → baskets with a status per line, and
alerts for a person to review. Pure functions over core records (`storelens.records`): no
database, no network; the offline runner and the serving worker call the same code."""

from storelens.attribution.attribute import AttributionResult, attribute
from storelens.attribution.config import AttributionConfig
from storelens.attribution.online import Attributor
from storelens.attribution.paths import FloorPaths

__all__ = ["AttributionConfig", "AttributionResult", "Attributor", "FloorPaths", "attribute"]
