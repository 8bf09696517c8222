"""Where a person box stands on the floor: its foot point through the camera's calibration, or,
where the feet cannot be in the box, its head point at a person's height.

    floor = floor_points(geometries, camera_ids, xyxy)   # foot points only
    locate = StandingPoints(geometries)
    floor, by_head = locate(camera_ids, xyxy)            # (N,2) metres, (N,) bool

A box's bottom edge is the feet only when nothing hides them. It is not when the box is cut
by the bottom of the picture, when its foot ray misses the floor, or when the box is far
shorter (under `short` of it) than a person `head_m` tall standing on its foot point would
be there: a shelf or another person hides the legs and the box ends above the feet, so its
foot point lands behind the person. For those boxes the top edge is used instead: the ray
through the box's top centre meets the plane at `head_m` (shoppers are 1.55–1.95 m in the
simulator), and the floor point is under that. Only cameras at least `HEAD_CLEARANCE_M` above
that plane use it (nearer, a head point says little); cameras with only a homography (no pose)
keep the foot point. Everything is in arrays per camera; no loop over boxes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from storelens.boxes import foot_points

if TYPE_CHECKING:
    from storelens.geometry import CameraGeometry

HEAD_M = 1.72  # the plane a box's top edge is taken to lie on
BORDER_PX = 2.0  # a box this close to the bottom of the picture is cut by it
HEAD_CLEARANCE_M = 1.0  # below this over the head plane a head point says little
SHORT = 0.9  # a box under this share of a standing person's height there has its feet hidden


def floor_points(
    geometries: dict[str, CameraGeometry], cams: np.ndarray, xyxy: np.ndarray
) -> np.ndarray:
    """(N,2) floor point of each box: its foot point through its camera's calibration; NaN
    for a camera without one."""
    floor = np.full((len(cams), 2), np.nan)
    feet = foot_points(xyxy)
    for camera in np.unique(cams).tolist():  # per camera, never per box
        geo = geometries.get(camera)
        if geo is not None:
            mine = cams == camera
            floor[mine] = geo.image_to_floor(feet[mine])
    return floor


class StandingPoints:
    """Floor points of person boxes, with the head used where the feet are hidden."""

    def __init__(
        self,
        geometries: dict[str, CameraGeometry],
        head_m: float = HEAD_M,
        short: float = SHORT,
    ) -> None:
        self.short = short
        self.geometries = geometries
        self.head_m = head_m

    def __call__(self, cams: np.ndarray, xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,2) floor point of each box (NaN for a camera without calibration) and (N,) True
        where it comes from the head."""
        floor = floor_points(self.geometries, cams, xyxy)
        by_head = np.zeros(len(cams), bool)
        for camera in np.unique(cams).tolist():  # per camera, never per box
            geo = self.geometries.get(camera)
            if geo is None:
                continue
            mine = np.flatnonzero(cams == camera)
            if not geo.has_pose or geo.position[2] - self.head_m < HEAD_CLEARANCE_M:
                continue
            hidden = self._feet_hidden(geo, xyxy[mine], floor[mine])
            if hidden.any():
                rows = mine[hidden]
                top = np.column_stack([(xyxy[rows, 0] + xyxy[rows, 2]) / 2, xyxy[rows, 1]])
                head = self._on_plane(geo, top, self.head_m)
                ok = np.isfinite(head[:, 0])
                floor[rows[ok]] = head[ok]
                by_head[rows[ok]] = True
        return floor, by_head

    def _feet_hidden(
        self, geo: CameraGeometry, xyxy: np.ndarray, foot_floor: np.ndarray
    ) -> np.ndarray:
        """(M,) the box's bottom edge cannot be the feet: cut by the picture, below the
        horizon, or the box far shorter than a person standing on its foot point would be."""
        hidden = (xyxy[:, 3] >= geo.height - BORDER_PX) | ~np.isfinite(foot_floor[:, 0])
        standing = np.column_stack([np.nan_to_num(foot_floor), np.full(len(xyxy), self.head_m)])
        top, depth = geo.project(standing)
        expected = xyxy[:, 3] - top[:, 1]
        short = (xyxy[:, 3] - xyxy[:, 1]) < self.short * expected
        return hidden | short | ~(depth > 0)

    @staticmethod
    def _on_plane(geo: CameraGeometry, pixels: np.ndarray, z: float) -> np.ndarray:
        """(M,2) floor position under where each pixel's ray meets the plane at height z;
        NaN where the ray does not come down to it."""
        centre, rays = geo.pixel_rays(pixels)
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = (z - centre[2]) / rays[:, 2]
        out = centre[None, :2] + reach[:, None] * rays[:, :2]
        out[~(reach > 0)] = np.nan
        return out
