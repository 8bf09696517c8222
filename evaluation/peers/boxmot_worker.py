"""Runs boxmot's trackers for the benchmark, inside boxmot's own virtual environment.

boxmot pins `opencv-python<5`, which cannot sit beside storelens' opencv 5, so `make peers`
installs it into `.venv-boxmot` (torch comes from the main environment through a `.pth` file)
and `storelens.evaluation.peers.boxmot_peers` starts this file there with one JSON job on stdin. It
imports numpy and boxmot only: storelens is not installed in that environment.

A job names a tracker, its options and either sequences to track
(`{"sequences": [{"npz", "out", "frames"}]}`, each npz holding `frame`,
`xyxy` and `conf` arrays; results are written as MOTChallenge text), several such runs each
with its own options (`{"runs": [{"options", "sequences"}]}`: many settings in one start), or a
speed run (`{"speed": {"npz", "cameras", "frames"}}`, rows also carrying `camera`;
one JSON line with the seconds and the peak traced memory is printed). No frames are passed
(camera-motion compensation and re-id stay off). Only boxmot's Python backend is used: its C++
backend needs OpenCV and Eigen development headers at build time.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from typing import Any

import numpy as np


def _tracker(name: str, options: dict[str, Any]) -> Any:
    from boxmot import create_tracker
    from boxmot.trackers.specs import TrackerSpec

    return create_tracker(
        TrackerSpec(name=name, backend="python", options=tuple(sorted(options.items())))
    )


def _rows(xyxy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    return np.column_stack([xyxy, conf, np.zeros(len(conf))]).astype(np.float32)


def _track(name: str, options: dict[str, Any], sequences: list[dict[str, Any]]) -> None:
    for seq in sequences:
        data = np.load(seq["npz"])
        frame_of, xyxy, conf = data["frame"], data["xyxy"], data["conf"]
        bounds = np.searchsorted(frame_of, np.arange(1, seq["frames"] + 2))
        tracker = _tracker(name, options)
        lines = []
        for f in range(1, seq["frames"] + 1):
            part = slice(bounds[f - 1], bounds[f])
            out = tracker.update(_rows(xyxy[part], conf[part]))
            for x1, y1, x2, y2, track_id, score, *_ in np.asarray(out).reshape(-1, 8):
                lines.append(
                    f"{f},{int(track_id)},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},"
                    f"{score:.4f},-1,-1,-1\n"
                )
        with open(seq["out"], "w") as fh:
            fh.writelines(lines)


def _speed(job: dict[str, Any]) -> None:
    spec = job["speed"]
    data = np.load(spec["npz"])
    n_cams, n_frames = spec["cameras"], spec["frames"]
    key = data["frame"] * n_cams + data["camera"]
    bounds = np.searchsorted(key, np.arange(n_frames * n_cams + 1))
    parts = [
        _rows(data["xyxy"][bounds[k] : bounds[k + 1]], data["conf"][bounds[k] : bounds[k + 1]])
        for k in range(n_frames * n_cams)
    ]

    def run() -> float:
        trackers = [_tracker(job["tracker"], job["options"]) for _ in range(n_cams)]
        start = time.perf_counter()
        for f in range(n_frames):
            for c, tracker in enumerate(trackers):
                tracker.update(parts[f * n_cams + c])
        return time.perf_counter() - start

    seconds = run()
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(json.dumps({"seconds": seconds, "peak_mib": peak}))


def main() -> None:
    import logging

    logging.disable(logging.INFO)  # boxmot logs every tracker's settings at INFO
    job = json.load(sys.stdin)
    if "speed" in job:
        _speed(job)
    else:
        for run in job.get("runs") or [job]:
            _track(job["tracker"], run["options"], run["sequences"])


if __name__ == "__main__":
    main()
