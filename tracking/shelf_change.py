"""Shelf changes: each facing's appearance in the cameras that see it, and whether a hand's visit
changed it.

    regions = facing_regions(volumes, geometries, layout)    # where each camera sees each facing
    monitor = ShelfChangeMonitor(regions)
    monitor.update(camera_id, t, image, person_boxes)       # every frame; samples every sample_s
    score = monitor.change(facing, t_before, t_after)       # None until seen clear after t_after

- **Regions**: a facing's front face (its slot of the unit's front edge, board to next board)
  projected into a camera. A camera sees a facing when the face is in front of it and inside
  the image, the camera stands on the aisle side of it, the face covers at least
  `min_area_px`, and no other shelf unit stands on the line of sight to its centre.
- **Appearance**: the face resampled onto a `PATCH` grid of cells (each the mean of 2 x 2
  samples), every colour channel normalised to zero mean and unit spread over the face. A change
  of exposure or white balance (gain and offset per channel) leaves it unchanged.
- **Clear views**: a cell inside a person's box is hidden; a sample is clear when at least
  `clear_share` of its cells are visible. The monitor keeps the last `history` samples per
  camera (with their visible cells).
- **Change score** of a facing between two times: per camera, the last clear sample before
  `t_before` against the first clear one after `t_after`, compared on the cells visible in
  both: 1 - their normalised cross-correlation (0 unchanged, 1 unrelated, up to 2). The
  camera that sees the face largest among those with both views decides.

Sampling is vectorised: one gather per camera per sample for every facing it sees.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from storelens.geometry import CameraGeometry, points_in_polygon

if TYPE_CHECKING:
    from storelens.facings import FacingVolumes
    from storelens.layout import StoreLayout

PATCH = (8, 12)  # rows (height) x columns (along the front) of a facing's appearance
SUB = 2  # samples per cell side
MIN_CELLS = 4  # fewer cells visible in both views: no comparison


@dataclass(frozen=True)
class FacingRegions:
    """Where one camera sees the facings it sees: (K,) facing indices and their pixel grids."""

    camera_id: str
    facing: np.ndarray  # (K,) int, index into the FacingVolumes
    corners: np.ndarray  # (K,4,2) pixels: bottom-left, bottom-right, top-right, top-left
    area_px: np.ndarray  # (K,)
    grid: np.ndarray  # (K, rows*SUB, cols*SUB, 2) pixel (x, y) of every sample

    def __len__(self) -> int:
        return len(self.facing)


def face_corners(volumes: FacingVolumes) -> np.ndarray:
    """(F,4,3) every facing's front face: bottom-left, bottom-right, top-right, top-left."""
    a = volumes.start
    b = volumes.start + volumes.along * volumes.width[:, None]
    lo, hi = volumes.z_low[:, None], volumes.z_high[:, None]
    return np.stack(
        [np.hstack([a, lo]), np.hstack([b, lo]), np.hstack([b, hi]), np.hstack([a, hi])], axis=1
    )


def _quad_area(q: np.ndarray) -> np.ndarray:
    x, y = q[..., 0], q[..., 1]
    return 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y, axis=-1))


def _blocked(
    camera: np.ndarray, targets: np.ndarray, own_shelf: np.ndarray, layout: StoreLayout
) -> np.ndarray:
    """(K,) whether another shelf unit stands between the camera (3,) and each target (K,3)."""
    s = np.linspace(0.02, 0.95, 40)
    points = camera[None, None] + (targets - camera)[:, None] * s[None, :, None]  # (K,S,3)
    blocked = np.zeros(len(targets), bool)
    for unit in layout.shelves:  # a few dozen units, once per camera
        inside = points_in_polygon(points[..., :2].reshape(-1, 2), unit.polygon).reshape(
            points.shape[:2]
        )
        below_top = points[..., 2] <= unit.height_m
        blocked |= np.any(inside & below_top, axis=1) & (own_shelf != unit.shelf_id)
    return blocked


def facing_regions(
    volumes: FacingVolumes,
    geometries: dict[str, CameraGeometry],
    layout: StoreLayout,
    min_area_px: float = 120.0,
) -> dict[str, FacingRegions]:
    """Per camera with a pose, the facings it sees (see the module docstring)."""
    corners3 = face_corners(volumes)
    centres = corners3.mean(axis=1)
    rows, cols = PATCH
    u = (np.arange(cols * SUB) + 0.5) / (cols * SUB)  # along the front, left to right
    v = (np.arange(rows * SUB) + 0.5) / (rows * SUB)  # top to bottom
    out = {}
    for camera_id, geo in geometries.items():
        if not geo.has_pose:
            continue
        pix, depth = geo.project(corners3.reshape(-1, 3))
        pix, depth = pix.reshape(-1, 4, 2), depth.reshape(-1, 4)
        inside = (
            (pix[..., 0] >= 0) & (pix[..., 0] < geo.width)
            & (pix[..., 1] >= 0) & (pix[..., 1] < geo.height)
        )  # fmt: skip
        cam = geo.position
        aisle_side = np.einsum("fk,fk->f", cam[None, :2] - volumes.start, volumes.inward) < 0
        area = _quad_area(pix)
        ok = np.all(depth > 0, axis=1) & np.all(inside, axis=1) & aisle_side
        ok &= area >= min_area_px
        idx = np.flatnonzero(ok)
        idx = idx[~_blocked(cam, centres[idx], volumes.shelf_id[idx], layout)]
        # sample points on the 3-D face (straight lines stay straight even with distortion)
        c = corners3[idx]
        bottom = c[:, 0, None] + (c[:, 1] - c[:, 0])[:, None] * u[None, :, None]  # (K,C,3)
        top = c[:, 3, None] + (c[:, 2] - c[:, 3])[:, None] * u[None, :, None]
        grid3 = top[:, None] + (bottom - top)[:, None] * v[None, :, None, None]  # (K,R,C,3)
        grid_pix, _ = geo.project(grid3.reshape(-1, 3)) if len(idx) else (np.zeros((0, 2)), 0)
        out[camera_id] = FacingRegions(
            camera_id,
            idx,
            pix[idx],
            area[idx],
            np.asarray(grid_pix).reshape(len(idx), rows * SUB, cols * SUB, 2),
        )
    return out


def appearance(image: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(K, rows, cols, 3) float32 cell colours of every region's grid (K, rows*SUB, cols*SUB, 2)."""
    h, w = image.shape[:2]
    x = np.clip(grid[..., 0].astype(np.int64), 0, w - 1)
    y = np.clip(grid[..., 1].astype(np.int64), 0, h - 1)
    samples = image[y, x].astype(np.float32)  # (K, R*SUB, C*SUB, 3)
    K, R, C = samples.shape[:3]
    return samples.reshape(K, R // SUB, SUB, C // SUB, SUB, 3).mean(axis=(2, 4))


def hidden_cells(grid: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(K, rows, cols) bool: cells whose centre lies inside any of the boxes (N,4 xyxy)."""
    K, R, C = grid.shape[0], grid.shape[1] // SUB, grid.shape[2] // SUB
    centre = grid.reshape(K, R, SUB, C, SUB, 2).mean(axis=(2, 4))
    if not len(boxes):
        return np.zeros((K, R, C), bool)
    x, y = centre[..., 0, None], centre[..., 1, None]
    b = np.asarray(boxes, float)
    return np.any((x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3]), axis=-1)


def change_scores(a: np.ndarray, b: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(K,) 1 - NCC per colour channel of appearances (K,R,C,3) over their `visible` (K,R,C)
    cells, averaged over the channels; NaN where fewer than `MIN_CELLS` are visible."""
    m = visible[..., None].astype(np.float32)
    n = m.sum(axis=(1, 2))  # (K,1)
    safe = np.maximum(n, 1.0)
    x = (a - ((a * m).sum(axis=(1, 2)) / safe)[:, None, None]) * m
    y = (b - ((b * m).sum(axis=(1, 2)) / safe)[:, None, None]) * m
    den = np.sqrt((x**2).sum(axis=(1, 2)) * (y**2).sum(axis=(1, 2))) + 1e-9
    score = 1.0 - ((x * y).sum(axis=(1, 2)) / den).mean(axis=-1)
    return np.where(n[:, 0] >= MIN_CELLS, score, np.nan)


def normalised_change(a: np.ndarray, b: np.ndarray, visible: np.ndarray) -> float:
    """`change_scores` of one pair of (rows, cols, 3) appearances."""
    return float(change_scores(a[None], b[None], visible[None])[0])


def sample_facings(
    region: FacingRegions, image: np.ndarray, person_boxes: np.ndarray, clear_share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One view of every facing a camera sees: its look (K,R,C,3), its cells outside the
    person boxes (K,R,C) and whether it is clear (K,): at least `clear_share` of them."""
    visible = ~hidden_cells(region.grid, person_boxes)
    clear = visible.mean(axis=(1, 2)) >= clear_share
    return appearance(image, region.grid), visible, clear


class ShelfChangeMonitor:
    """Samples every facing each camera sees and scores changes (see the module docstring)."""

    def __init__(
        self,
        regions: dict[str, FacingRegions],
        sample_s: float = 0.5,
        history: int = 120,
        clear_share: float = 0.6,
    ) -> None:
        self.regions, self.sample_s, self.clear_share = regions, sample_s, clear_share
        self._samples: dict[str, deque] = {c: deque(maxlen=history) for c in regions}
        self._last: dict[str, float] = {}
        self._row_of = {
            c: {int(f): i for i, f in enumerate(r.facing.tolist())} for c, r in regions.items()
        }

    def sees(self, facing: int) -> bool:
        return any(facing in rows for rows in self._row_of.values())

    def update(self, camera_id: str, t: float, image: np.ndarray, person_boxes: np.ndarray) -> None:
        """Sample `camera_id`'s frame at time t (skipped within `sample_s` of its last sample)."""
        region = self.regions.get(camera_id)
        if region is None or not len(region):
            return
        if t - self._last.get(camera_id, -np.inf) < self.sample_s - 1e-9:
            return
        self._last[camera_id] = t
        looks, visible, clear = sample_facings(region, image, person_boxes, self.clear_share)
        self._samples[camera_id].append((t, looks, visible, clear))

    def clear_samples(
        self, camera_id: str, facing: int
    ) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """(t, appearance, visible cells) of every clear sample of a facing in a camera."""
        row = self._row_of.get(camera_id, {}).get(facing)
        if row is None:
            return []
        return [
            (t, looks[row], visible[row])
            for t, looks, visible, clear in self._samples[camera_id]
            if clear[row]
        ]

    def change(
        self, facing: int, t_before: float, t_after: float, t_until: float = float("inf")
    ) -> float | None:
        """The facing's change score across [t_before, t_after] (the view after taken before
        `t_until`), None while no camera has a clear view on both sides (or none sees it)."""
        best: tuple[float, float] | None = None
        for camera_id, rows in self._row_of.items():
            if facing not in rows:
                continue
            clear = self.clear_samples(camera_id, facing)
            before = [s for s in clear if s[0] < t_before]
            after = [s for s in clear if t_after < s[0] < t_until]
            if not before or not after:
                continue
            _, a, va = before[-1]
            _, b, vb = after[0]
            score = normalised_change(a, b, va & vb)
            area = float(self.regions[camera_id].area_px[rows[facing]])
            if np.isfinite(score) and (best is None or area > best[0]):
                best = (area, score)
        return None if best is None else best[1]
