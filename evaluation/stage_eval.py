"""`storelens eval RUN_DIR OUT_DIR`: every stage present in OUT_DIR scored against RUN_DIR's
ground truth, one section per stage in `OUT_DIR/metrics.json`.

Stages today: `tracking` (persons, TrackEval under the MOT17 rules per camera and over all
cameras combined: `hota`, `idf1`, `mota` and the rest of `TrackingMetrics`) and `attribution`
(`receipt_accuracy`, `alert_precision`, `alert_recall`, `reviews_per_1000`, the join accuracies
and per-status line figures, each with a 95 % interval: `attribution_metrics`), `events`
(`OUT_DIR/events.jsonl` against the run's true shelf events: `precision`, `recall`, `f1` with
the shopper condition, `f1_any_shopper`, per kind, the SKU confusion, bootstrap intervals:
`event_metrics`), `mtmc` (global shopper ids over every camera: `mtmc_metrics`) and
`sessions` (`OUT_DIR/sessions.jsonl` and `floor_paths.npz` against the true sessions and
paths: `session_metrics`). A stage
whose output is absent, or whose ground truth the run does not have (a recorded store), is
reported as skipped with the reason, never scored as zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storelens.datasets.recording import StoreRecording
from storelens.evaluation.attribution_metrics import AttributionMetrics
from storelens.evaluation.event_metrics import EventMetrics
from storelens.evaluation.session_metrics import SessionMetrics
from storelens.evaluation.tracking_metrics import COMBINED, TrackingMetrics, evaluate_mot


@dataclass(frozen=True)
class RunMetrics:
    """Per stage: its metrics (tracking: camera or COMBINED → metrics), or why it was skipped."""

    tracking: dict[str, TrackingMetrics] | None = None
    attribution: AttributionMetrics | None = None
    events: EventMetrics | None = None
    mtmc: dict[str, TrackingMetrics] | None = None  # "online" / "revised" → global-id metrics
    sessions: SessionMetrics | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.tracking is not None:
            combined = self.tracking[COMBINED]
            out["tracking"] = {
                **combined.as_dict(),
                "per_camera": {k: m.as_dict() for k, m in self.tracking.items() if k != COMBINED},
            }
        if self.attribution is not None:
            out["attribution"] = self.attribution.as_dict()
        if self.events is not None:
            out["events"] = self.events.as_dict()
        if self.mtmc is not None:
            out["mtmc"] = {
                **self.mtmc["revised"].as_dict(),
                "online": self.mtmc["online"].as_dict(),
            }
        if self.sessions is not None:
            out["sessions"] = self.sessions.as_dict()
        if self.skipped:
            out["skipped"] = dict(self.skipped)
        return out


def evaluate_run(run_dir: str | Path, out_dir: str | Path) -> RunMetrics:
    """Score every stage found in `out_dir` and write `out_dir/metrics.json`."""
    out = Path(out_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"{out}: no such output folder (make it with `storelens run`)")
    skipped: dict[str, str] = {}
    tracking = None
    tracks_dir = out / "tracks"
    if not tracks_dir.is_dir():
        skipped["tracking"] = f"no {tracks_dir}"
    else:
        tracking = _score_tracking(StoreRecording(run_dir), tracks_dir, skipped)
    attribution = _score_attribution(Path(run_dir), out, skipped)
    events = _score_events(Path(run_dir), out, skipped)
    mtmc = _score_mtmc(Path(run_dir), out, skipped)
    sessions = _score_sessions(Path(run_dir), out, skipped)
    metrics = RunMetrics(
        tracking=tracking,
        attribution=attribution,
        events=events,
        mtmc=mtmc,
        sessions=sessions,
        skipped=skipped,
    )
    (out / "metrics.json").write_text(json.dumps(metrics.as_dict(), indent=2))
    return metrics


def _score_tracking(
    recording: StoreRecording, tracks_dir: Path, skipped: dict[str, str]
) -> dict[str, TrackingMetrics] | None:
    cameras = [c for c in recording.camera_ids if (tracks_dir / f"{c}.txt").is_file()]
    missing_gt = [c for c in cameras if not recording.has_ground_truth(c)]
    untracked = [c for c in recording.camera_ids if c not in cameras]
    if untracked and cameras:
        skipped["tracking.cameras"] = (
            f"no tracks for cameras {untracked}: COMBINED covers {cameras} only"
        )
    if not cameras:
        skipped["tracking"] = f"{tracks_dir} holds no results for the run's cameras"
        return None
    if missing_gt:
        skipped["tracking"] = f"the run has no ground truth for cameras {missing_gt}"
        return None
    return evaluate_mot(
        {c: recording.camera_dir(c) for c in cameras},
        {c: tracks_dir / f"{c}.txt" for c in cameras},
        benchmark="MOT17",
    )


def _score_attribution(
    run_dir: Path, out: Path, skipped: dict[str, str]
) -> AttributionMetrics | None:
    from storelens.datasets.sim.truth import TruthSession, read_truth
    from storelens.evaluation.attribution_metrics import score_attribution
    from storelens.evaluation.attribution_runner import BASKETS_FILE, load_attribution

    if not (out / BASKETS_FILE).is_file():
        skipped["attribution"] = f"no {out / BASKETS_FILE}"
        return None
    if not (run_dir / "sessions.jsonl").is_file():
        skipped["attribution"] = f"{run_dir} has no ground-truth sessions"
        return None
    truth = read_truth(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    sessions = [s for s in truth["sessions.jsonl"] if isinstance(s, TruthSession)]
    return score_attribution(
        sessions,
        load_attribution(out),
        true_offsets_s=manifest.get("terminal_clock_offsets_s"),
    )


SHOPPERS_DIR = "shoppers"


def _score_mtmc(
    run_dir: Path, out: Path, skipped: dict[str, str]
) -> dict[str, TrackingMetrics] | None:
    """Global shopper ids over every camera (`mtmc_metrics`): as reported online, and with
    every merge applied (`revised`, the headline)."""
    from storelens.evaluation.mtmc_metrics import evaluate_mtmc

    folder = out / SHOPPERS_DIR
    if not folder.is_dir():
        skipped["mtmc"] = f"no {folder} (the store has no calibration, or the run predates it)"
        return None
    recording = StoreRecording(run_dir)
    cameras = [c for c in recording.camera_ids if (folder / f"{c}.txt").is_file()]
    missing_gt = [c for c in cameras if not recording.has_ground_truth(c)]
    if not cameras or missing_gt:
        skipped["mtmc"] = f"no global ids or no ground truth for cameras {missing_gt or cameras}"
        return None
    return {
        "online": evaluate_mtmc(recording, {c: folder / f"{c}.txt" for c in cameras}),
        "revised": evaluate_mtmc(recording, {c: folder / "revised" / f"{c}.txt" for c in cameras}),
    }


def _score_sessions(run_dir: Path, out: Path, skipped: dict[str, str]) -> SessionMetrics | None:
    """The pipeline's sessions and paths against the true ones (`session_metrics`)."""
    from storelens.attribution.paths import FloorPaths
    from storelens.datasets.sim.paths import FLOOR_PATHS_FILE
    from storelens.datasets.sim.truth import TruthSession
    from storelens.datasets.sim.writer import read_records
    from storelens.evaluation.session_metrics import score_sessions
    from storelens.records import ObservedSession

    found = [out / SESSIONS_FILE, out / FLOOR_PATHS_FILE]
    truth = [run_dir / SESSIONS_FILE, run_dir / FLOOR_PATHS_FILE]
    if not all(p.is_file() for p in found):
        skipped["sessions"] = f"no {found[0]} and {found[1].name} (the store has no calibration)"
        return None
    if not all(p.is_file() for p in truth):
        skipped["sessions"] = f"{run_dir} has no ground-truth sessions and floor paths"
        return None
    return score_sessions(
        read_records(truth[0], TruthSession),
        read_records(found[0], ObservedSession),
        FloorPaths.load(truth[1]),
        FloorPaths.load(found[1]),
    )


SESSIONS_FILE = "sessions.jsonl"
EVENTS_FILE = "events.jsonl"


def _score_events(run_dir: Path, out: Path, skipped: dict[str, str]) -> EventMetrics | None:
    from storelens.datasets.sim.truth import read_truth
    from storelens.datasets.sim.writer import read_records
    from storelens.evaluation.event_metrics import score_events, track_shoppers
    from storelens.records import ObservedShelfEvent, ShelfEvent

    if not (out / EVENTS_FILE).is_file():
        skipped["events"] = f"no {out / EVENTS_FILE}"
        return None
    if not (run_dir / EVENTS_FILE).is_file():
        skipped["events"] = f"{run_dir} has no ground-truth shelf events"
        return None
    # the pipeline writes ObservedShelfEvents; plain ShelfEvents (from elsewhere) score alike
    first = (out / EVENTS_FILE).read_text(encoding="utf-8").split("\n", 1)[0]
    model = ObservedShelfEvent if '"decided_at"' in first else ShelfEvent
    predicted = read_records(out / EVENTS_FILE, model)
    shopper_of = (
        track_shoppers(StoreRecording(run_dir), out / "tracks") if (out / "tracks").is_dir() else {}
    )
    return score_events(read_truth(run_dir)[EVENTS_FILE], predicted, shopper_of)
