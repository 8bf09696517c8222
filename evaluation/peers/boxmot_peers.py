"""boxmot's trackers as benchmark peers, run in boxmot's own environment (benchmarks only).

boxmot cannot be installed beside the pinned stack (it requires `opencv-python<5`), so
`make peers` gives it `.venv-boxmot` and each call here starts `boxmot_worker.py` there with a
JSON job: the same detections storelens gets go in as arrays, MOTChallenge results (or timings)
come out; many settings of one tracker run in one start (`track_many_with_boxmot`, for
`storelens.evaluation.tuning`). Re-id and camera-motion compensation are off for every boxmot
tracker: no weights are downloaded and no frames are passed. `tuned` uses the peers' common
knobs (`storelens.evaluation.peers.trackers.KNOBS`) plus boxmot's Kalman noise scales.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from collections.abc import Sequence as Seq
from pathlib import Path
from typing import Any

import numpy as np

from storelens.boxes import tlwh_to_xyxy
from storelens.detections import Detections
from storelens.evaluation.mot_runner import Sequence, normalised_scores
from storelens.settings import boxmot_python

WORKER = Path(__file__).resolve().parent / "boxmot_worker.py"
BOXMOT_PEERS = {  # name in the tables → boxmot's tracker
    "boxmot ByteTrack": "bytetrack",
    "boxmot OC-SORT": "ocsort",
    "boxmot BoT-SORT": "botsort",
    "boxmot BoostTrack": "boosttrack",
}  # SFSORT is left out: it needs the frames (for their size), which no other peer gets
_NO_APPEARANCE = {"use_embeddings": False, "use_cmc": False}
# accuracy runs: tiny Kalman matrices, one BLAS thread (as `tuning.single_blas_thread` in-process)
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def unavailable_reason() -> str | None:
    """Why the boxmot peers cannot run here, or None when they can."""
    if boxmot_python() is None:
        return "boxmot's environment is missing (`make peers` builds .venv-boxmot)"
    return None


# common knob (`storelens.evaluation.peers.trackers.KNOBS`, plus the Kalman noise scales)
# → each boxmot tracker's option; lost_track_buffer_s, match_iou and the noise scales are mapped
# in `boxmot_options`
_KNOBS = {
    "bytetrack": {"high_score": "track_thresh", "low_score": "min_conf"},
    "ocsort": {
        "high_score": "det_thresh",
        "low_score": "min_conf",
        "min_hits": "min_hits",
        "direction_weight": "inertia",
    },
    "botsort": {
        "high_score": "track_high_thresh",
        "new_track_score": "new_track_thresh",
        "low_score": "track_low_thresh",
    },
    "boosttrack": {"high_score": "det_thresh", "min_hits": "min_hits"},
}
_SHARED = ("lost_track_buffer_s", "match_iou", "process_noise_scale", "measurement_noise_scale")
NOISE_KNOBS = {
    "process_noise_scale": "multiplies the Kalman process noise (position and velocity)",
    "measurement_noise_scale": "multiplies the Kalman measurement noise",
}


def boxmot_knobs(tracker: str) -> tuple[str, ...]:
    """The common knobs boxmot's `tracker` can be given in `tuned`."""
    return (*_SHARED, *_KNOBS[tracker])


def boxmot_supported(tracker: str, tuned: Mapping[str, float] | None) -> dict[str, float]:
    """The part of `tuned` boxmot's `tracker` has knobs for."""
    return {k: v for k, v in (tuned or {}).items() if k in boxmot_knobs(tracker)}


def boxmot_options(tracker: str, fps: float, tuned: Mapping[str, float] | None) -> dict[str, Any]:
    """boxmot's settings for one tracker: its defaults, appearance off, and `tuned` (common
    knobs, see `boxmot_knobs`; one it does not have is refused) mapped to its options."""
    options: dict[str, Any] = dict(_NO_APPEARANCE) if tracker in ("botsort", "boosttrack") else {}
    if tracker in ("bytetrack", "botsort"):
        options["frame_rate"] = int(round(fps))
    tuned = dict(tuned or {})
    unknown = sorted(set(tuned) - set(boxmot_knobs(tracker)))
    if unknown:
        raise ValueError(
            f"boxmot {tracker} has no knob(s) {unknown}; it has {boxmot_knobs(tracker)}"
        )
    for knob, value in tuned.items():
        if knob == "lost_track_buffer_s":
            if tracker in ("bytetrack", "botsort"):  # frames at 30 fps, scaled by frame_rate
                options["track_buffer"] = int(round(value * 30))
            else:  # frames
                options["max_age"] = max(1, int(round(value * fps)))
                options["max_obs"] = options["max_age"] + 5  # as boxmot's own defaults
        elif knob == "match_iou":
            if tracker in ("bytetrack", "botsort"):  # a gate on 1 - IoU
                options["match_thresh"] = 1.0 - float(value)
            else:
                options["iou_threshold"] = float(value)
        elif knob == "process_noise_scale":
            options["kf_process_position_scale"] = float(value)
            options["kf_process_velocity_scale"] = float(value)
        elif knob == "measurement_noise_scale":
            options["kf_measurement_noise_scale"] = float(value)
        elif knob == "min_hits":
            options[_KNOBS[tracker][knob]] = int(value)
        else:
            options[_KNOBS[tracker][knob]] = float(value)
    return options


def _run(job: dict[str, Any], env: Mapping[str, str] | None = None) -> str:
    python = boxmot_python()
    if python is None:
        raise RuntimeError(unavailable_reason())
    done = subprocess.run(
        [str(python), str(WORKER)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=3600,
        env=None if env is None else {**os.environ, **env},
    )
    if done.returncode != 0:
        raise RuntimeError(f"boxmot {job['tracker']} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def track_with_boxmot(
    tracker: str,
    sequences: list[Sequence],
    fps: float,
    tuned: Mapping[str, float] | None,
    out: Path,
) -> dict[str, Path]:
    """Track each sequence with one boxmot tracker instance; name → results file."""
    return track_many_with_boxmot(tracker, sequences, fps, [tuned], [out])[0]


def track_many_with_boxmot(
    tracker: str,
    sequences: list[Sequence],
    fps: float,
    settings: Seq[Mapping[str, float] | None],
    outs: Seq[Path],
) -> list[dict[str, Path]]:
    """Every sequence tracked once per entry of `settings` (results under the matching `outs`
    folder), all in one start of boxmot's environment; per setting, name → results file."""
    if len(settings) != len(outs):
        raise ValueError(f"{len(settings)} settings but {len(outs)} output folders")
    with tempfile.TemporaryDirectory(prefix="storelens-boxmot-") as tmp:
        inputs = {}
        for seq in sequences:
            dets = seq.detections
            order = np.argsort(dets.frame, kind="stable")
            npz = Path(tmp) / f"{seq.name}.npz"
            np.savez(
                npz,
                frame=dets.frame[order],
                xyxy=tlwh_to_xyxy(dets.tlwh[order]),
                conf=normalised_scores(dets.conf.astype(np.float64))[order],
            )
            inputs[seq.name] = str(npz)
        runs = []
        for tuned, out in zip(settings, outs, strict=True):
            out.mkdir(parents=True, exist_ok=True)
            jobs = [
                {"npz": inputs[s.name], "out": str(out / f"{s.name}.txt"), "frames": len(s.times)}
                for s in sequences
            ]
            runs.append({"options": boxmot_options(tracker, fps, tuned), "sequences": jobs})
        _run({"tracker": tracker, "runs": runs}, env=ONE_BLAS_THREAD)
    return [{seq.name: out / f"{seq.name}.txt" for seq in sequences} for out in outs]


def time_boxmot(tracker: str, streams: Seq[Seq[Detections]], fps: float) -> tuple[float, float]:
    """Seconds for one boxmot instance per camera over `streams` (frames x cameras), and the
    peak traced Python memory (MiB) of a second pass."""
    n_frames, n_cams = len(streams), len(streams[0])
    flat = [d for frame in streams for d in frame]
    counts = np.array([len(d) for d in flat])
    with tempfile.TemporaryDirectory(prefix="storelens-boxmot-") as tmp:
        npz = Path(tmp) / "streams.npz"
        np.savez(
            npz,
            frame=np.repeat(np.arange(n_frames).repeat(n_cams), counts),
            camera=np.repeat(np.tile(np.arange(n_cams), n_frames), counts),
            xyxy=np.concatenate([d.xyxy for d in flat]),
            conf=np.concatenate([d.confidence for d in flat]),
        )
        result = json.loads(
            _run(
                {
                    "tracker": tracker,
                    "options": boxmot_options(tracker, fps, None),
                    "speed": {"npz": str(npz), "cameras": n_cams, "frames": n_frames},
                }
            )
            .strip()
            .splitlines()[-1]
        )
    return float(result["seconds"]), float(result["peak_mib"])
