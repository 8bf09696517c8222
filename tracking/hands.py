"""Hands of tracked people: a wrist belongs to a skeleton, so each hand is its person track's by
construction; where the wrist drops out for a few frames the hand keeps its last place; a hand
seen from two or more cameras is triangulated, one seen once is put where its ray meets the
front plane of a shelf.

    linker = HandLinker()
    hands = linker.update("ceil-sw", frame, track_ids, keypoints)   # (N,17,3) per track
    points = locate_hands([hands, ...], geometries, person_of, shelf_planes(layout))

- **Hand point**: the wrist pushed `HAND_BEYOND_WRIST` of the forearm (elbow → wrist) further
  out, where the palm is — what touches a product. Without a confident elbow, the wrist itself.
- **Occlusion**: a wrist below `min_confidence` is replaced by the hand's last confident point
  for up to `hold_frames` frames of that camera, flagged `held`; after that the hand is absent
  until the wrist is seen again. Only a track present in the update has hands.
- **3-D**: observations at one instant are grouped by person (`person_of`, e.g. the
  cross-camera identity) and side; a group seen by two or more cameras is the least-squares
  meeting point of its rays, kept when the rays pass within `max_residual_m` of it (RMS);
  otherwise the first shelf front face its first ray crosses inside the unit's width and height.

Everything is vectorised over the tracks of an update and the hands of an instant (the loops
left run over cameras).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from storelens.geometry import CameraGeometry
from storelens.keypoints import LEFT_WRIST, N_KEYPOINTS, RIGHT_WRIST

if TYPE_CHECKING:
    from storelens.layout import StoreLayout

LEFT_ELBOW, RIGHT_ELBOW = 7, 8
HAND_BEYOND_WRIST = 0.25  # hand centre past the wrist, as a share of the forearm
TRIANGULATED, ON_SHELF_PLANE = 0, 1


@dataclass(frozen=True)
class HandObservations:
    """Hands seen by one camera at one frame: (M,) arrays, one row per (track, side)."""

    camera_id: str
    frame: int
    track_id: np.ndarray  # int
    side: np.ndarray  # int: 0 the person's left, 1 right
    xy: np.ndarray  # (M,2) pixels
    confidence: np.ndarray  # the wrist's (for a held hand: its last confident one)
    held: np.ndarray  # bool: carried over from an earlier frame

    def __len__(self) -> int:
        return len(self.track_id)


def hand_points(keypoints: np.ndarray, min_confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """(N,17,3) skeletons → hand points (N,2,2) and their confidences (N,2) (left, right)."""
    wrist = keypoints[:, [LEFT_WRIST, RIGHT_WRIST]]
    elbow = keypoints[:, [LEFT_ELBOW, RIGHT_ELBOW]]
    beyond = np.where(
        (elbow[..., 2:3] >= min_confidence),
        HAND_BEYOND_WRIST * (wrist[..., :2] - elbow[..., :2]),
        0,
    )
    return wrist[..., :2] + beyond, wrist[..., 2]


class HandLinker:
    """Hands per camera, kept through short wrist dropouts (see the module docstring)."""

    def __init__(self, min_confidence: float = 0.3, hold_frames: int = 5) -> None:
        if hold_frames < 0:
            raise ValueError(f"hold_frames: {hold_frames} must be >= 0")
        self.min_confidence, self.hold_frames = min_confidence, hold_frames
        # per camera: key = 2 * track + side (sorted), last confident point, confidence, frame
        self._state: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def update(
        self, camera_id: str, frame: int, track_ids: np.ndarray, keypoints: np.ndarray
    ) -> HandObservations:
        track_ids = np.asarray(track_ids, np.int64)
        keypoints = np.asarray(keypoints, float).reshape(len(track_ids), N_KEYPOINTS, 3)
        point, conf = hand_points(keypoints, self.min_confidence)
        key = (2 * track_ids[:, None] + np.arange(2)).ravel()
        point, conf = point.reshape(-1, 2), conf.ravel()
        seen = conf >= self.min_confidence
        keys0, xy0, conf0, frame0 = self._state.get(
            camera_id, (np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0), np.zeros(0, int))
        )
        pos = np.minimum(np.searchsorted(keys0, key), max(len(keys0) - 1, 0))
        known = (keys0[pos] == key) if len(keys0) else np.zeros(len(key), bool)
        recent = known & (frame - frame0[pos] <= self.hold_frames) if len(keys0) else known
        held = ~seen & recent
        out_xy = np.where(seen[:, None], point, xy0[pos] if len(keys0) else 0.0)
        out_conf = np.where(seen, conf, conf0[pos] if len(keys0) else 0.0)
        emit = seen | held
        # the new state: every hand seen now, and earlier ones still inside the hold window
        keep_old = (frame - frame0 <= self.hold_frames) & ~np.isin(keys0, key[seen])
        keys = np.concatenate([keys0[keep_old], key[seen]])
        order = np.argsort(keys, kind="stable")
        self._state[camera_id] = (
            keys[order],
            np.concatenate([xy0[keep_old], point[seen]])[order],
            np.concatenate([conf0[keep_old], conf[seen]])[order],
            np.concatenate([frame0[keep_old], np.full(seen.sum(), frame)])[order],
        )
        return HandObservations(
            camera_id,
            frame,
            key[emit] // 2,
            key[emit] % 2,
            out_xy[emit],
            out_conf[emit],
            held[emit],
        )


@dataclass(frozen=True)
class ShelfPlanes:
    """Each shelf unit's front face: a vertical rectangle over its front edge (U units)."""

    shelf_id: np.ndarray  # (U,) str
    start: np.ndarray  # (U,3) floor point where the front edge begins
    along: np.ndarray  # (U,3) unit vector along the edge
    width: np.ndarray  # (U,) edge length
    normal: np.ndarray  # (U,3) horizontal unit normal, out of the shelf into the aisle
    height: np.ndarray  # (U,)


def shelf_planes(layout: StoreLayout) -> ShelfPlanes:
    rows = []
    for unit in layout.shelves:
        poly = np.asarray(unit.polygon, float)
        a, b = poly[unit.front_edge], poly[(unit.front_edge + 1) % len(poly)]
        edge = b - a
        length = float(np.linalg.norm(edge))
        along = np.array([edge[0], edge[1], 0.0]) / length
        normal = np.array([along[1], -along[0], 0.0])
        if (poly.mean(axis=0) - a) @ normal[:2] > 0:  # point away from the unit's inside
            normal = -normal
        rows.append((unit.shelf_id, [a[0], a[1], 0.0], along, length, normal, unit.height_m))
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 6
    return ShelfPlanes(
        *(np.array(c, dtype=object if i == 0 else float) for i, c in enumerate(cols))
    )


@dataclass(frozen=True)
class HandPoints:
    """Hands in the store frame at one instant: one row per (person, side)."""

    person_id: np.ndarray  # (H,) int
    side: np.ndarray  # (H,) int
    xyz: np.ndarray  # (H,3) metres
    method: np.ndarray  # (H,) TRIANGULATED or ON_SHELF_PLANE
    cameras: np.ndarray  # (H,) how many cameras saw it
    shelf_id: np.ndarray  # (H,) object: the plane's shelf (None when triangulated)
    residual_m: np.ndarray  # (H,) rays' RMS distance to a triangulated point (0 on a plane)


def rays_onto_shelves(
    origins: np.ndarray, directions: np.ndarray, planes: ShelfPlanes
) -> tuple[np.ndarray, np.ndarray]:
    """Where each ray (M,3 origins and directions) first crosses a shelf front face inside its
    rectangle: points (M,3) (NaN where none) and the shelf index (M,; -1 where none)."""
    M, U = len(origins), len(planes.shelf_id)
    if U == 0 or M == 0:
        return np.full((M, 3), np.nan), np.full(M, -1)
    denom = directions @ planes.normal.T  # (M,U)
    gap = np.einsum("uk,uk->u", planes.start, planes.normal)[None] - origins @ planes.normal.T
    with np.errstate(divide="ignore", invalid="ignore"):
        s = gap / denom
    s = np.where((np.abs(denom) > 1e-12) & (s > 0), s, np.inf)
    points = origins[:, None] + directions[:, None] * np.where(np.isfinite(s), s, 0)[..., None]
    rel = points - planes.start[None]
    along = np.einsum("muk,uk->mu", rel, planes.along)
    inside = (
        (along >= 0) & (along <= planes.width[None]) & (points[..., 2] >= 0)
        & (points[..., 2] <= planes.height[None]) & np.isfinite(s)
    )  # fmt: skip
    s = np.where(inside, s, np.inf)
    first = np.argmin(s, axis=1)
    hit = np.isfinite(s[np.arange(M), first])
    where = np.where(hit[:, None], points[np.arange(M), first], np.nan)
    return where, np.where(hit, first, -1)


def locate_hands(
    observations: list[HandObservations],
    geometries: dict[str, CameraGeometry],
    person_of: dict[str, tuple[np.ndarray, np.ndarray]],
    planes: ShelfPlanes,
    max_residual_m: float = 0.1,
) -> HandPoints:
    """Hands of one instant in 3-D (see the module docstring). `person_of[camera_id]` =
    (track ids, person ids): which person seen across cameras each track is; a track it lacks
    is a person of its own (a negative id), seen by that camera only."""
    parts = [o for o in observations if len(o)]
    if not parts:
        z = np.zeros(0)
        return HandPoints(z.astype(int), z.astype(int), np.zeros((0, 3)), z.astype(int),
                          z.astype(int), np.zeros(0, object), z)  # fmt: skip
    origins, directions, persons, sides = [], [], [], []
    own = 0
    for obs in parts:  # one entry per camera
        origin, dirs = geometries[obs.camera_id].pixel_rays(obs.xy)
        tracks, people = person_of.get(obs.camera_id, (np.zeros(0, int), np.zeros(0, int)))
        order = np.argsort(tracks)
        pos = np.minimum(np.searchsorted(tracks[order], obs.track_id), max(len(tracks) - 1, 0))
        found = (tracks[order][pos] == obs.track_id) if len(tracks) else np.zeros(len(obs), bool)
        # a track with no cross-camera identity is its own person: fresh negative ids
        fresh = -(own + 1 + np.unique(obs.track_id, return_inverse=True)[1])
        own += len(np.unique(obs.track_id))
        persons.append(np.where(found, people[order][pos] if len(tracks) else 0, fresh))
        origins.append(np.broadcast_to(origin, dirs.shape))
        directions.append(dirs)
        sides.append(obs.side)
    o, d = np.concatenate(origins), np.concatenate(directions)
    person, side = np.concatenate(persons), np.concatenate(sides)
    keys, group = np.unique(np.column_stack([person, side]), axis=0, return_inverse=True)
    group = group.ravel()
    G = len(keys)
    count = np.bincount(group, minlength=G)
    # least squares per group: sum (I - d d^T) p = sum (I - d d^T) o
    proj = np.eye(3)[None] - d[:, :, None] * d[:, None, :]
    A = np.zeros((G, 3, 3))
    b = np.zeros((G, 3))
    np.add.at(A, group, proj)
    np.add.at(b, group, np.einsum("mij,mj->mi", proj, o))
    multi = count >= 2
    point = np.full((G, 3), np.nan)
    if multi.any():
        point[multi] = np.linalg.solve(A[multi], b[multi][..., None])[..., 0]
    off = np.einsum("mij,mj->mi", proj, np.nan_to_num(point[group]) - o)
    residual = np.sqrt(np.bincount(group, (off**2).sum(axis=1), G) / count)
    triangulated = multi & (residual <= max_residual_m)
    # the rest: the group's first ray onto the shelf faces
    first_ray = np.full(G, len(group))
    np.minimum.at(first_ray, group, np.arange(len(group)))
    on_plane, shelf = rays_onto_shelves(o[first_ray], d[first_ray], planes)
    xyz = np.where(triangulated[:, None], point, on_plane)
    shelf_id = np.array(
        [None] * G if not len(planes.shelf_id) else planes.shelf_id[np.maximum(shelf, 0)],
        dtype=object,
    )
    shelf_id[triangulated | (shelf < 0)] = None
    return HandPoints(
        keys[:, 0],
        keys[:, 1],
        xyz,
        np.where(triangulated, TRIANGULATED, ON_SHELF_PLANE),
        count,
        shelf_id,
        np.where(triangulated, residual, 0.0),
    )
