"""One pipeline step from frames and their detector answers, and confirmed tracks as rows — what
the store worker (`StoreRuntime`) and the bare stream loop (`StreamLoop`) both do per step.

A track row is `t, track id, x1, y1, x2, y2, score` (times by the camera's clock), written as
CSV with `TRACK_ROW_FORMAT` (`storelens.evaluation.annotate_video` reads it back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from storelens.detections import Detections
from storelens.frames import FrameBatch
from storelens.serving.ingest import CapturedFrame

TRACK_ROW_FORMAT = "%.3f,%d,%.1f,%.1f,%.1f,%.1f,%.3f"


@dataclass(frozen=True)
class DetectedBoxes:
    """A detector's answer for one frame, in the frame's own pixels."""

    xyxy: np.ndarray  # (N, 4) float
    confidence: np.ndarray  # (N,)
    class_id: np.ndarray  # (N,) storelens class ids
    model_version: str = ""


def step_inputs(
    frames: Sequence[CapturedFrame], boxes: Sequence[DetectedBoxes]
) -> tuple[FrameBatch, Detections]:
    """The `FrameBatch` of `frames` and one `Detections` of all their boxes, for
    `StorePipeline.step` (`boxes[i]` answers `frames[i]`)."""
    batch = FrameBatch.of(
        [f.camera_id for f in frames],
        [f.timestamp for f in frames],
        [f.frame_index for f in frames],
    )
    counts = np.array([len(b.xyxy) for b in boxes])
    detections = Detections(
        xyxy=np.concatenate([b.xyxy for b in boxes]).reshape(-1, 4).astype(np.float64),
        confidence=np.concatenate([b.confidence for b in boxes]).astype(np.float64),
        class_id=np.concatenate([b.class_id for b in boxes]).astype(np.int64),
        camera_id=np.repeat(batch.camera_id, counts),
        timestamp=np.repeat(batch.timestamp, counts),
    )
    return batch, detections


def track_rows(tracks: Detections) -> dict[str, np.ndarray]:
    """Per camera, the rows of `tracks` (see the module docstring)."""
    if not len(tracks):
        return {}
    rows = np.column_stack([tracks.timestamp, tracks.tracker_id, tracks.xyxy, tracks.confidence])
    return {c: rows[tracks.camera_id == c] for c in np.unique(tracks.camera_id).tolist()}
