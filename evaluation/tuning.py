"""Tracker settings chosen on one sequence and reported on another, the same way for every
tracker (the MOT15 rows of the tracking benchmark).

Protocol:

- **Search space.** Each tracker — storelens and every peer — has a small fixed grid over its
  own knobs (`SPACES`): storelens over `TrackerConfig` fields on top of its store defaults
  (`configs/tracking/default.yaml`, set on simulations, never on TUD), each peer over the
  equivalent knobs its adapter exposes (`storelens.evaluation.peers.trackers.KNOBS`: score
  thresholds, lost-track buffer in seconds, matching IoU, hits before reporting, and OC-SORT's
  direction weight, C-BIoU's buffer, boxmot's Kalman noise scales where they exist). Where two
  trackers share a knob they share its values.
- **Budget.** The same for every tracker: `BUDGET` settings, its defaults first, then
  `BUDGET - 1` distinct grid points drawn uniformly with the same seed (`SearchSpace.draw`).
- **Folds.** With two sequences A and B: tune on A and report on B, then tune on B and report
  on A. Selection is by HOTA (TrackEval, `evaluate_mot` with the benchmark's rules) on the tuning
  sequence alone (`choose` sees nothing of the other); ties keep the earlier setting (the
  defaults first).
- **Report.** Per tracker: each held-out result, and the two held-out results scored together as
  two sequences (`COMBINED`); beside them its defaults, untuned, on each sequence and combined.

Every setting is tracked on both sequences once (each is the tuning sequence of one fold); a
held-out result is scored only for the setting its fold chose.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Sequence as Seq
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from storelens.boxes import xyxy_to_tlwh
from storelens.config import override
from storelens.datasets.formats.mot import MotTable, write_mot
from storelens.evaluation.mot_runner import Sequence, detections_by_frame, track_sequences
from storelens.evaluation.peers.boxmot_peers import BOXMOT_PEERS, track_many_with_boxmot
from storelens.evaluation.peers.trackers import PEER_NAMES, PEERS, PeerTracker
from storelens.evaluation.tracking_metrics import COMBINED, TrackingMetrics, evaluate_mot
from storelens.tracking.config import TrackerConfig

BUDGET = 24  # settings per tracker (its defaults + 23 drawn), the same for every tracker
SEED = 0  # the same draw seed for every tracker

# shared value grids: a knob two trackers both have gets the same values
HIGH = (0.2, 0.3, 0.4, 0.5, 0.6)
NEW = (0.3, 0.4, 0.5, 0.6, 0.7)
LOW = (0.05, 0.1)
LOST_S = (0.4, 0.8, 1.2, 2.0, 3.0)
IOU = (0.1, 0.2, 0.3, 0.4)
HITS = (1, 2, 3)
DIRECTION = (0.0, 0.1, 0.2, 0.4)
PROCESS_NOISE_SCALE = (0.5, 1.0, 2.0, 4.0)
MEASUREMENT_NOISE_SCALE = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class SearchSpace:
    """knob → the values it may take; a setting is one value per knob (a grid point)."""

    knobs: Mapping[str, tuple[Any, ...]]

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.knobs.values())

    def draw(self, budget: int = BUDGET, seed: int = SEED) -> list[dict[str, Any]]:
        """`budget` settings: `{}` (the tracker's defaults) first, then `budget - 1` distinct grid
        points, each knob's value drawn uniformly with `seed` (knobs in name order, so the draw
        does not depend on how the space was written down)."""
        if budget < 1 or budget - 1 > self.size:
            raise ValueError(f"budget {budget}: needs 1 <= budget <= {self.size + 1}")
        names = sorted(self.knobs)
        rng = np.random.default_rng(seed)
        drawn: list[dict[str, Any]] = [{}]
        seen: set[tuple[int, ...]] = set()
        while len(drawn) < budget:
            pick = tuple(int(rng.integers(len(self.knobs[n]))) for n in names)
            if pick not in seen:
                seen.add(pick)
                drawn.append({n: self.knobs[n][i] for n, i in zip(names, pick, strict=True)})
        return drawn


STORELENS = "storelens StoreTracker"
SPACES: dict[str, SearchSpace] = {
    STORELENS: SearchSpace(  # TrackerConfig fields over configs/tracking/default.yaml
        {
            "high_score": HIGH,
            "new_track_score": NEW,
            "low_score": LOW,
            "lost_track_buffer_s": LOST_S,
            "match_cost": tuple(round(1 - v, 2) for v in IOU),  # a gate on 1 - IoU
            "min_hits": HITS,
            "direction_weight": DIRECTION,
            "position_noise": (0.05, 0.1, 0.25),
            "velocity_noise": (0.4, 0.8, 1.6),
        }
    ),
    "bytetrack": SearchSpace(
        {
            "high_score": HIGH,
            "new_track_score": NEW,
            "lost_track_buffer_s": LOST_S,
            "match_iou": IOU,
            "min_hits": HITS,
        }
    ),
    "ocsort": SearchSpace(
        {
            "high_score": HIGH,
            "lost_track_buffer_s": LOST_S,
            "match_iou": IOU,
            "min_hits": HITS,
            "direction_weight": DIRECTION,
        }
    ),
    "botsort": SearchSpace(
        {
            "high_score": HIGH,
            "new_track_score": NEW,
            "lost_track_buffer_s": LOST_S,
            "match_iou": IOU,
            "min_hits": HITS,
        }
    ),
    "cbiou": SearchSpace(
        {
            "high_score": HIGH,
            "new_track_score": NEW,
            "lost_track_buffer_s": LOST_S,
            "match_iou": IOU,
            "min_hits": HITS,
            "buffer_ratio": (0.1, 0.3, 0.5),
        }
    ),
    "sort": SearchSpace(
        {
            "new_track_score": NEW,
            "lost_track_buffer_s": LOST_S,
            "match_iou": IOU,
            "min_hits": HITS,
        }
    ),
    "deepsort": SearchSpace(  # no appearance on TUD, so no appearance gate to tune
        {
            "min_score": (0.0, 0.1, 0.2, 0.3, 0.4),
            "lost_track_buffer_s": LOST_S,
            "match_iou": IOU,
            "min_hits": HITS,
        }
    ),
    "boxmot ByteTrack": SearchSpace(
        {
            "high_score": HIGH,
            "low_score": LOW,
            "lost_track_buffer_s": LOST_S,
            "match_iou": IOU,
            "process_noise_scale": PROCESS_NOISE_SCALE,
            "measurement_noise_scale": MEASUREMENT_NOISE_SCALE,
        }
    ),
    "boxmot OC-SORT": SearchSpace(
        {
            "high_score": HIGH,
            "low_score": LOW,
            "lost_track_buffer_s": LOST_S,
            "match_iou": IOU,
            "min_hits": HITS,
            "direction_weight": DIRECTION,
            "process_noise_scale": PROCESS_NOISE_SCALE,
            "measurement_noise_scale": MEASUREMENT_NOISE_SCALE,
        }
    ),
    "boxmot BoT-SORT": SearchSpace(
        {
            "high_score": HIGH,
            "new_track_score": NEW,
            "low_score": LOW,
            "lost_track_buffer_s": LOST_S,
            "match_iou": IOU,
            "process_noise_scale": PROCESS_NOISE_SCALE,
            "measurement_noise_scale": MEASUREMENT_NOISE_SCALE,
        }
    ),
    "boxmot BoostTrack": SearchSpace(
        {
            "high_score": HIGH,
            "lost_track_buffer_s": LOST_S,
            "match_iou": IOU,
            "min_hits": HITS,
            "process_noise_scale": PROCESS_NOISE_SCALE,
            "measurement_noise_scale": MEASUREMENT_NOISE_SCALE,
        }
    ),
}

# sequences, settings, one output folder per setting → per setting, sequence name → results file
Runner = Callable[[list[Sequence], list[dict[str, Any]], list[Path]], list[dict[str, Path]]]


@dataclass(frozen=True)
class Contender:
    """One tracker under the protocol: its name in the tables, what it is given (for the row
    label), its search space and how to run a list of settings."""

    name: str
    given: str
    space: SearchSpace
    run: Runner = field(repr=False)


@contextlib.contextmanager
def single_threaded(torch: bool = False) -> Iterator[None]:
    """One BLAS thread (and, with `torch`, one torch intra-op thread) while trackers run. Their
    matrices are tiny (Kalman filters, a few tracks), and on a shared 2-core machine OpenBLAS'
    thread pool makes each small solve milliseconds long (deep-sort-realtime's gating 5x
    slower); two torch threads fighting over the cores make its embedder >5x slower. The same
    for every tracker; the BLAS limit is a no-op where threadpoolctl is not installed."""
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        except ImportError:
            pass
        if torch:
            import torch as _torch

            before = _torch.get_num_threads()
            _torch.set_num_threads(1)
            stack.callback(_torch.set_num_threads, before)
        yield


def sequence_fps(seq: Sequence) -> float:
    return 1.0 / float(np.median(np.diff(seq.times)))


def track_with_peer(
    name: str,
    sequences: list[Sequence],
    tuned: Mapping[str, Any] | None,
    out: Path,
    fps: Mapping[str, float] | None = None,
    videos: Mapping[str, Path] | None = None,
) -> dict[str, Path]:
    """One `PeerTracker` per sequence (frame rate from `fps`, else the sequence's times);
    name → results file. With `videos` (name → video file, frame f = the f-th decoded image)
    deep-sort-realtime runs its own embedder on crops of the frames."""
    import cv2

    files = {}
    for seq in sequences:
        rate = fps[seq.name] if fps is not None else sequence_fps(seq)
        video = None if videos is None else videos[seq.name]
        peer = PeerTracker(name, rate, tuned, appearance=video is not None)
        capture = cv2.VideoCapture(str(video)) if video is not None else None
        rows = []
        try:
            for f, dets in enumerate(detections_by_frame(seq.detections, seq.name, seq.times), 1):
                image = None
                if capture is not None:
                    ok, image = capture.read()
                    if not ok:
                        raise ValueError(
                            f"{video}: no frame {f} (the sequence has {len(seq.times)})"
                        )
                xyxy, ids = peer.step(dets.xyxy, dets.confidence, image)
                n = len(ids)
                rows.append(
                    MotTable(
                        np.full(n, f),
                        ids,
                        xyxy_to_tlwh(xyxy),
                        np.ones(n),
                        np.ones(n, int),
                        np.ones(n),
                    )
                )
        finally:
            if capture is not None:
                capture.release()
        files[seq.name] = write_mot(
            out / f"{seq.name}.txt", MotTable.concatenate(rows), kind="results"
        )
    return files


def storelens_runner(base: TrackerConfig) -> Runner:
    """storelens with `override(base, setting)`, one sequence at a time (no appearance)."""

    def run(
        sequences: list[Sequence], settings: list[dict[str, Any]], outs: list[Path]
    ) -> list[dict[str, Path]]:
        files = []
        for setting, out in zip(settings, outs, strict=True):
            config = override(base, setting)
            files.append(
                {
                    seq.name: write_mot(
                        out / f"{seq.name}.txt",
                        track_sequences([seq], config)[seq.name],
                        kind="results",
                    )
                    for seq in sequences
                }
            )
        return files

    return run


def peer_runner(name: str) -> Runner:
    def run(
        sequences: list[Sequence], settings: list[dict[str, Any]], outs: list[Path]
    ) -> list[dict[str, Path]]:
        return [track_with_peer(name, sequences, s, o) for s, o in zip(settings, outs, strict=True)]

    return run


def boxmot_runner(tracker: str) -> Runner:
    def run(
        sequences: list[Sequence], settings: list[dict[str, Any]], outs: list[Path]
    ) -> list[dict[str, Path]]:
        fps = float(np.median([sequence_fps(s) for s in sequences]))
        return track_many_with_boxmot(tracker, sequences, fps, settings, outs)

    return run


def contenders(base: TrackerConfig, with_boxmot: bool = True) -> list[Contender]:
    """storelens, the roboflow peers, deep-sort-realtime (no images, so no appearance) and, when
    `with_boxmot`, boxmot's trackers; each with its search space."""
    motion = "IoU+motion only"
    found = [Contender(STORELENS, motion, SPACES[STORELENS], storelens_runner(base))]
    for peer in PEERS:
        given = (
            "IoU+motion only: no images in the TUD copy, so no appearance"
            if peer == "deepsort"
            else f"{motion}, no re-id, no CMC"
        )
        found.append(Contender(PEER_NAMES[peer], given, SPACES[peer], peer_runner(peer)))
    if with_boxmot:
        for name, tracker in BOXMOT_PEERS.items():
            given = f"{motion}, re-id and CMC off"
            found.append(Contender(name, given, SPACES[name], boxmot_runner(tracker)))
    return found


@dataclass(frozen=True)
class Fold:
    tuning: str
    held_out: str
    chosen: int  # index into the settings
    setting: dict[str, Any]
    tuning_hota: tuple[float, ...]  # every setting's HOTA on the tuning sequence
    held_out_metrics: TrackingMetrics


@dataclass(frozen=True)
class CrossValidation:
    tracker: str
    given: str
    settings: list[dict[str, Any]]
    folds: tuple[Fold, ...]
    combined: TrackingMetrics  # both held-out results scored together as two sequences
    defaults: dict[str, TrackingMetrics]  # setting 0 on each sequence, and COMBINED

    def summary(self) -> dict[str, Any]:
        """JSON-ready: settings, each fold's choice and scores, combined, defaults."""
        return {
            "tracker": self.tracker,
            "given": self.given,
            "settings": self.settings,
            "folds": [
                {
                    "tuning": f.tuning,
                    "held_out": f.held_out,
                    "chosen": f.chosen,
                    "setting": f.setting,
                    "tuning_hota": list(f.tuning_hota),
                    "held_out_metrics": asdict(f.held_out_metrics),
                }
                for f in self.folds
            ],
            "combined": asdict(self.combined),
            "defaults": {k: asdict(v) for k, v in self.defaults.items()},
        }


def track_settings(
    contender: Contender,
    sequences: list[Sequence],
    out: Path,
    budget: int = BUDGET,
    seed: int = SEED,
) -> tuple[list[dict[str, Any]], list[dict[str, Path]]]:
    """The contender's drawn settings and, per setting, every sequence's results file."""
    settings = contender.space.draw(budget, seed)
    outs = [out / f"setting{i:02d}" for i in range(len(settings))]
    return settings, contender.run(sequences, settings, outs)


def choose(
    files: Seq[Mapping[str, Path]],
    folders: Mapping[str, Path],
    tuning: str,
    benchmark: str = "MOT15",
) -> tuple[int, list[float]]:
    """The setting with the best HOTA on sequence `tuning` (the first of equals), and every
    setting's HOTA there. Only `folders[tuning]` and each setting's `tuning` results are read:
    all settings are scored in one TrackEval call, each as its own copy of the sequence."""
    aliases = [f"setting{i:03d}" for i in range(len(files))]
    scores = evaluate_mot(
        {a: folders[tuning] for a in aliases},
        {a: f[tuning] for a, f in zip(aliases, files, strict=True)},
        benchmark=benchmark,
    )
    hota = [scores[a].hota for a in aliases]
    return int(np.argmax(hota)), hota


def score_folds(
    contender: Contender,
    settings: list[dict[str, Any]],
    files: list[dict[str, Path]],
    folders: Mapping[str, Path],
    benchmark: str = "MOT15",
) -> CrossValidation:
    """Both folds over two sequences (tune on one, report on the other, and back), the two
    held-out results combined, and the defaults (setting 0) on both."""
    names = list(folders)
    if len(names) != 2:
        raise ValueError(f"two sequences are cross-validated, not {len(names)}: {names}")
    folds = []
    for tuning, held_out in itertools.permutations(names):
        chosen, hota = choose(files, folders, tuning, benchmark)
        folds.append((tuning, held_out, chosen, hota))
    held_out = evaluate_mot(
        dict(folders), {h: files[c][h] for _, h, c, _ in folds}, benchmark=benchmark
    )
    return CrossValidation(
        tracker=contender.name,
        given=contender.given,
        settings=settings,
        folds=tuple(
            Fold(t, h, c, settings[c], tuple(hota), held_out[h]) for t, h, c, hota in folds
        ),
        combined=held_out[COMBINED],
        defaults=evaluate_mot(dict(folders), files[0], benchmark=benchmark),
    )


def cross_validate(
    contender: Contender,
    sequences: list[Sequence],
    folders: Mapping[str, Path],
    out: Path,
    budget: int = BUDGET,
    seed: int = SEED,
    benchmark: str = "MOT15",
) -> CrossValidation:
    """The whole protocol for one tracker (see the module docstring)."""
    settings, files = track_settings(contender, sequences, out, budget, seed)
    return score_folds(contender, settings, files, folders, benchmark)


def write_summary(results: list[CrossValidation], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.summary() for r in results], indent=1))
    return path
