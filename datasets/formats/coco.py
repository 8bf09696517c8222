"""Export a simulated store as COCO detection json (one file per split), images beside it.

Each annotation also carries `track_id` (the global identity) and `visibility`, which COCO
tools ignore and tracking tools can use.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from storelens.datasets.formats.yolo import class_names, exportable_boxes
from storelens.datasets.recording import StoreRecording


def export_coco(
    sim_dir: str | Path,
    out_dir: str | Path,
    class_set: str = "coarse",
    every: int = 5,
    train_fraction: float = 0.8,
    min_side_px: float = 4.0,
    min_visibility: float = 0.2,
    cameras: list[str] | None = None,
) -> dict[str, Path]:
    """Write `images/<split>/*.jpg` and `annotations/instances_<split>.json`; return their paths."""
    recording = StoreRecording(sim_dir)
    out = Path(out_dir)
    names = class_names(recording, class_set)
    docs = {
        split: {
            "images": [],
            "annotations": [],
            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(names)],
        }
        for split in ("train", "val")
    }
    next_ann = 1
    for rec in recording.frames(every=every, train_fraction=train_fraction, cameras=cameras):
        doc = docs[rec.split]
        (out / "images" / rec.split).mkdir(parents=True, exist_ok=True)
        file_name = f"{rec.split}/{rec.camera_id}_{rec.frame:06d}.jpg"
        cv2.imwrite(str(out / "images" / file_name), rec.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        image_id = len(doc["images"]) + 1
        h, w = rec.image.shape[:2]
        doc["images"].append(
            {
                "id": image_id,
                "file_name": file_name,
                "width": w,
                "height": h,
                "camera_id": rec.camera_id,
                "frame": rec.frame,
            }
        )
        boxes = exportable_boxes(recording, rec.boxes, class_set, min_side_px, min_visibility)
        for box, c, tid, vis in zip(
            boxes.tlwh, boxes.class_id, boxes.track_id, boxes.visibility, strict=True
        ):
            doc["annotations"].append(
                {
                    "id": next_ann,
                    "image_id": image_id,
                    "category_id": int(c) + 1,
                    "bbox": [round(float(v), 2) for v in box],
                    "area": float(box[2] * box[3]),
                    "iscrowd": 0,
                    "track_id": int(tid),
                    "visibility": round(float(vis), 4),
                }
            )
            next_ann += 1
    paths = {}
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    for split, doc in docs.items():
        path = out / "annotations" / f"instances_{split}.json"
        path.write_text(json.dumps(doc))
        paths[split] = path
    if not np.all([len(d["images"]) for d in docs.values()]):
        raise ValueError("export_coco: a split has no images; lower `every` or simulate longer")
    return paths
