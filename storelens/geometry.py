"""Camera and floor geometry as vectorised array functions.

Frames: the store frame has x along the floor's width, y along its depth, z up, in metres,
origin at a floor corner. Camera frames follow OpenCV (x right, y down, z forward), and a pose
is the world→camera transform `X_cam = R @ X_world + t`. Distortion is OpenCV's
(k1, k2, p1, p2, k3) model, so `project_points` agrees with `cv2.projectPoints`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

WORLD_UP = np.array([0.0, 0.0, 1.0])


def look_at_rotation(
    position: npt.ArrayLike, target: npt.ArrayLike, up: npt.ArrayLike = WORLD_UP
) -> np.ndarray:
    """World→camera rotation (3,3) of a camera at `position` looking at `target`.

    `up` is the world direction that should appear upward in the image; when the camera looks
    straight along it, world +y is used instead.
    """
    pos, tgt = np.asarray(position, float), np.asarray(target, float)
    forward = tgt - pos
    norm = np.linalg.norm(forward)
    if norm == 0:
        raise ValueError(f"look_at target {tgt.tolist()} equals the camera position")
    forward /= norm
    right = np.cross(forward, np.asarray(up, float))
    if np.linalg.norm(right) < 1e-9:
        right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def intrinsics_from_hfov(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """A pinhole K (3,3) with square pixels and the principal point at the image centre."""
    focal = (width / 2) / np.tan(np.radians(hfov_deg) / 2)
    return np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=float)


def _distort(xn: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Apply OpenCV's (k1, k2, p1, p2, k3) model to (N,2) normalised image points."""
    k1, k2, p1, p2, k3 = (list(dist) + [0.0] * 5)[:5]
    x, y = xn[:, 0], xn[:, 1]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=1)


def project_points(
    points_world: npt.ArrayLike,
    K: npt.ArrayLike,
    R: npt.ArrayLike,
    t: npt.ArrayLike,
    dist: npt.ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Project (N,3) world points into the image.

    Returns:
        pixels (N,2) and depth (N,) along the optical axis; points with depth <= 0 are behind
        the camera and their pixels are meaningless.
    """
    pts = np.asarray(points_world, float).reshape(-1, 3)
    cam = pts @ np.asarray(R, float).T + np.asarray(t, float).reshape(1, 3)
    depth = cam[:, 2]
    safe = np.where(np.abs(depth) < 1e-12, 1e-12, depth)
    normalised = cam[:, :2] / safe[:, None]
    if dist is not None and np.any(np.asarray(dist) != 0):
        normalised = _distort(normalised, np.asarray(dist, float))
    Km = np.asarray(K, float)
    pixels = normalised @ Km[:2, :2].T + Km[:2, 2]
    return pixels, depth


def apply_homography(H: npt.ArrayLike, points: npt.ArrayLike) -> np.ndarray:
    """Map (N,2) points through a 3x3 homography; points sent to infinity become NaN."""
    pts = np.asarray(points, float).reshape(-1, 2)
    homog = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ np.asarray(H, float).T
    w = homog[:, 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = homog[:, :2] / w
    out[np.abs(w[:, 0]) < 1e-12] = np.nan
    return out


def floor_to_image_homography(K: npt.ArrayLike, R: npt.ArrayLike, t: npt.ArrayLike) -> np.ndarray:
    """Homography (3,3) from floor points (x, y, z=0) to undistorted image pixels."""
    Rm = np.asarray(R, float)
    H = np.asarray(K, float) @ np.column_stack([Rm[:, 0], Rm[:, 1], np.asarray(t, float)])
    return H / H[2, 2]


def points_in_polygon(points: npt.ArrayLike, polygon: npt.ArrayLike) -> np.ndarray:
    """Even-odd test of (N,2) points against one (M,2) polygon → (N,) bool.

    Points exactly on an edge may fall either way, as with any ray-casting test.
    """
    pts = np.asarray(points, float).reshape(-1, 2)
    poly = np.asarray(polygon, float).reshape(-1, 2)
    x, y = pts[:, 0:1], pts[:, 1:2]
    xa, ya = poly[:, 0][None, :], poly[:, 1][None, :]
    xb, yb = np.roll(poly[:, 0], -1)[None, :], np.roll(poly[:, 1], -1)[None, :]
    straddles = (ya > y) != (yb > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = xa + (y - ya) * (xb - xa) / (yb - ya)
    crossings = straddles & (x < x_cross)
    return (np.count_nonzero(crossings, axis=1) % 2) == 1


def polygon_area(polygon: npt.ArrayLike) -> float:
    """Unsigned area of a simple (M,2) polygon (shoelace formula)."""
    p = np.asarray(polygon, float).reshape(-1, 2)
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def clip_polygon_to_rect(
    polygon: npt.ArrayLike, xmin: float, ymin: float, xmax: float, ymax: float
) -> np.ndarray:
    """Sutherland–Hodgman clip of a (M,2) polygon to an axis-aligned rectangle → (K,2)."""
    out = np.asarray(polygon, float).reshape(-1, 2)
    # (axis, bound, keep points with coordinate >= bound when sign is +1, <= when -1)
    for axis, bound, sign in ((0, xmin, 1), (0, xmax, -1), (1, ymin, 1), (1, ymax, -1)):
        if len(out) == 0:
            break
        start, end = out, np.roll(out, -1, axis=0)
        inside_start = sign * (start[:, axis] - bound) >= 0
        inside_end = sign * (end[:, axis] - bound) >= 0
        with np.errstate(divide="ignore", invalid="ignore"):  # parallel edges never cross
            frac = (bound - start[:, axis]) / (end[:, axis] - start[:, axis])
            crossing = start + frac[:, None] * (end - start)
        # each edge emits its start point when inside, then the crossing when it changes side
        emitted = np.stack([start, crossing], axis=1)
        keep = np.stack([inside_start, inside_start != inside_end], axis=1)
        out = emitted[keep].reshape(-1, 2)
    return out


@dataclass(frozen=True)
class CameraGeometry:
    """What is known of one camera's geometry, in arrays.

    Either a full pinhole model (K, dist, R, t) or only an image→floor homography. The pinhole
    model derives its own homography; a homography-only camera cannot project 3-D points.
    """

    width: int
    height: int
    K: np.ndarray | None = None
    dist: np.ndarray | None = None
    R: np.ndarray | None = None
    t: np.ndarray | None = None
    image_to_floor_H: np.ndarray | None = None

    @property
    def has_pose(self) -> bool:
        return self.K is not None and self.R is not None and self.t is not None

    @property
    def position(self) -> np.ndarray:
        """Camera centre in the store frame (3,), metres."""
        self._require_pose("position")
        assert self.R is not None and self.t is not None
        return -self.R.T @ self.t

    def _require_pose(self, what: str) -> None:
        if not self.has_pose:
            raise ValueError(
                f"{what} needs intrinsics and a pose; this camera has a homography only"
            )

    def project(self, points_world: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(N,3) store-frame points → pixels (N,2), depth (N,). See `project_points`."""
        self._require_pose("project")
        return project_points(points_world, self.K, self.R, self.t, self.dist)  # type: ignore[arg-type]

    def undistort_pixels(self, pixels: npt.ArrayLike) -> np.ndarray:
        """(N,2) distorted pixels → (N,2) pixels of the ideal pinhole camera with the same K."""
        pts = np.asarray(pixels, float).reshape(-1, 2)
        if self.K is None or self.dist is None or not np.any(self.dist) or len(pts) == 0:
            return pts
        return cv2.undistortPoints(pts[:, None, :], self.K, self.dist, P=self.K).reshape(-1, 2)

    def pixel_rays(self, pixels: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(N,2) pixels → the camera centre (3,) and unit ray directions (N,3) through them, in
        the store frame (lens distortion undone)."""
        self._require_pose("pixel_rays")
        assert self.K is not None and self.R is not None
        ideal = self.undistort_pixels(pixels)
        homogeneous = np.column_stack([ideal, np.ones(len(ideal))])
        cam = homogeneous @ np.linalg.inv(self.K).T
        world = cam @ self.R  # R maps store → camera; its transpose maps back
        return self.position, world / np.linalg.norm(world, axis=1, keepdims=True)

    def image_to_floor_homography(self) -> np.ndarray:
        if self.image_to_floor_H is not None:
            return self.image_to_floor_H
        self._require_pose("image_to_floor")
        return np.linalg.inv(floor_to_image_homography(self.K, self.R, self.t))  # type: ignore[arg-type]

    def image_to_floor(self, pixels: npt.ArrayLike) -> np.ndarray:
        """(N,2) image points (e.g. `boxes.foot_points`) → (N,2) floor points in metres."""
        return apply_homography(self.image_to_floor_homography(), self.undistort_pixels(pixels))

    def footprint(
        self,
        floor_rect: tuple[float, float, float, float],
        max_range: float = 30.0,
        samples_per_edge: int = 32,
    ) -> np.ndarray:
        """Floor area the camera sees, as a (K,2) polygon clipped to `floor_rect`.

        The image border is sampled; rays that miss the floor (above the horizon) or land
        farther than `max_range` metres are cut at that range.
        """
        w, h = self.width, self.height
        s = np.linspace(0, 1, samples_per_edge, endpoint=False)
        border = np.concatenate(
            [
                np.stack([s * w, np.zeros_like(s)], 1),
                np.stack([np.full_like(s, w), s * h], 1),
                np.stack([(1 - s) * w, np.full_like(s, h)], 1),
                np.stack([np.zeros_like(s), (1 - s) * h], 1),
            ]
        )
        if not self.has_pose:
            polygon = self.image_to_floor(border)
            polygon = polygon[np.isfinite(polygon).all(axis=1)]
            return clip_polygon_to_rect(polygon, *floor_rect)
        assert self.K is not None and self.R is not None
        ideal = self.undistort_pixels(border)
        rays_cam = np.concatenate(
            [(ideal - self.K[:2, 2]) / np.diag(self.K)[:2], np.ones((len(ideal), 1))], 1
        )
        rays = rays_cam @ self.R  # camera→world for row vectors: d_w = R^T d_c
        centre = self.position
        with np.errstate(divide="ignore", invalid="ignore"):  # horizontal rays never land
            scale = -centre[2] / rays[:, 2]
            hits = centre[:2] + scale[:, None] * rays[:, :2]
        horizontal = rays[:, :2] / np.maximum(
            np.linalg.norm(rays[:, :2], axis=1, keepdims=True), 1e-12
        )
        far = centre[:2] + max_range * horizontal
        dist = np.linalg.norm(hits - centre[:2], axis=1)
        use_far = ~((rays[:, 2] < 0) & (scale > 0) & (dist <= max_range))
        polygon = np.where(use_far[:, None], far, hits)
        return clip_polygon_to_rect(polygon, *floor_rect)
