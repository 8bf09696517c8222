"""Running a trained detector over recorded video, offline, into MOTChallenge `det.txt` rows.

The same detections a serving replica would produce, for evaluating the tracker on a trained
detector's output (rather than on noisy ground truth) and for the demo. Frames go to the model
in batches; boxes of one class are kept (persons by default, MOT class 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from storelens.datasets.formats.mot import MotTable

MOT_PERSON = 1


def _frames(video: Path, batch: int) -> Any:
    import cv2

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise FileNotFoundError(f"{video}: cannot open the video")
    try:
        chunk: list[np.ndarray] = []
        while True:
            ok, image = capture.read()
            if not ok:
                break
            chunk.append(image)
            if len(chunk) == batch:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    finally:
        capture.release()


def detect_video(
    model: Any,
    video: str | Path,
    class_name: str = "person",
    mot_class: int = MOT_PERSON,
    imgsz: int = 320,
    conf: float = 0.05,
    batch: int = 16,
) -> MotTable:
    """Detections of one class in every frame of `video` (frames numbered from 1)."""
    names = {v: k for k, v in model.names.items()}
    if class_name not in names:
        raise ValueError(f"class_name: {class_name!r} is not one of the model's {list(names)}")
    wanted = names[class_name]
    frames, boxes, scores = [], [], []
    first = 1
    for chunk in _frames(Path(video), batch):
        for offset, result in enumerate(
            model.predict(chunk, imgsz=imgsz, conf=conf, classes=[wanted], verbose=False)
        ):
            xyxy = result.boxes.xyxy.cpu().numpy().reshape(-1, 4)
            frames.append(np.full(len(xyxy), first + offset))
            boxes.append(xyxy)
            scores.append(result.boxes.conf.cpu().numpy())
        first += len(chunk)
    if not frames:
        return MotTable.empty()
    xyxy = np.concatenate(boxes).astype(np.float64)
    tlwh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    n = len(xyxy)
    return MotTable(
        np.concatenate(frames).astype(int),
        np.full(n, -1),
        tlwh,
        np.concatenate(scores).astype(np.float64),
        np.full(n, mot_class),
        np.ones(n),
    )
