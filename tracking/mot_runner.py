"""Running a tracker over MOTChallenge-style sequences: detections in, results files out.

A sequence folder holds `seqinfo.ini` and `det/det.txt` (and optionally `img1/`); frame f is
at time (f - 1) / frameRate. Scores outside [0, 1] (MOT15's ACF detector scores reach ~120)
are rescaled by their 99th percentile, so score thresholds mean the same on every data set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storelens.boxes import tlwh_to_xyxy, xyxy_to_tlwh
from storelens.config import read_yaml, validate_data
from storelens.datasets.formats.mot import MotTable, read_mot, read_seqinfo, write_mot
from storelens.detections import Detections
from storelens.tracking.config import TrackerConfig
from storelens.tracking.tracker import StoreTracker


def load_tracker_config(path: str | Path | None) -> TrackerConfig:
    """A tracker override file (YAML; empty or `{}` means the defaults), or the defaults."""
    if path is None:
        return TrackerConfig()
    return validate_data(read_yaml(path) or {}, TrackerConfig, source=str(path))


def normalised_scores(conf: np.ndarray) -> np.ndarray:
    """Scores in [0, 1]: unchanged when they already are, else ÷ their 99th percentile, clipped."""
    if len(conf) == 0 or (conf.min() >= 0 and conf.max() <= 1):
        return conf
    return np.clip(conf / max(float(np.percentile(conf, 99)), 1e-9), 0, 1)


def detections_by_frame(dets: MotTable, camera_id: str, times: np.ndarray) -> list[Detections]:
    """One `Detections` per frame 1..len(times) (empty frames included), stamped with `times`."""
    n_frames = len(times)
    conf = normalised_scores(dets.conf.astype(np.float64))
    order = np.argsort(dets.frame, kind="stable")
    frames = dets.frame[order]
    bounds = np.searchsorted(frames, np.arange(1, n_frames + 2))
    xyxy = tlwh_to_xyxy(dets.tlwh[order])
    cls, conf = dets.class_id[order], conf[order]
    return [
        Detections(
            xyxy=xyxy[bounds[f] : bounds[f + 1]],
            confidence=conf[bounds[f] : bounds[f + 1]],
            class_id=cls[bounds[f] : bounds[f + 1]],
            camera_id=camera_id,
            timestamp=times[f],
        )
        for f in range(n_frames)
    ]


@dataclass(frozen=True)
class Sequence:
    """One camera's stream as the runner needs it: frame times, step keys and detections."""

    name: str
    times: np.ndarray  # (F,) capture time of frames 1..F, by the camera's clock
    step_keys: np.ndarray  # (F,) frames with equal keys across sequences are captured together
    detections: MotTable


def load_sequence(seq_dir: str | Path, det_path: str | Path | None = None) -> Sequence:
    """`seqinfo.ini` + detections; times from `frames.csv` when present (the simulator's)."""
    seq = Path(seq_dir)
    info = read_seqinfo(seq / "seqinfo.ini")
    det_file = Path(det_path) if det_path else seq / "det" / "det.txt"
    frames_csv = seq / "frames.csv"
    if frames_csv.is_file():
        table = np.loadtxt(frames_csv, delimiter=",", skiprows=1, ndmin=2)
        times, keys = table[:, 2], table[:, 1].astype(int)
    else:
        times = np.arange(info.seq_length) / info.frame_rate
        keys = np.arange(info.seq_length)
    return Sequence(info.name, times, keys, read_mot(det_file))


def track_sequences(
    sequences: list[Sequence],
    config: TrackerConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, MotTable]:
    """Track many cameras with one `StoreTracker`, a batched update per capture instant."""
    tracker = StoreTracker(config)
    per_frame = {s.name: detections_by_frame(s.detections, s.name, s.times) for s in sequences}
    keys = np.unique(np.concatenate([s.step_keys for s in sequences]))
    where = {
        s.name: dict(zip(s.step_keys.tolist(), range(len(s.times)), strict=True)) for s in sequences
    }
    rows: dict[str, list[MotTable]] = {s.name: [] for s in sequences}
    for i, key in enumerate(keys.tolist()):
        present = [(s, where[s.name][key]) for s in sequences if key in where[s.name]]
        batch = Detections.concatenate([per_frame[s.name][f] for s, f in present])
        now = {s.name: float(s.times[f]) for s, f in present}
        tracks = tracker.update(batch, now=now)
        frame_of = {s.name: f + 1 for s, f in present}
        for name, part in tracks.split_by_camera().items():
            n = len(part)
            rows[name].append(
                MotTable(
                    np.full(n, frame_of[name]),
                    part.tracker_id,
                    xyxy_to_tlwh(part.xyxy),
                    part.confidence,
                    part.class_id,
                    np.ones(n),
                )
            )
        if progress is not None:
            progress(i + 1, len(keys))
    return {name: MotTable.concatenate(parts) for name, parts in rows.items()}


def track_to_file(
    seq_dir: str | Path,
    out: str | Path,
    config: TrackerConfig | None = None,
    det_path: str | Path | None = None,
) -> Path:
    """`storelens track mot`: one sequence's results in MOTChallenge format."""
    results = track_sequences([load_sequence(seq_dir, det_path)], config)
    return write_mot(out, next(iter(results.values())), kind="results")
