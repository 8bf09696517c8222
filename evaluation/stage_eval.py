"""`storelens eval RUN_DIR OUT_DIR`: every stage present in OUT_DIR scored against RUN_DIR's
ground truth, one section per stage in `OUT_DIR/metrics.json`.

Stages today: `tracking` (persons, TrackEval under the MOT17 rules per camera and over all
cameras combined: `hota`, `idf1`, `mota` and the rest of `TrackingMetrics`). The events,
identity, session and attribution stages add their sections as they land. A stage whose output
is absent, or whose ground truth the run does not have (a recorded store), is reported as
skipped with the reason, never scored as zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storelens.datasets.recording import StoreRecording
from storelens.evaluation.tracking_metrics import COMBINED, TrackingMetrics, evaluate_mot


@dataclass(frozen=True)
class RunMetrics:
    """Per stage: its metrics (tracking: camera or COMBINED → metrics), or why it was skipped."""

    tracking: dict[str, TrackingMetrics] | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.tracking is not None:
            combined = self.tracking[COMBINED]
            out["tracking"] = {
                **combined.as_dict(),
                "per_camera": {k: m.as_dict() for k, m in self.tracking.items() if k != COMBINED},
            }
        if self.skipped:
            out["skipped"] = dict(self.skipped)
        return out


def evaluate_run(run_dir: str | Path, out_dir: str | Path) -> RunMetrics:
    """Score every stage found in `out_dir` and write `out_dir/metrics.json`."""
    recording = StoreRecording(run_dir)
    out = Path(out_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"{out}: no such output folder (make it with `storelens run`)")
    skipped: dict[str, str] = {}
    tracking = None
    tracks_dir = out / "tracks"
    if not tracks_dir.is_dir():
        skipped["tracking"] = f"no {tracks_dir}"
    else:
        cameras = [c for c in recording.camera_ids if (tracks_dir / f"{c}.txt").is_file()]
        missing_gt = [c for c in cameras if not recording.has_ground_truth(c)]
        untracked = [c for c in recording.camera_ids if c not in cameras]
        if untracked and cameras:
            skipped["tracking.cameras"] = (
                f"no tracks for cameras {untracked}: COMBINED covers {cameras} only"
            )
        if not cameras:
            skipped["tracking"] = f"{tracks_dir} holds no results for the run's cameras"
        elif missing_gt:
            skipped["tracking"] = f"the run has no ground truth for cameras {missing_gt}"
        else:
            tracking = evaluate_mot(
                {c: recording.camera_dir(c) for c in cameras},
                {c: tracks_dir / f"{c}.txt" for c in cameras},
                benchmark="MOT17",
            )
    metrics = RunMetrics(tracking=tracking, skipped=skipped)
    (out / "metrics.json").write_text(json.dumps(metrics.as_dict(), indent=2))
    return metrics
