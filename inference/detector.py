"""The ultralytics → `Detections` adapter: a batch of camera frames in, one `Detections` out.

    detector = UltralyticsDetector(load_detector("models:/storelens-detector@champion"))
    dets = detector(frames)            # frames: FrameBatch with images, any mix of sizes

All frames of a step go to the model in one `predict` call (in chunks of `batch`). ultralytics
letterboxes each image to `imgsz` on its own and maps the boxes back to that image's pixels
(`scale_boxes`), so cameras of different resolutions share a batch; the adapter only carries
each frame's camera id, capture timestamp and frame index onto its boxes and maps the model's
class names to storelens' class ids (`storelens.detections.CLASS_NAMES`). Post-processing
(`.cpu()`, rescaling) lives here, never in the tracker.
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
        boxes, scores, labels = [], [], []
        images = list(frames.images)
        for start in range(0, len(images), self.batch):
            results = self.model.predict(
                images[start : start + self.batch],
                imgsz=self.imgsz,
                conf=self.conf,
                iou=self.iou,
                classes=self._model_classes,
                verbose=False,
            )
            for result in results:
                boxes.append(result.boxes.xyxy.cpu().numpy().reshape(-1, 4))
                scores.append(result.boxes.conf.cpu().numpy().reshape(-1))
                labels.append(result.boxes.cls.cpu().numpy().astype(np.int64).reshape(-1))
        if not boxes:
            return Detections.empty()
        counts = np.array([len(b) for b in boxes])
        return Detections(
            xyxy=np.concatenate(boxes),
            confidence=np.concatenate(scores),
            class_id=self._to_storelens[np.concatenate(labels)],
            camera_id=np.repeat(frames.camera_id, counts),
            timestamp=np.repeat(frames.timestamp, counts),
            data={"frame_index": np.repeat(frames.frame_index, counts)},
        )
