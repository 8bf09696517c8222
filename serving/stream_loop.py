"""`StreamLoop`: streams in, tracks out — the live worker's ingest → letterbox → detect → track
core without a store around it, for real footage and for measuring the path.

    loop = StreamLoop({"cam0": reader0, "cam1": reader1}, OnnxDetector("shipped"), imgsz=320)
    loop.run(until=lambda: loop.done)       # or step() yourself
    loop.tracks["cam0"]                     # (N, 7) rows: t, track id, x1, y1, x2, y2, score

Each step takes every camera's newest frame (a frame no newer than the last one taken from that
camera is skipped), letterboxes them, detects them in one batch and steps one `StorePipeline`.
A camera is finished when its reader stopped (the end of a file), its stamped time reached
`end_t[camera]`, or its stream started over (a replay that ended and was reconnected).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from storelens.serving.frame_steps import DetectedBoxes, step_inputs, track_rows
from storelens.serving.ingest import StreamReader
from storelens.serving.letterbox import letterbox
from storelens.tracking.pipeline import StorePipeline


class StreamLoop:
    """See the module docstring. `detector` is an `OnnxDetector` (anything with
    `detect_letterboxed((B, S, S, 3) uint8) -> [(xyxy, conf, class_id)]`)."""

    def __init__(
        self,
        readers: Mapping[str, StreamReader],
        detector: Any,
        *,
        imgsz: int = 320,
        end_t: Mapping[str, float] | None = None,
        pipeline: StorePipeline | None = None,
        count_conf: float = 0.25,
    ) -> None:
        self.readers = dict(readers)
        self.detector = detector
        self.imgsz = imgsz
        self.end_t = dict(end_t or {})
        self.pipeline = pipeline or StorePipeline()
        self.last_t = {c: -math.inf for c in self.readers}
        self.restarted: set[str] = set()  # cameras whose replay started over: finished
        self.processed = {c: 0 for c in self.readers}
        self.count_conf = count_conf
        self.detected = {c: 0 for c in self.readers}  # boxes with confidence ≥ count_conf
        self.latency_s: list[float] = []
        self._tracks: dict[str, list[np.ndarray]] = {c: [] for c in self.readers}

    @property
    def done(self) -> bool:
        return all(self._finished(c) for c in self.readers)

    def _finished(self, camera: str) -> bool:
        if camera in self.restarted or self.readers[camera].state == "stopped":
            return True
        return self.last_t[camera] >= self.end_t.get(camera, math.inf)

    def step(self) -> int:
        """One step over the cameras with a new frame; returns how many frames it took."""
        frames = []
        for camera, reader in self.readers.items():
            if self._finished(camera):
                if reader.state != "stopped":
                    reader.stop(timeout_s=0.5)  # a finished replay is not read again
                continue
            f = reader.latest()
            if f is not None and f.timestamp < self.last_t[camera] - 1.0:
                self.restarted.add(camera)  # a replayed stream began again from its start
            elif f is not None and f.timestamp > self.last_t[camera]:
                frames.append(f)
        if not frames:
            return 0
        boxed = [letterbox(f.image, self.imgsz) for f in frames]
        answers = self.detector.detect_letterboxed(np.stack([b.tensor for b in boxed]))
        boxes = [
            DetectedBoxes(b.unletterbox(xyxy), conf, cls)
            for b, (xyxy, conf, cls) in zip(boxed, answers, strict=True)
        ]
        out = self.pipeline.step(*step_inputs(frames, boxes))
        now = time.time()
        for f, b in zip(frames, boxes, strict=True):
            self.latency_s.append(now - f.arrival_t)
            self.last_t[f.camera_id] = f.timestamp
            self.processed[f.camera_id] += 1
            self.detected[f.camera_id] += int((b.confidence >= self.count_conf).sum())
        for camera, rows in track_rows(out.tracks).items():
            self._tracks[camera].append(rows)
        return len(frames)

    def run(self, until: Callable[[], bool], idle_s: float = 0.002) -> None:
        while not until():
            if not self.step():
                time.sleep(idle_s)

    @property
    def tracks(self) -> dict[str, np.ndarray]:
        """Per camera, every confirmed track row so far: t, track id, x1, y1, x2, y2, score."""
        return {
            c: np.concatenate(parts) if parts else np.zeros((0, 7))
            for c, parts in self._tracks.items()
        }
