"""Export a simulated store as an ultralytics YOLO detection data set.

    out/images/{train,val}/<camera>_<frame>.jpg
    out/labels/{train,val}/<camera>_<frame>.txt   class cx cy w h (normalised)
    out/data.yaml                                 path, train, val, names

Class sets: `coarse` = person, hand, product; `sku` = person, hand, then one class per SKU
(for a one-stage per-SKU detector; the retail-standard alternative is `coarse` + a recogniser).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml

from storelens.datasets.formats.mot import MotTable
from storelens.datasets.recording import StoreRecording
from storelens.datasets.sim.views import HAND, PERSON, PRODUCT, UNIT_ID_BASE

CLASS_SETS = ("coarse", "sku")


def class_names(recording: StoreRecording, class_set: str) -> list[str]:
    if class_set == "coarse":
        return ["person", "hand", "product"]
    if class_set == "sku":
        return ["person", "hand", *sorted(set(recording.unit_skus().tolist()))]
    raise ValueError(f"class_set: {class_set!r} is not one of {CLASS_SETS}")


def yolo_classes(
    recording: StoreRecording, class_set: str, class_id: np.ndarray, track_id: np.ndarray
) -> np.ndarray:
    """MOT class/identity columns → YOLO class indices (-1: not exported)."""
    out = np.full(len(class_id), -1)
    out[class_id == PERSON] = 0
    out[class_id == HAND] = 1
    products = class_id == PRODUCT
    if class_set == "coarse":
        out[products] = 2
    else:
        names = class_names(recording, class_set)
        index = {sku: i for i, sku in enumerate(names)}
        skus = recording.unit_skus()
        out[products] = [index[s] for s in skus[track_id[products] - UNIT_ID_BASE]]
    return out


def exportable_boxes(
    recording: StoreRecording,
    boxes: MotTable,
    class_set: str,
    min_side_px: float,
    min_visibility: float,
) -> MotTable:
    """The boxes worth training on (big and visible enough), with export class indices."""
    keep = (
        (boxes.tlwh[:, 2] >= min_side_px)
        & (boxes.tlwh[:, 3] >= min_side_px)
        & (boxes.visibility >= min_visibility)
    )
    kept = boxes.select(keep)
    cls = yolo_classes(recording, class_set, kept.class_id, kept.track_id)
    kept = MotTable(kept.frame, kept.track_id, kept.tlwh, kept.conf, cls, kept.visibility)
    return kept.select(cls >= 0)


def export_yolo(
    sim_dir: str | Path,
    out_dir: str | Path,
    class_set: str = "coarse",
    every: int = 5,
    train_fraction: float = 0.8,
    min_side_px: float = 4.0,
    min_visibility: float = 0.2,
    cameras: list[str] | None = None,
) -> Path:
    """Write the data set and return the path of its `data.yaml`."""
    recording = StoreRecording(sim_dir)
    out = Path(out_dir).resolve()
    names = class_names(recording, class_set)
    counts = {"train": 0, "val": 0}
    for split in counts:
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for rec in recording.frames(every=every, train_fraction=train_fraction, cameras=cameras):
        h, w = rec.image.shape[:2]
        boxes = exportable_boxes(recording, rec.boxes, class_set, min_side_px, min_visibility)
        cls, tlwh = boxes.class_id, boxes.tlwh
        centre = np.column_stack(
            [
                (tlwh[:, 0] + tlwh[:, 2] / 2) / w,
                (tlwh[:, 1] + tlwh[:, 3] / 2) / h,
                tlwh[:, 2] / w,
                tlwh[:, 3] / h,
            ]
        )
        stem = f"{rec.camera_id}_{rec.frame:06d}"
        cv2.imwrite(
            str(out / "images" / rec.split / f"{stem}.jpg"),
            rec.image,
            [cv2.IMWRITE_JPEG_QUALITY, 92],
        )
        rows = np.column_stack([cls, np.clip(centre, 0, 1)])
        np.savetxt(
            out / "labels" / rec.split / f"{stem}.txt",
            rows,
            fmt=["%d", "%.6f", "%.6f", "%.6f", "%.6f"],
        )
        counts[rec.split] += 1
    if not counts["train"] or not counts["val"]:
        raise ValueError(
            f"export_yolo: {counts} images per split; lower `every` or simulate longer"
        )
    data = {
        "path": str(out),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(names)),
    }
    path = out / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
