"""Export a simulated store as COCO json (one file per split), images beside it: detection
(`instances_<split>.json`, every class of the class set) or, with `keypoints`, COCO-keypoints
(`person_keypoints_<split>.json`: the person category with COCO-17 `keypoints` and `skeleton`,
each person annotation with its 51 `keypoints` values and `num_keypoints`, from
`gt/keypoints.txt`).

Each annotation also carries `track_id` (the global identity) and `visibility`, which COCO
tools ignore and tracking tools can use.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from storelens.datasets.formats.yolo import class_names, exportable_boxes
from storelens.datasets.formats.yolo_pose import labelled_people
from storelens.datasets.recording import StoreRecording
from storelens.keypoints import COCO_KEYPOINTS, COCO_SKELETON


def export_coco(
    sim_dir: str | Path,
    out_dir: str | Path,
    class_set: str = "coarse",
    every: int = 5,
    train_fraction: float = 0.8,
    min_side_px: float = 4.0,
    min_visibility: float = 0.2,
    cameras: list[str] | None = None,
    keypoints: bool = False,
) -> dict[str, Path]:
    """Write `images/<split>/*.jpg` and `annotations/instances_<split>.json` (with `keypoints`:
    `person_keypoints_<split>.json`); return the json paths by split."""
    recording = StoreRecording(sim_dir)
    out = Path(out_dir)
    if keypoints:
        missing = [c for c in cameras or recording.camera_ids if not recording.has_keypoints(c)]
        if missing:
            raise FileNotFoundError(
                f"{recording.path}: cameras {missing} have no gt/keypoints.txt (simulate again "
                "with this storelens version to get keypoint ground truth)"
            )
        categories = [
            {
                "id": 1,
                "name": "person",
                "supercategory": "person",
                "keypoints": list(COCO_KEYPOINTS),
                "skeleton": COCO_SKELETON,
            }
        ]
    else:
        names = class_names(recording, class_set)
        categories = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    docs = {
        split: {"images": [], "annotations": [], "categories": categories}
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
        if keypoints:
            annotations = _keypoint_annotations(rec, min_side_px, min_visibility)
        else:
            boxes = exportable_boxes(recording, rec.boxes, class_set, min_side_px, min_visibility)
            annotations = [
                {
                    "category_id": int(c) + 1,
                    "bbox": [round(float(v), 2) for v in box],
                    "area": float(box[2] * box[3]),
                    "iscrowd": 0,
                    "track_id": int(tid),
                    "visibility": round(float(vis), 4),
                }
                for box, c, tid, vis in zip(
                    boxes.tlwh, boxes.class_id, boxes.track_id, boxes.visibility, strict=True
                )
            ]
        for ann in annotations:
            doc["annotations"].append({"id": next_ann, "image_id": image_id, **ann})
            next_ann += 1
    paths = {}
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    stem = "person_keypoints" if keypoints else "instances"
    for split, doc in docs.items():
        path = out / "annotations" / f"{stem}_{split}.json"
        path.write_text(json.dumps(doc))
        paths[split] = path
    if not np.all([len(d["images"]) for d in docs.values()]):
        raise ValueError("export_coco: a split has no images; lower `every` or simulate longer")
    return paths


def _keypoint_annotations(rec, min_side_px: float, min_visibility: float) -> list[dict]:
    """COCO-keypoints annotations of a frame's labelled people."""
    visibility = dict(zip(rec.boxes.track_id.tolist(), rec.boxes.visibility.tolist(), strict=True))
    ids, tlwh, kps = labelled_people(rec.boxes, rec.keypoints, min_side_px, min_visibility)
    return [
        {
            "category_id": 1,
            "bbox": [round(float(v), 2) for v in box],
            "area": float(box[2] * box[3]),
            "iscrowd": 0,
            "keypoints": [
                round(float(v), 2) if j % 3 < 2 else int(v) for j, v in enumerate(kp.ravel())
            ],
            "num_keypoints": int((kp[:, 2] > 0).sum()),
            "track_id": int(tid),
            "visibility": round(visibility[int(tid)], 4),
        }
        for tid, box, kp in zip(ids, tlwh, kps, strict=True)
    ]
