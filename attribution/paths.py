"""Where shoppers were on the floor: `FloorPaths`, and the zone visits attribution reads.

A path is a shopper's floor positions over time (the simulator writes the true ones; the
cross-camera shopper stage will write its own). Attribution needs two things from them: when
each shopper was inside a zone (a checkout lane, the exit gate) — `zone_visits` — and when they
were last seen (`last_seen`). Both are computed for all shoppers at once from the flat arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ZoneVisits:
    """Continuous stays inside one zone: shopper `shopper_id[i]` from `start[i]` to `end[i]`."""

    shopper_id: np.ndarray  # (V,) str
    start: np.ndarray  # (V,) float64, seconds since the epoch
    end: np.ndarray  # (V,) float64


@dataclass(frozen=True)
class FloorPaths:
    """Floor positions of shoppers: sample i is shopper `shopper_id[i]` at `xy[i]` (metres) at
    time `t[i]`. Sorted by shopper, then time (the constructor sorts)."""

    shopper_id: np.ndarray  # (N,) str
    t: np.ndarray  # (N,) float64
    xy: np.ndarray  # (N, 2) float64

    def __post_init__(self) -> None:
        n = len(self.t)
        if self.shopper_id.shape != (n,) or self.xy.shape != (n, 2):
            raise ValueError(
                f"FloorPaths: shopper_id {self.shopper_id.shape}, t {self.t.shape} and xy "
                f"{self.xy.shape} must be (N,), (N,), (N, 2)"
            )
        if n and not (np.isfinite(self.t).all() and np.isfinite(self.xy).all()):
            raise ValueError("FloorPaths: times and positions must be finite")
        order = np.lexsort((self.t, self.shopper_id))
        object.__setattr__(self, "shopper_id", self.shopper_id[order].astype(str))
        object.__setattr__(self, "t", self.t[order].astype(np.float64))
        object.__setattr__(self, "xy", self.xy[order].astype(np.float64))

    @classmethod
    def empty(cls) -> FloorPaths:
        return cls(np.array([], str), np.array([], float), np.zeros((0, 2)))

    def __len__(self) -> int:
        return len(self.t)

    def save(self, path: str | Path) -> Path:
        """Write an `.npz` (no pickled objects)."""
        path = Path(path)
        np.savez_compressed(path, shopper_id=self.shopper_id, t=self.t, xy=self.xy)
        return path

    @classmethod
    def load(cls, path: str | Path) -> FloorPaths:
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                return cls(data["shopper_id"], data["t"], data["xy"])
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f"{path}: not a floor-paths file ({err})") from None

    def _segment_starts(self) -> np.ndarray:
        """Indices where a new shopper's samples begin, with len(self) appended."""
        n = len(self)
        if n == 0:
            return np.array([0])
        change = np.flatnonzero(self.shopper_id[1:] != self.shopper_id[:-1]) + 1
        return np.concatenate([[0], change, [n]])

    def last_seen(self) -> dict[str, float]:
        """Each shopper's last sample time (where a path ends, they left or were lost)."""
        starts = self._segment_starts()
        if len(self) == 0:
            return {}
        ends = starts[1:] - 1
        return dict(zip(self.shopper_id[ends].tolist(), self.t[ends].tolist(), strict=True))

    def zone_visits(
        self, polygon: Sequence[Sequence[float]], margin_m: float = 0.0, max_gap_s: float = 1.5
    ) -> ZoneVisits:
        """Stays inside `polygon` grown by `margin_m`: runs of consecutive samples inside it,
        joined across gaps in the samples shorter than `max_gap_s`."""
        import shapely

        if len(self) == 0:
            return ZoneVisits(np.array([], str), np.array([]), np.array([]))
        zone = shapely.Polygon(polygon).buffer(margin_m)
        inside = shapely.contains_xy(zone, self.xy[:, 0], self.xy[:, 1])
        new_shopper = np.zeros(len(self), bool)
        new_shopper[self._segment_starts()[:-1]] = True
        gap = np.concatenate([[np.inf], np.diff(self.t)]) > max_gap_s
        previous_inside = np.concatenate([[False], inside[:-1]])
        opens = inside & (~previous_inside | new_shopper | gap)
        next_opens = np.concatenate([opens[1:], [True]])
        next_new = np.concatenate([new_shopper[1:], [True]])
        next_inside = np.concatenate([inside[1:], [False]])
        closes = inside & (~next_inside | next_new | next_opens)
        first, last = np.flatnonzero(opens), np.flatnonzero(closes)
        return ZoneVisits(self.shopper_id[first], self.t[first], self.t[last])
