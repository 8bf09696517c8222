"""The open trackers storelens is measured against, behind one small interface (benchmarks only).

Each peer runs one instance per camera, as they are built to; they get exactly the boxes and
scores storelens gets. Peers: roboflow `trackers` (ByteTrack, OC-SORT, BoT-SORT without re-id
and without camera-motion compensation, C-BIoU — buffered IoU for irregular motion —, SORT)
and deep-sort-realtime without its embedder (random embeddings, so appearance never matches and
it runs on motion and IoU alone). boxmot's trackers run in their own environment
(`boxmot_peers`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

PEERS = ("bytetrack", "ocsort", "botsort", "cbiou", "sort", "deepsort")


class PeerTracker:
    """`step(xyxy (N,4), scores (N,)) -> (xyxy (M,4), ids (M,))` for one camera."""

    def __init__(
        self, name: str, fps: float, tuned: dict[str, float] | None = None, seed: int = 0
    ) -> None:
        self.name = name
        self._step = _make(name, fps, tuned or {}, seed)

    def step(self, xyxy: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._step(
            np.asarray(xyxy, np.float32).reshape(-1, 4), np.asarray(scores, np.float32)
        )


def _make(name: str, fps: float, tuned: dict[str, float], seed: int) -> Callable[..., Any]:
    if name == "deepsort":
        return _deepsort(fps, seed)
    import supervision as sv
    import trackers

    kwargs: dict[str, Any] = {"frame_rate": fps}
    high, start = tuned.get("high_score"), tuned.get("new_track_score")
    if name == "bytetrack":
        if high is not None:
            kwargs.update(high_conf_det_threshold=high, track_activation_threshold=start)
        tracker = trackers.ByteTrackTracker(**kwargs)
    elif name == "ocsort":
        if high is not None:
            kwargs.update(high_conf_det_threshold=high)
        tracker = trackers.OCSORTTracker(**kwargs)
    elif name == "botsort":
        if high is not None:
            kwargs.update(high_conf_det_threshold=high, track_activation_threshold=start)
        tracker = trackers.BoTSORTTracker(enable_cmc=False, **kwargs)
    elif name == "cbiou":
        if high is not None:
            kwargs.update(high_conf_det_threshold=high, track_activation_threshold=start)
        tracker = trackers.CBIoUTracker(**kwargs)
    elif name == "sort":
        if start is not None:
            kwargs.update(track_activation_threshold=start)
        tracker = trackers.SORTTracker(**kwargs)
    else:
        raise ValueError(f"unknown peer {name!r}; choose from {PEERS}")

    def step(xyxy: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dets = sv.Detections(xyxy=xyxy, confidence=scores, class_id=np.zeros(len(xyxy), int))
        out = tracker.update(dets)
        keep = out.tracker_id >= 0 if out.tracker_id is not None else np.zeros(len(out), bool)
        return out.xyxy[keep], out.tracker_id[keep].astype(np.int64)

    return step


def _deepsort(fps: float, seed: int) -> Callable[..., Any]:
    from deep_sort_realtime.deepsort_tracker import DeepSort

    tracker = DeepSort(max_age=int(round(fps)), embedder=None)
    rng = np.random.default_rng(seed)

    def step(xyxy: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw = [
            ([float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])], float(s), 0)
            for b, s in zip(xyxy, scores, strict=True)
        ]
        embeds = rng.normal(size=(len(raw), 8)) if raw else []
        tracks = tracker.update_tracks(raw, embeds=embeds)
        live = [t for t in tracks if t.is_confirmed() and t.time_since_update == 0]
        if not live:
            return np.zeros((0, 4)), np.zeros(0, np.int64)
        return (
            np.array([t.to_ltrb() for t in live], float),
            np.array([int(t.track_id) for t in live], np.int64),
        )

    return step
