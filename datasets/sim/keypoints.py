"""Keypoint ground truth: the simulated body's joints in COCO-17 order, per person and camera frame.

The body model (`body.body_frames`) has shoulders, elbows, wrists, hips, knees and ankles; its
head is a sphere without a face, so COCO's nose, eyes and ears are unlabelled (v = 0, x = y = 0,
as COCO writes a joint nobody annotated). A labelled joint is projected through the camera's
calibration, lens distortion included, and gets its visibility from the renderer's buffers at
that pixel of the undistorted canvas:

- v = 2: the pixel shows the person (body or own hand) no more than `SELF_OCCLUSION_M` in front
  of the joint (a joint lies inside its limb, so the surface seen is a few cm nearer);
- v = 1: inside the image, hidden by something else or by the person's own body (an elbow
  behind the torso);
- v = 0: outside the image or behind the camera.

Files: `cameras/<camera>/gt/keypoints.txt` (`formats.keypoints`: one row per person box and
frame) and, for the run, `wrists_3d.csv` (every active person's wrists in the store frame at
every timeline frame).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from storelens.datasets.sim.body import BodyFrame, body_frames
from storelens.datasets.sim.render import CameraRenderer
from storelens.geometry import project_points
from storelens.keypoints import N_KEYPOINTS

if TYPE_CHECKING:
    from storelens.datasets.sim.behaviour import Timeline

LABELLED = np.array([False] * 5 + [True] * 12)
SELF_OCCLUSION_M = 0.15
NEAR_M = 0.05
WRISTS_FILE = "wrists_3d.csv"
WRISTS_HEADER = "timeline_index,t,id,side,x,y,z"


def coco_joints(body: BodyFrame) -> np.ndarray:
    """(P,17,3) store-frame joints in COCO order; NaN for the face points the model lacks."""
    P = len(body.shoulder)
    joints = np.full((P, N_KEYPOINTS, 3), np.nan)
    for first, part in zip(
        (5, 7, 9, 11, 13, 15),
        (body.shoulder, body.elbow, body.wrist, body.hip, body.knee, body.ankle),
        strict=True,
    ):
        joints[:, first : first + 2] = part
    return joints


def project_keypoints(
    joints: np.ndarray,
    owner_oids: np.ndarray,
    renderer: CameraRenderer,
    canvas_oid: np.ndarray,
    canvas_depth: np.ndarray,
) -> np.ndarray:
    """(P,17,3) joints → (P,17,3) `x, y, v` in output pixels (see the module docstring).

    `owner_oids` (P,O): the object ids that count as each person's own (body, both hands);
    `canvas_oid` / `canvas_depth`: the renderer's buffers of this frame (`View`).
    """
    P = len(joints)
    out = np.zeros((P, N_KEYPOINTS, 3))
    labelled = np.broadcast_to(LABELLED, (P, N_KEYPOINTS)) & np.isfinite(joints[..., 0])
    if not labelled.any():
        return out
    pts = joints[labelled]
    pixels, depth = renderer.geometry.project(pts)
    canvas, _ = project_points(pts, renderer.K, renderer.R, renderer.t, None)
    W, H = renderer.out_size
    inside = (
        (depth > NEAR_M)
        & (pixels[:, 0] >= 0)
        & (pixels[:, 0] < W)
        & (pixels[:, 1] >= 0)
        & (pixels[:, 1] < H)
    )
    ch, cw = canvas_oid.shape
    cu = np.clip(np.floor(canvas[:, 0]).astype(int), 0, cw - 1)
    cv = np.clip(np.floor(canvas[:, 1]).astype(int), 0, ch - 1)
    seen_oid, seen_depth = canvas_oid[cv, cu], canvas_depth[cv, cu]
    person = np.nonzero(labelled)[0]
    own = (seen_oid[:, None] == owner_oids[person]).any(axis=1)
    visible = own & (seen_depth >= depth - SELF_OCCLUSION_M)
    v = np.where(inside, np.where(visible, 2.0, 1.0), 0.0)
    xy = np.where(inside[:, None], pixels, 0.0)
    out[labelled] = np.column_stack([xy, v])
    return out


def write_wrists(path: Path, tl: Timeline, chunk: int = 20_000) -> Path:
    """`timeline_index, t, id, side, x, y, z` for both wrists of every person present at every
    timeline frame (side 0 = left, 1 = right), posed `chunk` bodies at a time."""
    k, p = np.nonzero(tl.active)
    height = np.array([q.look.height_m for q in tl.persons])[p]
    shoulder = np.array([q.look.shoulder_m for q in tl.persons])[p]
    wrist = np.zeros((len(k), 2, 3))
    for s in range(0, len(k), chunk):
        kk, pp, part = k[s : s + chunk], p[s : s + chunk], slice(s, s + chunk)
        wrist[part] = body_frames(
            tl.position[kk, pp],
            tl.heading[kk, pp],
            height[part],
            shoulder[part],
            tl.hand_target[kk, pp],
            tl.hand_ext[kk, pp],
        ).wrist
    gid = np.array([q.gid for q in tl.persons], np.int64)[p]
    table = np.concatenate(
        [
            np.column_stack([k, tl.t[k], gid, np.full(len(k), side), wrist[:, side]])
            for side in (0, 1)
        ]
    )
    table = table[np.lexsort((table[:, 3], table[:, 2], table[:, 0]))]
    np.savetxt(
        path,
        table,
        fmt=["%d", "%.4f", "%d", "%d", "%.4f", "%.4f", "%.4f"],
        delimiter=",",
        header=WRISTS_HEADER,
        comments="",
    )
    return path


def read_wrists(path: str | Path) -> np.ndarray:
    """`wrists_3d.csv` → (N,7) rows `timeline_index, t, id, side, x, y, z`."""
    path = Path(path)
    with path.open() as f:
        head = f.readline().strip()
    if head != WRISTS_HEADER:
        raise ValueError(f"{path} line 1: expected the header {WRISTS_HEADER!r}, got {head!r}")
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2).reshape(-1, 7)
