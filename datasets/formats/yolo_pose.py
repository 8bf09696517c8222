"""Export a simulated store's people as an ultralytics YOLO-pose data set: whole frames, or
full-resolution crops around each person (the top-down layout a pose model on person crops
trains on).

    out/images/{train,val}/<camera>[_id<id>]_<frame>.jpg
    out/labels/{train,val}/<same stem>.txt   0 cx cy w h  x1 y1 v1 ... x17 y17 v17 (normalised)
    out/data.yaml   path, train, val, names {0: person}, kpt_shape [17, 3], flip_idx

A person is labelled when its box passes the detection export's filters (smallest side,
visibility); its keypoints come from `gt/keypoints.txt` (`formats.keypoints`; v = 0 unlabelled
or outside, 1 hidden, 2 visible; x = y = 0 where v = 0, as ultralytics expects). With `crops`,
each labelled person at least `min_crop_px` tall gives one image: its box grown by
`CROP_MARGIN` of its size on every side, clipped to the frame. Every labelled person whose box
keeps at least `MIN_KEPT_AREA` of its area inside a crop is labelled in it, clipped, so the model
is never taught to miss a second person; keypoints outside the crop become unlabelled. Splits
follow `StoreRecording` (by time).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml

from storelens.boxes import crop_windows, tlwh_to_xyxy
from storelens.datasets.formats.mot import MotTable
from storelens.datasets.recording import StoreRecording
from storelens.datasets.sim.views import PERSON
from storelens.keypoints import CROP_MARGIN, FLIP_INDEX, N_KEYPOINTS

MIN_KEPT_AREA = 0.3
JPEG = [cv2.IMWRITE_JPEG_QUALITY, 92]


def pose_labels(tlwh: np.ndarray, keypoints: np.ndarray, window: np.ndarray) -> np.ndarray:
    """YOLO-pose rows (N, 5 + 51) of people (`tlwh` (N,4), `keypoints` (N,17,3)) inside the
    image `window` = (x0, y0, x1, y1) of the frame; people mostly outside it are dropped."""
    x0, y0, x1, y1 = window
    w, h = x1 - x0, y1 - y0
    lo = np.maximum(tlwh[:, :2], (x0, y0))
    hi = np.minimum(tlwh[:, :2] + tlwh[:, 2:], (x1, y1))
    size = np.clip(hi - lo, 0, None)
    kept = size.prod(axis=1) >= MIN_KEPT_AREA * tlwh[:, 2:].prod(axis=1)
    lo, size, kp = lo[kept], size[kept], keypoints[kept].copy()
    xy = kp[..., :2] - (x0, y0)
    inside = (xy >= 0).all(axis=2) & (xy[..., 0] < w) & (xy[..., 1] < h) & (kp[..., 2] > 0)
    kp[..., :2] = np.where(inside[..., None], xy / (w, h), 0.0)
    kp[..., 2] = np.where(inside, kp[..., 2], 0.0)
    box = np.column_stack([(lo - (x0, y0) + size / 2) / (w, h), size / (w, h)])
    return np.column_stack([np.zeros(len(box)), box, kp.reshape(len(box), 3 * N_KEYPOINTS)])


def labelled_people(
    boxes: MotTable, frame_keypoints, min_side_px: float, min_visibility: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frame's people worth training on: track ids, boxes (N,4) and keypoints (N,17,3)."""
    people = boxes.select(
        (boxes.class_id == PERSON)
        & (boxes.tlwh[:, 2] >= min_side_px)
        & (boxes.tlwh[:, 3] >= min_side_px)
        & (boxes.visibility >= min_visibility)
    )
    row = frame_keypoints.lookup(people.frame, people.track_id)
    has = row >= 0
    return people.track_id[has], people.tlwh[has], frame_keypoints.keypoints[row[has]]


def export_yolo_pose(
    sim_dir: str | Path,
    out_dir: str | Path,
    crops: bool = True,
    every: int = 5,
    train_fraction: float = 0.8,
    min_side_px: float = 8.0,
    min_visibility: float = 0.2,
    min_crop_px: float = 48.0,
    cameras: list[str] | None = None,
) -> Path:
    """Write the data set (see the module docstring) and return the path of its `data.yaml`."""
    recording = StoreRecording(sim_dir)
    wanted = cameras or recording.camera_ids
    missing = [c for c in wanted if not recording.has_keypoints(c)]
    if missing:
        raise FileNotFoundError(
            f"{recording.path}: cameras {missing} have no gt/keypoints.txt (simulate again with "
            "this storelens version to get keypoint ground truth)"
        )
    out = Path(out_dir).resolve()
    counts = {"train": 0, "val": 0}
    for split in counts:
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    fmt = ["%d"] + ["%.6f"] * 4 + ["%.6f", "%.6f", "%d"] * N_KEYPOINTS
    for rec in recording.frames(every=every, train_fraction=train_fraction, cameras=wanted):
        h, w = rec.image.shape[:2]
        ids, tlwh, keypoints = labelled_people(
            rec.boxes, rec.keypoints, min_side_px, min_visibility
        )
        stem = f"{rec.camera_id}_{rec.frame:06d}"
        if crops:
            owner = np.flatnonzero(tlwh[:, 3] >= min_crop_px)
            windows = crop_windows(tlwh_to_xyxy(tlwh[owner]), CROP_MARGIN, w, h)
            images = [
                (
                    f"{rec.camera_id}_id{ids[i]}_{rec.frame:06d}",
                    rec.image[y0:y1, x0:x1],
                    (x0, y0, x1, y1),
                )
                for (x0, y0, x1, y1), i in zip(windows, owner, strict=True)
            ]
        else:
            images = [(stem, rec.image, (0, 0, w, h))]
        for name, image, window in images:
            rows = pose_labels(tlwh, keypoints, np.asarray(window, float))
            cv2.imwrite(str(out / "images" / rec.split / f"{name}.jpg"), image, JPEG)
            np.savetxt(out / "labels" / rec.split / f"{name}.txt", rows, fmt=fmt)
            counts[rec.split] += 1
    if not counts["train"] or not counts["val"]:
        raise ValueError(
            f"export_yolo_pose: {counts} images per split; lower `every` or `min_crop_px`, "
            "or simulate longer"
        )
    data = {
        "path": str(out),
        "train": "images/train",
        "val": "images/val",
        "names": {0: "person"},
        "kpt_shape": [N_KEYPOINTS, 3],
        "flip_idx": list(FLIP_INDEX),
    }
    path = out / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
