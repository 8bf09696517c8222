"""Top-down keypoints: a YOLO-pose model run on full-resolution crops around given person boxes
(from the person tracks), not on whole frames where a hand is a few pixels.

    pose = TopDownPose(load_detector("models/pose/sim-pose-yolo11n.pt"))
    keypoints = pose(frame, person_xyxy)        # (N,17,3): x, y in frame pixels, confidence

Each box is grown by `storelens.keypoints.CROP_MARGIN` a side (as the training crops were),
cropped, and letterboxed here to an `imgsz` square (so every crop reaches the network the same
way whatever else is in its batch, as in training); the crops of a call go through the model in
batches of `batch`. In each crop the predicted person whose box overlaps the given box most
(IoU >= `min_iou`) is that person's skeleton; a box with none gets zero confidences. Keypoints
are mapped back to the frame's pixels.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from storelens.boxes import box_iou_batch, crop_windows
from storelens.keypoints import CROP_MARGIN, N_KEYPOINTS

PAD_VALUE = 114  # ultralytics' letterbox grey


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, np.ndarray]:
    """`image` scaled to fit a `size` square and centred on grey: (square, scale, (dx, dy))."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.full((size, size, 3), PAD_VALUE, np.uint8)
    dx, dy = (size - nw) // 2, (size - nh) // 2
    out[dy : dy + nh, dx : dx + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out, scale, np.array([dx, dy], float)


class TopDownPose:
    """`pose(frame, xyxy) -> (N,17,3)` keypoints for the people in `xyxy` (see module docstring).

    Args:
        model: an ultralytics YOLO pose model (`storelens.inference.loading.load_detector`).
        imgsz: the square each crop is letterboxed to (the size the model was trained at).
        conf: minimum person score in a crop.
        min_iou: least overlap between the given box and the predicted person taken for it.
        batch: crops per forward pass.
    """

    def __init__(
        self,
        model: Any,
        imgsz: int = 160,
        conf: float = 0.1,
        min_iou: float = 0.3,
        batch: int = 32,
    ) -> None:
        if getattr(model, "task", "pose") != "pose":
            raise ValueError(f"model: a {model.task!r} model, not a pose model")
        self.model, self.imgsz, self.conf, self.min_iou, self.batch = (
            model,
            imgsz,
            conf,
            min_iou,
            batch,
        )

    def __call__(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        xyxy = np.asarray(xyxy, float).reshape(-1, 4)
        out = np.zeros((len(xyxy), N_KEYPOINTS, 3))
        if not len(xyxy):
            return out
        h, w = frame.shape[:2]
        windows = crop_windows(xyxy, CROP_MARGIN, w, h)
        squares, scales, offsets = [], [], []
        for x0, y0, x1, y1 in windows:  # slicing views: the network dominates the cost
            square, scale, offset = letterbox(frame[y0:y1, x0:x1], self.imgsz)
            squares.append(square)
            scales.append(scale)
            offsets.append(offset)
        scale_arr, offset_arr = np.array(scales), np.array(offsets)
        # the given boxes in each square's pixels
        target = (xyxy - np.tile(windows[:, :2], 2)) * scale_arr[:, None] + np.tile(offset_arr, 2)
        for start in range(0, len(squares), self.batch):
            part = slice(start, start + self.batch)
            results = self.model.predict(
                squares[part], imgsz=self.imgsz, conf=self.conf, device="cpu", verbose=False
            )
            for i, res in zip(range(start, start + len(results)), results, strict=True):
                if res.keypoints is None or not len(res.boxes):
                    continue
                overlap = box_iou_batch(target[i : i + 1], res.boxes.xyxy.cpu().numpy())[0]
                best = int(np.argmax(overlap))
                if overlap[best] < self.min_iou:
                    continue
                kp = res.keypoints.data.cpu().numpy()[best]  # (17,3) x, y, confidence
                out[i, :, :2] = (kp[:, :2] - offset_arr[i]) / scale_arr[i] + windows[i, :2]
                out[i, :, 2] = kp[:, 2] if kp.shape[1] == 3 else 1.0
        return out
