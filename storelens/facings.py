"""Each planogram facing's volume in the store frame: where a hand must be to touch its SKU.

    volumes = facing_volumes(layout)
    f = volumes.containing(points)          # (N,) facing index per 3-D point, -1 for none

A facing is one slot of one level of a shelf unit: along the unit's front edge it spans its
slot's share of the edge; in depth it runs from the front plane back to the unit's far side; in
height from its level's board to the next board up (the unit's top for the top level). A point
counts as inside when it lies within `reach_m` of that box: a wrist stops a few centimetres in
front of the products it takes, its hand past it. Where the margins of neighbours overlap, the
facing the point is inside (or nearest outside of) wins, then the one whose centre is nearest:
a hand at the bottom of a level, just above its board, is that level's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from storelens.layout import StoreLayout

REACH_M = 0.08


@dataclass(frozen=True)
class FacingVolumes:
    """F facings as arrays (metres, store frame)."""

    shelf_id: np.ndarray  # (F,) str
    level: np.ndarray  # (F,) int
    slot: np.ndarray  # (F,) int
    sku: np.ndarray  # (F,) str
    start: np.ndarray  # (F,2) floor point where the facing's front begins
    along: np.ndarray  # (F,2) unit vector along the front edge
    inward: np.ndarray  # (F,2) unit vector from the aisle into the shelf
    width: np.ndarray  # (F,)
    depth: np.ndarray  # (F,)
    z_low: np.ndarray  # (F,) its board
    z_high: np.ndarray  # (F,) the next board up, or the unit's top

    def __len__(self) -> int:
        return len(self.sku)

    def centres(self) -> np.ndarray:
        """(F,3) the middle of each facing's front face."""
        xy = self.start + self.along * (self.width / 2)[:, None]
        return np.column_stack([xy, (self.z_low + self.z_high) / 2])

    def containing(self, points: np.ndarray, reach_m: float = REACH_M) -> np.ndarray:
        """(N,) index of the facing each point (N,3) is in (see the module docstring), -1."""
        points = np.asarray(points, float).reshape(-1, 3)
        if not len(self) or not len(points):
            return np.full(len(points), -1)
        rel = points[:, None, :2] - self.start[None]  # (N,F,2)
        a = np.einsum("nfk,fk->nf", rel, self.along)
        d = np.einsum("nfk,fk->nf", rel, self.inward)
        z = points[:, 2:3]
        outside = np.sqrt(
            np.maximum.reduce([np.zeros_like(a), -a, a - self.width[None]]) ** 2
            + np.maximum.reduce([np.zeros_like(d), -d, d - self.depth[None]]) ** 2
            + np.maximum.reduce([np.zeros_like(a), self.z_low[None] - z, z - self.z_high[None]])
            ** 2
        )  # (N,F) metres from each facing's box, 0 inside
        gap = np.linalg.norm(points[:, None] - self.centres()[None], axis=2)
        rank = np.where(outside <= reach_m, outside + 1e-6 * gap, np.inf)
        best = np.argmin(rank, axis=1)
        return np.where(np.isfinite(rank[np.arange(len(points)), best]), best, -1)


def facing_volumes(layout: StoreLayout) -> FacingVolumes:
    cols: dict[str, list] = {k: [] for k in FacingVolumes.__dataclass_fields__}
    for shelf in layout.shelves:  # a few dozen units, once per store
        a, b = shelf.front_segment()
        length = float(np.linalg.norm(b - a))
        along = (b - a) / length
        normal = np.array([-along[1], along[0]])
        inward = normal if np.dot(np.mean(shelf.polygon, axis=0) - a, normal) > 0 else -normal
        depth = float(np.max((np.asarray(shelf.polygon, float) - a) @ inward))
        width = length / shelf.slots_per_level
        tops = [*shelf.levels[1:], shelf.height_m]
        for f in shelf.planogram:
            cols["shelf_id"].append(shelf.shelf_id)
            cols["level"].append(f.level)
            cols["slot"].append(f.slot)
            cols["sku"].append(f.sku)
            cols["start"].append(a + along * width * f.slot)
            cols["along"].append(along)
            cols["inward"].append(inward)
            cols["width"].append(width)
            cols["depth"].append(depth)
            cols["z_low"].append(shelf.levels[f.level])
            cols["z_high"].append(tops[f.level])

    def array(name: str) -> np.ndarray:
        if name in ("shelf_id", "sku"):
            return np.asarray(cols[name], dtype=object)
        if name in ("start", "along", "inward"):
            return np.asarray(cols[name], float).reshape(-1, 2)
        return np.asarray(cols[name], int if name in ("level", "slot") else float)

    return FacingVolumes(**{name: array(name) for name in cols})
