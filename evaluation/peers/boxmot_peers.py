"""boxmot's trackers as benchmark peers, run in boxmot's own environment (benchmarks only).

boxmot cannot be installed beside the pinned stack (it requires `opencv-python<5`), so
`make peers` gives it `.venv-boxmot` and each call here starts `boxmot_worker.py` there with a
JSON job: the same detections storelens gets go in as arrays, MOTChallenge results (or timings)
come out. Re-id and camera-motion compensation are off for every boxmot tracker: no weights are
downloaded and no frames are passed, as for the other peers.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
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


def unavailable_reason() -> str | None:
    """Why the boxmot peers cannot run here, or None when they can."""
    if boxmot_python() is None:
        return "boxmot's environment is missing (`make peers` builds .venv-boxmot)"
    return None


def boxmot_options(tracker: str, fps: float, tuned: dict[str, float] | None) -> dict[str, Any]:
    """boxmot's settings for one tracker: its defaults, appearance off, score gates if tuned."""
    options: dict[str, Any] = dict(_NO_APPEARANCE) if tracker in ("botsort", "boosttrack") else {}
    if tracker in ("bytetrack", "botsort"):
        options["frame_rate"] = int(round(fps))
    if tuned:
        high, new = tuned["high_score"], tuned["new_track_score"]
        options.update(
            {
                "bytetrack": {"track_thresh": high},
                "ocsort": {"det_thresh": high},
                "botsort": {"track_high_thresh": high, "new_track_thresh": new},
                "boosttrack": {"det_thresh": high},
            }[tracker]
        )
    return options


def _run(job: dict[str, Any]) -> str:
    python = boxmot_python()
    if python is None:
        raise RuntimeError(unavailable_reason())
    done = subprocess.run(
        [str(python), str(WORKER)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"boxmot {job['tracker']} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def track_with_boxmot(
    tracker: str,
    sequences: list[Sequence],
    fps: float,
    tuned: dict[str, float] | None,
    out: Path,
) -> dict[str, Path]:
    """Track each sequence with one boxmot tracker instance; name → results file."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="storelens-boxmot-") as tmp:
        jobs = []
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
            result = out / f"{seq.name}.txt"
            jobs.append({"npz": str(npz), "out": str(result), "frames": len(seq.times)})
        options = boxmot_options(tracker, fps, tuned)
        _run({"tracker": tracker, "options": options, "sequences": jobs})
    return {seq.name: out / f"{seq.name}.txt" for seq in sequences}


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
