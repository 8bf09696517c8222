"""Keypoints for `storelens run --keypoints ground-truth-noisy`: each camera's true person
keypoints degraded by the fitted pose-model noise (`synthetic_keypoints`), handed to the
detections of the same frame as a top-down pose model would give them.

A detection gets the noisy skeleton of the true person it matches (Hungarian on IoU, at
`MATCH_IOU` or more, per camera and frame), moved with the detection's box (the model sees the
detection's crop, so a box that is off by some pixels drags the skeleton along by the same
shift); a detection that matches no one (clutter, a duplicate) gets an all-zero skeleton.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from storelens.boxes import box_iou_batch, tlwh_to_xyxy
from storelens.datasets.recording import StoreRecording
from storelens.datasets.sim.views import PERSON
from storelens.detections import Detections
from storelens.evaluation.synthetic_keypoints import KeypointNoise, noisy_keypoints
from storelens.keypoints import N_KEYPOINTS

MATCH_IOU = 0.5


@dataclass(frozen=True)
class CameraKeypoints:
    """One camera's noisy skeletons, grouped by frame (1-based) for lookup."""

    frame: np.ndarray  # (M,) sorted
    xyxy: np.ndarray  # (M,4) the true person boxes
    keypoints: np.ndarray  # (M,17,3) x, y, score

    def at(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.searchsorted(self.frame, [frame, frame + 1])
        return self.xyxy[lo:hi], self.keypoints[lo:hi]


def noisy_camera_keypoints(
    recording: StoreRecording, camera: str, noise: KeypointNoise | None = None, seed: int = 0
) -> CameraKeypoints:
    if not recording.has_keypoints(camera):
        raise FileNotFoundError(
            f"{recording.camera_dir(camera)}: no gt/keypoints.txt to make noisy keypoints from "
            "(simulate again with this storelens version)"
        )
    gt = recording.ground_truth(camera)
    people = gt.select(gt.class_id == PERSON)
    table = recording.keypoints(camera)
    row = table.lookup(people.frame, people.track_id)
    people, row = people.select(row >= 0), row[row >= 0]
    noisy = noisy_keypoints(
        people.track_id,
        people.frame,
        table.keypoints[row],
        people.tlwh[:, 3],
        noise,
        seed,
        visibility=people.visibility,
    )
    order = np.argsort(people.frame, kind="stable")
    return CameraKeypoints(
        people.frame[order].astype(int), tlwh_to_xyxy(people.tlwh[order]), noisy[order]
    )


def attach_keypoints(
    detections: Detections, frame_of: dict[str, int], sources: dict[str, CameraKeypoints]
) -> Detections:
    """`detections` of one instant with `data["keypoints"]` (N,17,3) set (see the module
    docstring); `frame_of[camera]` is the camera's frame at this instant."""
    out = np.zeros((len(detections), N_KEYPOINTS, 3))
    for camera, frame in frame_of.items():  # per camera, never per box
        mine = np.flatnonzero((detections.camera_id == camera) & (detections.class_id == PERSON))
        true_xyxy, skeletons = sources[camera].at(frame)
        if not len(mine) or not len(true_xyxy):
            continue
        iou = box_iou_batch(detections.xyxy[mine].astype(float), true_xyxy)
        rows, cols = linear_sum_assignment(-iou)
        ok = iou[rows, cols] >= MATCH_IOU
        rows, cols = rows[ok], cols[ok]
        shift = (detections.xyxy[mine[rows], :2] + detections.xyxy[mine[rows], 2:]) / 2 - (
            true_xyxy[cols, :2] + true_xyxy[cols, 2:]
        ) / 2
        moved = skeletons[cols].copy()
        seen = moved[..., 2] > 0
        moved[..., :2] = np.where(seen[..., None], moved[..., :2] + shift[:, None], 0.0)
        out[mine[rows]] = moved
    return detections.with_fields(data={**detections.data, "keypoints": out})
