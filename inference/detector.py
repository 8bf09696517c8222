"""The ultralytics → `Detections` adapter: a batch of camera frames in, one `Detections` out.

    detector = UltralyticsDetector(load_detector("models:/storelens-detector@champion"))
    dets = detector(frames)            # frames: FrameBatch with images, any mix of sizes

The frames of a step go to the model in batches of frames of one size (in chunks of `batch`).
Letterboxing depends on the batch: ultralytics pads a batch of equal-sized images only to the
stride (as it pads a single image), but a batch of mixed sizes to a full `imgsz` square, which
changes what the network sees and so the boxes. Grouping by size keeps every frame's detections
the same whichever other cameras share its step. ultralytics maps the boxes back to each
image's own pixels (`scale_boxes`); the adapter carries each frame's camera id, capture
timestamp and frame index onto its boxes and maps the model's class names to storelens' class
ids (`storelens.detections.CLASS_NAMES`). Post-processing (`.cpu()`, rescaling) lives here,
never in the tracker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from storelens.detections import CLASS_NAMES, PERSON, Detections
from storelens.frames import FrameBatch


class UltralyticsDetector:
    """`detector(frames) -> Detections` for an ultralytics YOLO model.

    Args:
        model: an ultralytics `YOLO` (see `storelens.inference.loading.load_detector`).
        classes: storelens class ids to keep (default: persons); each must be a class name the
            model knows (`person`, `hand`, `product`).
        imgsz: inference size in pixels (the longer side after letterboxing).
        conf: minimum score kept; low, because the tracker's low-score stage uses weak boxes.
        iou: NMS IoU threshold.
        batch: frames per forward pass.
    """

    def __init__(
        self,
        model: Any,
        classes: Sequence[int] = (PERSON,),
        imgsz: int = 320,
        conf: float = 0.05,
        iou: float = 0.7,
        batch: int = 16,
    ) -> None:
        names = {str(v): int(k) for k, v in model.names.items()}
        missing = [CLASS_NAMES.get(c, str(c)) for c in classes if CLASS_NAMES.get(c) not in names]
        if missing:
            raise ValueError(
                f"classes: the model has no class {missing} (it knows {sorted(names)})"
            )
        self.model = model
        self.imgsz, self.conf, self.iou, self.batch = imgsz, conf, iou, batch
        self._model_classes = [names[CLASS_NAMES[c]] for c in classes]
        # model class index → storelens class id, as a lookup array
        self._to_storelens = np.full(max(names.values()) + 1, -1, np.int64)
        for c in classes:
            self._to_storelens[names[CLASS_NAMES[c]]] = c

    def __call__(self, frames: FrameBatch) -> Detections:
        if frames.images is None:
            raise ValueError("UltralyticsDetector: the frame batch carries no images")
        images = list(frames.images)
        if not images:
            return Detections.empty()
        per_frame: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [None] * len(images)  # type: ignore[list-item]
        for rows in _same_shape_groups(images):
            for start in range(0, len(rows), self.batch):
                chunk = rows[start : start + self.batch]
                results = self.model.predict(
                    [images[r] for r in chunk],
                    imgsz=self.imgsz,
                    conf=self.conf,
                    iou=self.iou,
                    classes=self._model_classes,
                    verbose=False,
                )
                for r, result in zip(chunk, results, strict=True):
                    per_frame[r] = (
                        result.boxes.xyxy.cpu().numpy().reshape(-1, 4),
                        result.boxes.conf.cpu().numpy().reshape(-1),
                        result.boxes.cls.cpu().numpy().astype(np.int64).reshape(-1),
                    )
        boxes, scores, labels = (list(column) for column in zip(*per_frame, strict=True))
        counts = np.array([len(b) for b in boxes])
        return Detections(
            xyxy=np.concatenate(boxes),
            confidence=np.concatenate(scores),
            class_id=self._to_storelens[np.concatenate(labels)],
            camera_id=np.repeat(frames.camera_id, counts),
            timestamp=np.repeat(frames.timestamp, counts),
            data={"frame_index": np.repeat(frames.frame_index, counts)},
        )


def _same_shape_groups(images: Sequence[np.ndarray]) -> list[list[int]]:
    """Indices of `images` grouped by (H, W), in order of first appearance."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(tuple(image.shape), []).append(i)
    return list(groups.values())
