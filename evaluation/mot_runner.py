"""Running the store pipeline over MOTChallenge-style sequences: detections in, results out.

A sequence folder holds `seqinfo.ini` and `det/det.txt` (and optionally `img1/`); frame f is
at time (f - 1) / frameRate, or as `frames.csv` says (the simulator's). Many sequences are
stepped together through one `StorePipeline` (one tracker for all cameras), one batched step
per capture instant. Scores outside [0, 1] (MOT15's ACF detector scores reach ~120) are
rescaled by their 99th percentile, so score thresholds mean the same on every data set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storelens.boxes import tlwh_to_xyxy, xyxy_to_tlwh
from storelens.config import load_config
from storelens.datasets.formats.mot import MotTable, read_mot, read_seqinfo, write_mot
from storelens.datasets.recording import frame_times
from storelens.detections import Detections
from storelens.frames import FrameBatch
from storelens.tracking.config import TrackerConfig
from storelens.tracking.pipeline import StorePipeline
from storelens.tracking.tracker import StoreTracker


def load_tracker_config(path: str | Path | None) -> TrackerConfig:
    """A tracker override file (YAML; empty or `{}` means the defaults), or the defaults."""
    if path is None:
        return TrackerConfig()
    return load_config(path, TrackerConfig, allow_empty=True)


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
    times, keys = frame_times(seq)
    return Sequence(
        info.name, times, keys, read_mot(det_file, kind="det", seq_length=info.seq_length)
    )


def instants(
    names: list[str], times: list[np.ndarray], step_keys: list[np.ndarray]
) -> Iterator[tuple[FrameBatch, list[tuple[int, int]]]]:
    """For each capture instant in key order: the `FrameBatch` of the streams that have a frame
    then (no images) and their (stream index, 0-based frame), given each stream's name,
    per-frame times and per-frame step keys (equal keys = captured together)."""
    keys = np.unique(np.concatenate(step_keys))
    where = [dict(zip(k.tolist(), range(len(k)), strict=True)) for k in step_keys]
    for key in keys.tolist():
        present = [(i, w[key]) for i, w in enumerate(where) if key in w]
        frames = FrameBatch.of(
            [names[i] for i, _ in present],
            [times[i][f] for i, f in present],
            [f + 1 for _, f in present],
        )
        yield frames, present


def mot_tables(tracks: Detections) -> dict[str, MotTable]:
    """Pipeline detections or tracks (with `data["frame_index"]`) as one MOTChallenge table per
    camera (ids -1 for untracked detections)."""
    return {
        camera: MotTable(
            part.data["frame_index"].astype(int),
            part.tracker_id,
            xyxy_to_tlwh(part.xyxy),
            part.confidence,
            part.class_id,
            np.ones(len(part)),
        )
        for camera, part in tracks.split_by_camera().items()
    }


def track_sequences(
    sequences: list[Sequence],
    config: TrackerConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, MotTable]:
    """Track many cameras with one `StorePipeline`, a batched step per capture instant."""
    pipeline = StorePipeline(StoreTracker(config))
    per_frame = [detections_by_frame(s.detections, s.name, s.times) for s in sequences]
    steps = list(
        instants(
            [s.name for s in sequences],
            [s.times for s in sequences],
            [s.step_keys for s in sequences],
        )
    )
    outputs = []
    for i, (frames, present) in enumerate(steps):
        batch = Detections.concatenate([per_frame[s][f] for s, f in present])
        outputs.append(pipeline.step(frames, batch).tracks)
        if progress is not None:
            progress(i + 1, len(steps))
    results = mot_tables(Detections.concatenate(outputs))
    return {s.name: results.get(s.name, MotTable.empty()) for s in sequences}


def track_to_file(
    seq_dir: str | Path,
    out: str | Path,
    config: TrackerConfig | None = None,
    det_path: str | Path | None = None,
) -> Path:
    """`storelens track mot`: one sequence's results in MOTChallenge format."""
    results = track_sequences([load_sequence(seq_dir, det_path)], config)
    return write_mot(out, next(iter(results.values())), kind="results")
