"""A z-buffered rasteriser for one pinhole camera, with lens distortion applied afterwards.

Every face is filled with its exact planar depth per pixel (not one depth per object), so a
hand in front of a shelf, a person behind another or a product behind a board occlude each
other as they would in a photo. Along with the colour image it writes an object-id buffer:
ground-truth boxes and visibilities are read from that buffer, so they are, by construction,
the projection of each object's 3-D extent clipped by whatever is in front of it.

The scene is rendered undistorted on a canvas with a margin, then warped through the camera's
OpenCV distortion model (`cv2.remap`) to the output resolution: colours bilinearly, object
ids by nearest neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from storelens.datasets.sim.scene import CUBOID_FACES, FACE_SHADE, Primitives
from storelens.geometry import CameraGeometry

NEAR_M = 0.05
FAR = np.float32(1e9)
SUBPIXEL_BITS = 4
# Texture corners (bottom-left, bottom-right, top-right, top-left) → cuboid corner indices per face,
# so an image on a face reads left to right for someone looking at that face from outside.
TEXTURE_CORNERS = np.array(
    [[2, 0, 4, 6], [1, 3, 7, 5], [0, 1, 5, 4], [3, 2, 6, 7], [0, 1, 3, 2], [4, 5, 7, 6]]
)
# the same corners as positions within each face's own vertex list (what a projected face holds)
TEXTURE_ORDER = np.argmax(CUBOID_FACES[:, None, :] == TEXTURE_CORNERS[:, :, None], axis=2)


@dataclass
class Layers:
    """Canvas-sized colour (H,W,3) uint8, depth (H,W) float32 and object ids (H,W) int32."""

    colour: np.ndarray
    depth: np.ndarray
    oid: np.ndarray

    def copy(self) -> Layers:
        return Layers(self.colour.copy(), self.depth.copy(), self.oid.copy())


def _clip_near(points: np.ndarray) -> np.ndarray:
    """Clip a camera-frame polygon (n,3) to z >= NEAR_M (one Sutherland–Hodgman pass)."""
    out = []
    n = len(points)
    for i in range(n):
        a, b = points[i], points[(i + 1) % n]
        a_in, b_in = a[2] >= NEAR_M, b[2] >= NEAR_M
        if a_in:
            out.append(a)
        if a_in != b_in:
            s = (NEAR_M - a[2]) / (b[2] - a[2])
            out.append(a + s * (b - a))
    return np.array(out).reshape(-1, 3)


class CameraRenderer:
    """Renders `Primitives` as one camera sees them. See the module docstring."""

    def __init__(self, geometry: CameraGeometry) -> None:
        if not geometry.has_pose:
            raise ValueError("rendering needs intrinsics and a pose, not just a homography")
        assert geometry.K is not None and geometry.R is not None and geometry.t is not None
        self.geometry = geometry
        self.R, self.t = geometry.R, geometry.t
        self.out_size = (geometry.width, geometry.height)
        dist = geometry.dist if geometry.dist is not None else np.zeros(5)
        self.distorted = bool(np.any(dist))
        K = geometry.K
        if self.distorted:
            # where each output (distorted) pixel samples the ideal pinhole image
            xs, ys = np.meshgrid(
                np.arange(geometry.width, dtype=np.float64),
                np.arange(geometry.height, dtype=np.float64),
            )
            grid = np.stack([xs.ravel(), ys.ravel()], axis=1)[:, None, :]
            ideal = cv2.undistortPoints(grid, K, dist, P=K).reshape(
                geometry.height, geometry.width, 2
            )
            lo = np.floor(ideal.reshape(-1, 2).min(axis=0)) - 2
            hi = np.ceil(ideal.reshape(-1, 2).max(axis=0)) + 2
            pad = np.maximum(0, -lo).astype(int)
            size = (np.maximum(hi, [geometry.width, geometry.height]) + pad).astype(int)
            self.map_x = (ideal[..., 0] + pad[0]).astype(np.float32)
            self.map_y = (ideal[..., 1] + pad[1]).astype(np.float32)
        else:
            pad = np.zeros(2, int)
            size = np.array([geometry.width, geometry.height])
        self.pad = pad
        self.canvas_size = (int(size[0]), int(size[1]))
        self.K = K.copy()
        self.K[0, 2] += pad[0]
        self.K[1, 2] += pad[1]
        # canvas pixels that some output pixel samples: the part of the canvas the camera shows
        if self.distorted:
            in_view = np.zeros((self.canvas_size[1], self.canvas_size[0]), np.uint8)
            xi = np.clip(np.round(self.map_x).astype(int), 0, self.canvas_size[0] - 1)
            yi = np.clip(np.round(self.map_y).astype(int), 0, self.canvas_size[1] - 1)
            in_view[yi, xi] = 1
            self.in_view = cv2.dilate(in_view, np.ones((3, 3), np.uint8)).astype(bool)
        else:
            self.in_view = np.ones((self.canvas_size[1], self.canvas_size[0]), bool)
        W, H = self.canvas_size
        self._u = np.arange(W, dtype=np.float32)
        self._v = np.arange(H, dtype=np.float32)

    # -------------------------------------------------------------- buffers
    def blank(self, colour: tuple[int, int, int] = (222, 224, 226)) -> Layers:
        W, H = self.canvas_size
        col = np.empty((H, W, 3), np.uint8)
        col[:] = colour
        return Layers(col, np.full((H, W), FAR, np.float32), np.zeros((H, W), np.int32))

    def floor(self, floor_texture: np.ndarray, px_per_m: float) -> Layers:
        """The floor plane (z=0) textured with an image in floor coordinates."""
        layers = self.blank()
        K, R, t = self.K, self.R, self.t
        H_floor = K @ np.column_stack([R[:, 0], R[:, 1], t])  # floor metres → canvas pixels
        scale = np.diag([1 / px_per_m, 1 / px_per_m, 1.0])
        H_tex = H_floor @ scale
        W, Hc = self.canvas_size
        warped = cv2.warpPerspective(
            floor_texture,
            H_tex,
            (W, Hc),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(70, 70, 70),
        )
        # depth of the floor plane along each canvas ray
        n_cam = R[:, 2]  # floor normal (world z) in the camera frame
        d = float(n_cam @ t)  # plane: n·X = n·t  (X_cam of the world origin is t)
        denom = self._plane_denominator(n_cam, 0, 0, W, Hc)
        with np.errstate(divide="ignore"):
            depth = d / denom
        visible = depth > NEAR_M
        layers.colour[visible] = warped[visible]
        layers.depth[visible] = depth[visible].astype(np.float32)
        return layers

    def _plane_denominator(self, n: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
        a, b = n[0] / fx, n[1] / fy
        c = n[2] - n[0] * cx / fx - n[1] * cy / fy
        return (b * self._v[y0:y1, None] + c) + a * self._u[None, x0:x1]

    # ------------------------------------------------------------ drawing
    def draw(self, layers: Layers, prims: Primitives, solo: dict[int, list] | None = None) -> None:
        """Rasterise primitives into `layers` (in place).

        When `solo` is given, each labelled object's own silhouette pieces are appended to
        `solo[oid]` as (x0, y0, mask) so its unoccluded area can be measured.
        """
        self._draw_cuboids(layers, prims, solo)
        self._draw_spheres(layers, prims, solo)

    def _draw_cuboids(
        self, layers: Layers, prims: Primitives, solo: dict[int, list] | None
    ) -> None:
        M = len(prims.corners)
        if M == 0:
            return
        cam = prims.corners @ self.R.T + self.t  # (M,8,3)
        faces = cam[:, CUBOID_FACES]  # (M,6,4,3)
        centre = cam.mean(axis=1)  # (M,3)
        face_centre = faces.mean(axis=2)
        normal = np.cross(faces[:, :, 1] - faces[:, :, 0], faces[:, :, 3] - faces[:, :, 0])
        outward = np.einsum("mfi,mfi->mf", normal, face_centre - centre[:, None])
        normal = np.where(outward[..., None] < 0, -normal, normal)
        facing = np.einsum("mfi,mfi->mf", normal, face_centre) < 0
        nonzero = np.linalg.norm(normal, axis=2) > 1e-12
        ahead = (faces[..., 2] > NEAR_M).any(axis=2)
        z = np.maximum(faces[..., 2], NEAR_M)
        px = faces[..., :2] / z[..., None] @ self.K[:2, :2].T + self.K[:2, 2]
        W, H = self.canvas_size
        onscreen = (
            (px[..., 0].max(axis=2) >= 0)
            & (px[..., 0].min(axis=2) < W)
            & (px[..., 1].max(axis=2) >= 0)
            & (px[..., 1].min(axis=2) < H)
        )
        todo = np.argwhere(facing & nonzero & ahead & onscreen)
        for m, f in todo:
            tex = prims.face_texture[m, f]
            self._draw_face(
                layers,
                faces[m, f],
                normal[m, f],
                prims.face_colour[m, f],
                prims.textures[tex] if tex >= 0 else None,
                f,
                m,
                prims,
                solo,
            )

    def _draw_face(
        self,
        layers: Layers,
        pts: np.ndarray,
        normal: np.ndarray,
        colour: np.ndarray,
        texture: np.ndarray | None,
        face: int,
        m: int,
        prims: Primitives,
        solo: dict[int, list] | None,
    ) -> None:
        if (pts[:, 2] < NEAR_M).any():
            pts = _clip_near(pts)
            texture = None
            if len(pts) < 3:
                return
        px = pts[:, :2] / pts[:, 2:3] @ self.K[:2, :2].T + self.K[:2, 2]
        W, H = self.canvas_size
        x0, y0 = max(int(np.floor(px[:, 0].min())), 0), max(int(np.floor(px[:, 1].min())), 0)
        x1, y1 = min(int(np.ceil(px[:, 0].max())) + 1, W), min(int(np.ceil(px[:, 1].max())) + 1, H)
        if x1 <= x0 or y1 <= y0:
            return
        local = px - (x0, y0)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(
            mask,
            np.round(local * (1 << SUBPIXEL_BITS)).astype(np.int32),
            1,
            cv2.LINE_8,
            SUBPIXEL_BITS,
        )
        inside = mask.view(bool)
        if not inside.any():
            return
        with np.errstate(divide="ignore", invalid="ignore"):
            depth = float(normal @ pts[0]) / self._plane_denominator(normal, x0, y0, x1, y1)
        zbuf = layers.depth[y0:y1, x0:x1]
        win = inside & (depth < zbuf) & (depth > NEAR_M)
        oid = int(prims.cuboid_oid[m])
        if solo is not None and oid > 0:
            solo.setdefault(oid, []).append((x0, y0, inside.copy()))
        if not win.any():
            return
        zbuf[win] = depth[win]
        layers.oid[y0:y1, x0:x1][win] = oid
        if texture is not None:
            th, tw = texture.shape[:2]
            src = np.float32([[0, th], [tw, th], [tw, 0], [0, 0]])
            dst = local[TEXTURE_ORDER[face]].astype(np.float32)
            warped = cv2.warpPerspective(
                texture,
                cv2.getPerspectiveTransform(src, dst),
                (x1 - x0, y1 - y0),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            shaded = warped[win].astype(np.float32) * FACE_SHADE[face]
            layers.colour[y0:y1, x0:x1][win] = np.clip(shaded, 0, 255).astype(np.uint8)
        else:
            layers.colour[y0:y1, x0:x1][win] = np.clip(colour, 0, 255).astype(np.uint8)

    def _draw_spheres(
        self, layers: Layers, prims: Primitives, solo: dict[int, list] | None
    ) -> None:
        S = len(prims.sphere_centre)
        if S == 0:
            return
        cam = prims.sphere_centre @ self.R.T + self.t
        r = prims.sphere_radius
        fx = self.K[0, 0]
        W, H = self.canvas_size
        with np.errstate(divide="ignore", invalid="ignore"):
            centre_px = cam[:, :2] / cam[:, 2:3] @ self.K[:2, :2].T + self.K[:2, 2]
            radius_px = fx * r / cam[:, 2]
        ok = (
            (cam[:, 2] - r > NEAR_M)
            & (centre_px[:, 0] + radius_px >= 0)
            & (centre_px[:, 0] - radius_px < W)
            & (centre_px[:, 1] + radius_px >= 0)
            & (centre_px[:, 1] - radius_px < H)
        )
        for s in np.flatnonzero(ok):
            cx, cy, rp = centre_px[s, 0], centre_px[s, 1], max(radius_px[s], 0.5)
            x0, y0 = max(int(np.floor(cx - rp)), 0), max(int(np.floor(cy - rp)), 0)
            x1, y1 = min(int(np.ceil(cx + rp)) + 1, W), min(int(np.ceil(cy + rp)) + 1, H)
            if x1 <= x0 or y1 <= y0:
                continue
            du = self._u[None, x0:x1] - cx
            dv = self._v[y0:y1, None] - cy
            rho2 = (du * du + dv * dv) / (rp * rp)
            inside = rho2 <= 1.0
            if not inside.any():
                continue
            depth = cam[s, 2] - r[s] * np.sqrt(np.clip(1.0 - rho2, 0, 1))
            zbuf = layers.depth[y0:y1, x0:x1]
            win = inside & (depth < zbuf)
            oid = int(prims.sphere_oid[s])
            if solo is not None and oid > 0:
                solo.setdefault(oid, []).append((x0, y0, inside))
            if not win.any():
                continue
            zbuf[win] = depth[win]
            layers.oid[y0:y1, x0:x1][win] = oid
            shade = (1.0 - 0.35 * rho2[win])[:, None]
            layers.colour[y0:y1, x0:x1][win] = np.clip(
                prims.sphere_colour[s] * shade, 0, 255
            ).astype(np.uint8)

    # --------------------------------------------------------------- output
    def to_output(self, layers: Layers) -> tuple[np.ndarray, np.ndarray]:
        """Canvas → output resolution through the lens distortion: (colour, object ids)."""
        if not self.distorted:
            return layers.colour, layers.oid
        colour = cv2.remap(
            layers.colour, self.map_x, self.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        oid = cv2.remap(
            layers.oid.view(np.float32),
            self.map_x,
            self.map_y,
            cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        ).view(np.int32)
        return colour, oid

    def solo_areas(self, solo: dict[int, list]) -> dict[int, int]:
        """Unoccluded pixel area of each object from its silhouette pieces (union, not sum)."""
        areas = {}
        for oid, pieces in solo.items():
            if len(pieces) == 1:
                areas[oid] = int(pieces[0][2].sum())
                continue
            x0 = min(p[0] for p in pieces)
            y0 = min(p[1] for p in pieces)
            x1 = max(p[0] + p[2].shape[1] for p in pieces)
            y1 = max(p[1] + p[2].shape[0] for p in pieces)
            union = np.zeros((y1 - y0, x1 - x0), bool)
            for px, py, mask in pieces:
                union[py - y0 : py - y0 + mask.shape[0], px - x0 : px - x0 + mask.shape[1]] |= mask
            areas[oid] = int(union.sum())
        return areas
