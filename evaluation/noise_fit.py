"""Fitting the synthetic detector noise (`synthetic_detections.FittedNoise`) to what a real
detector does on simulated video it was not trained on, and checking the fit.

    .venv/bin/python -m storelens.evaluation.noise_fit            # fit; check on held-out seeds
    .venv/bin/python -m storelens.evaluation.noise_fit --shipped  # also rewrite the shipped model

(`configs/noise/shipped_detector.yaml`, which `noisy_detections` uses by default).

The shipped detector was trained on the `crowded` scenario, seed 0; the tracker's store
defaults were set on seeds 7, 11, 12 and its benchmark scores 13, 14, 15. The fit uses seeds 21
and 22 (30 s, all six cameras), the check seed 23. Each camera's detections come from
`storelens run` (`store_runner.run_store(..., detections="model")`: the pipeline's detector
adapter, as served), cached beside the simulation under `runs/bench/noise/`.

Detections are matched to ground-truth person boxes frame by frame (Hungarian on IoU, matches
at IoU >= 0.5). What is measured (`DetectorStats`, the same for real and generated detections)
and what is fitted, part by part:

- detection probability per visibility x box-height cell, and the Markov chain of misses per
  ground-truth track: P(miss | detected before), P(miss | missed one frame) per cell, and a
  log-odds shift per longer run (runs of 2, 3, ... 6+ missed frames);
- box error (centre offsets / size, log size ratios): mean and scale per visibility bin, the
  standardised error's quantiles, and its persistence (`fit_persistence`: AR(1) coefficient
  and reset rate, by the lag-1 correlation and the median frame-to-frame change);
- score quantiles of detected people per visibility bin, and their persistence;
- unmatched boxes overlapping a person (IoU >= 0.1: duplicates the NMS kept, part-of-person
  boxes): their number per person (a Markov chain, given whether the person is detected), a
  k-means mixture of their offsets from the true box, each component's scores, how they last;
- clutter (unmatched boxes overlapping nobody): per camera its rate, where it appears and how
  big it is (a k-means mixture over centre and log size), and how many frames it lasts.

Then `calibrate` refines six knobs by simulation so that what the parts cannot see alone (one
person's extra box matching a missed neighbour, a duplicate beating the detection) is in: the
generated detections, measured like the real ones, match them on the fitting data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict
from scipy.optimize import linear_sum_assignment
from scipy.special import ndtri

from storelens.boxes import box_iou_batch, tlwh_to_xyxy
from storelens.datasets.formats.mot import MotTable, read_mot, read_seqinfo
from storelens.evaluation.synthetic_detections import (
    ALL_CAMERAS,
    BoxErrorModel,
    ClutterComponent,
    ClutterModel,
    ExtraCluster,
    ExtrasMixture,
    ExtrasModel,
    FittedNoise,
    NoiseModel,
    NoiseSource,
    Persistence,
    ScoreModel,
    _logistic,
    noisy_detections,
    pair_iou,
)
from storelens.evaluation.synthetic_detections import (
    _logit as _logit_table,
)
from storelens.inference.loading import SHIPPED, model_file, model_ref
from storelens.settings import runs_dir

SCENARIO = "crowded"
FIT_SEEDS = (21, 22)
HELD_OUT_SEEDS = (23,)
DURATION_S = 30.0
# seeds the fit must not touch: the detector's training data (model card) and the tracker's
# tuning and benchmark stores (tracking/config.py, evaluation/bench/tracking.py)
RESERVED_SEEDS = {
    0: "trained the shipped detector",
    7: "tuned the tracker",
    11: "tuned the tracker",
    12: "tuned the tracker",
    13: "the tracker benchmark",
    14: "the tracker benchmark",
    15: "the tracker benchmark",
}
MATCH_IOU = 0.5
EXTRA_IOU = 0.1  # an unmatched box overlapping a person at least this much is an "extra"
PERSIST_IOU = 0.5
# a box "is there again" next frame when a box of its kind overlaps it so; a matched box this
# close to the last frame's is the same box, not a switch to another box on the person
SAME_BOX_IOU = 0.5
VISIBILITY_CUTS = (0.2, 0.4, 0.6, 0.8, 0.9, 0.98)
HEIGHT_CUTS = (20.0, 40.0, 60.0, 100.0, 150.0)
SCORE_LEVELS = 21
CLUSTER_SCORE_LEVELS = 11
MAX_EXTRAS = 5
MAX_EXTRA_COMPONENTS = 8  # k-means components of the extra boxes (per detected state)
CALIBRATION_ROUNDS = 4
MISS_RUN_MAX = 6  # miss runs this long and longer share one log-odds shift
ERROR_LEVELS = (
    0,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.6,
    0.7,
    0.8,
    0.85,
    0.9,
    0.95,
    0.98,
    0.99,
    0.995,
    0.998,
    1,
)
MAX_CLUTTER_COMPONENTS = 6  # places (and sizes) per camera where clutter appears
MIN_CLUTTER_BOXES = 5  # a camera with fewer clutter boxes takes the pooled places
COMMAND = ".venv/bin/python -m storelens.evaluation.noise_fit --shipped"
SHIPPED_FILE = Path(__file__).resolve().parents[1] / "configs" / "noise" / "shipped_detector.yaml"
DETECT_KEY = "detect_key.txt"


# --- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraRun:
    """One camera of one run: its person ground truth (sorted by track, frame) and detections."""

    name: str
    camera_id: str
    width: int
    height: int
    n_frames: int
    gt: MotTable
    det: MotTable


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def detect_store(run_dir: str | Path, out_dir: str | Path, model: str | Path = SHIPPED) -> Path:
    """`storelens run RUN_DIR --out OUT_DIR` with the detector: `OUT_DIR/detections/<cam>.txt`.
    Skipped when OUT_DIR already holds this detector's detections of this simulation."""
    from storelens.evaluation.store_runner import run_store

    run, out = Path(run_dir), Path(out_dir)
    weights = model_file(model_ref(model))
    sim_key = run / "cache_key.txt"
    key = json.dumps(
        {
            "run": str(run.resolve()),
            "simulation": sim_key.read_text() if sim_key.is_file() else None,
            "detector_sha256": file_sha256(weights),
        },
        sort_keys=True,
    )
    key_file = out / DETECT_KEY
    if key_file.is_file() and key_file.read_text() == key:
        return out
    key_file.unlink(missing_ok=True)
    run_store(run, out, detections="model", model=str(weights), progress=False)
    key_file.write_text(key)
    return out


def load_cameras(
    run_dir: str | Path,
    det_dir: str | Path | None = None,
    cameras: Sequence[str] | None = None,
    prefix: str = "",
) -> list[CameraRun]:
    """Ground truth of `run_dir` beside `det_dir/detections/<cam>.txt` (empty when det_dir is
    None: for generated detections)."""
    from storelens.datasets.recording import StoreRecording

    recording = StoreRecording(run_dir)
    out = []
    for cid in cameras or recording.camera_ids:
        gt = recording.ground_truth(cid)
        persons = gt.select(gt.class_id == 1)
        persons = persons.select(np.lexsort((persons.frame, persons.track_id)))
        width, height = recording.image_size(cid)
        n_frames = read_seqinfo(recording.camera_dir(cid) / "seqinfo.ini").seq_length
        det = (
            read_mot(Path(det_dir) / "detections" / f"{cid}.txt", kind="det")
            if det_dir is not None
            else MotTable.empty()
        )
        out.append(CameraRun(prefix + cid, cid, width, height, n_frames, persons, det))
    return out


def with_generated(
    cameras: Sequence[CameraRun], noise: NoiseModel | None = None, seed: int = 0
) -> list[CameraRun]:
    """The same cameras with detections from `noisy_detections` (camera i: seed * 1000 + i)."""
    out = []
    for i, cam in enumerate(cameras):
        det = noisy_detections(
            cam.gt, cam.width, cam.height, noise, seed=seed * 1000 + i, camera_id=cam.camera_id
        )
        out.append(
            CameraRun(cam.name, cam.camera_id, cam.width, cam.height, cam.n_frames, cam.gt, det)
        )
    return out


# --- matching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Matching:
    gt_det: np.ndarray  # (G,) the matched detection, -1 for a miss
    gt_iou: np.ndarray  # (G,) IoU with it (0 for a miss)
    det_gt: np.ndarray  # (D,) the matched ground truth, -1 for a false positive
    det_iou: np.ndarray  # (D,) best IoU with any person box of its frame
    det_near: np.ndarray  # (D,) that person box (-1 when none overlaps)


def match_detections(gt: MotTable, det: MotTable, iou_min: float = MATCH_IOU) -> Matching:
    """Per frame, Hungarian assignment maximising IoU among pairs with IoU >= iou_min."""
    gt_det, gt_iou = np.full(len(gt), -1), np.zeros(len(gt))
    det_gt, det_iou, det_near = np.full(len(det), -1), np.zeros(len(det)), np.full(len(det), -1)
    g_xyxy = tlwh_to_xyxy(gt.tlwh.astype(np.float64))
    d_xyxy = tlwh_to_xyxy(det.tlwh.astype(np.float64))
    g_order, d_order = np.argsort(gt.frame, kind="stable"), np.argsort(det.frame, kind="stable")
    frames = np.intersect1d(gt.frame, det.frame)
    g_lo = np.searchsorted(gt.frame[g_order], frames)
    g_hi = np.searchsorted(gt.frame[g_order], frames, side="right")
    d_lo = np.searchsorted(det.frame[d_order], frames)
    d_hi = np.searchsorted(det.frame[d_order], frames, side="right")
    for a, b, c, d in zip(g_lo, g_hi, d_lo, d_hi, strict=True):
        gi, di = g_order[a:b], d_order[c:d]
        iou = box_iou_batch(g_xyxy[gi], d_xyxy[di])
        best = iou.argmax(axis=0)
        det_iou[di] = iou[best, np.arange(len(di))]
        det_near[di] = np.where(det_iou[di] > 0, gi[best], -1)
        r, c2 = linear_sum_assignment(np.where(iou >= iou_min, iou, 0), maximize=True)
        ok = iou[r, c2] >= iou_min
        gt_det[gi[r[ok]]] = di[c2[ok]]
        gt_iou[gi[r[ok]]] = iou[r[ok], c2[ok]]
        det_gt[di[c2[ok]]] = gi[r[ok]]
    return Matching(gt_det, gt_iou, det_gt, det_iou, det_near)


def box_errors(gt_tlwh: np.ndarray, det_tlwh: np.ndarray) -> np.ndarray:
    """(N,4): centre offsets as fractions of the true width / height, log size ratios."""
    g, d = gt_tlwh, det_tlwh
    return np.column_stack(
        [
            (d[:, 0] + d[:, 2] / 2 - g[:, 0] - g[:, 2] / 2) / g[:, 2],
            (d[:, 1] + d[:, 3] / 2 - g[:, 1] - g[:, 3] / 2) / g[:, 3],
            np.log(d[:, 2] / g[:, 2]),
            np.log(d[:, 3] / g[:, 3]),
        ]
    )


def _follows(gt: MotTable) -> np.ndarray:
    """(G,) for each row (sorted by track, frame) whether the previous row is the same track's
    previous frame."""
    out = np.zeros(len(gt), bool)
    out[1:] = (gt.track_id[1:] == gt.track_id[:-1]) & (gt.frame[1:] == gt.frame[:-1] + 1)
    return out


def _again(det: MotTable, mask: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """For the boxes in `mask` on frames < n_frames: (which, whether one of them overlaps it at
    IoU >= PERSIST_IOU on the next frame) and the index of that box (-1 none)."""
    idx = np.flatnonzero(mask & (det.frame < n_frames))
    nxt = np.full(len(idx), -1)
    if not len(idx):
        return idx, nxt
    pool = np.flatnonzero(mask)
    xyxy = tlwh_to_xyxy(det.tlwh.astype(np.float64))
    frames = det.frame[pool]
    for f in np.unique(det.frame[idx]):
        a = idx[det.frame[idx] == f]
        b = pool[frames == f + 1]
        if not len(b):
            continue
        iou = box_iou_batch(xyxy[a], xyxy[b])
        best = iou.argmax(axis=1)
        hit = iou[np.arange(len(a)), best] >= PERSIST_IOU
        nxt[np.searchsorted(idx, a[hit])] = b[best[hit]]
    return idx, nxt


# --- statistics ---------------------------------------------------------------------------------


class DetectorStats(BaseModel):
    """What a detector (real or generated) does against the ground truth, pooled over cameras."""

    model_config = ConfigDict(frozen=True)

    camera_frames: int
    gt_boxes: int
    miss_rate: float
    mean_miss_run: float  # frames, over maximal runs of consecutive misses within a track
    p_miss_after_hit: float
    p_miss_after_miss: float
    box_error_lag1: float  # mean over the 4 components of the lag-1 autocorrelation
    box_error_std: float  # mean over the 4 components of the error's std
    mean_iou: float  # IoU of matched boxes with their ground truth
    tp_score_mean: float
    tp_score_lag1: float
    fp_per_frame: float
    fp_high_per_frame: float  # false positives scoring >= 0.5 (the tracker's high_score)
    extras_per_frame: float  # false positives overlapping a person (IoU >= 0.1)
    duplicates_per_frame: float  # false positives at IoU >= 0.5 with a person
    clutter_per_frame: float  # false positives overlapping no person
    fp_persistence: float  # P(an FP has an FP at IoU >= 0.5 in the next frame)
    clutter_persistence: float
    fp_score_mean: float


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _mean(x: np.ndarray, default: float = 0.0) -> float:
    return float(np.mean(x)) if len(x) else default


def detector_stats(cameras: Sequence[CameraRun]) -> DetectorStats:
    hit, follows, prev_hit, miss_runs = [], [], [], []
    err_a, err_b, ious, tp_scores, sa, sb = [], [], [], [], [], []
    fp_n = high_n = extra_n = dup_n = clutter_n = 0
    fp_scores, fp_again, clutter_again = [], [], []
    frames = 0
    for cam in cameras:
        m = match_detections(cam.gt, cam.det)
        frames += cam.n_frames
        h = m.gt_det >= 0
        f = _follows(cam.gt)
        hit.append(h)
        follows.append(f[1:])
        prev_hit.append(h[:-1])
        # miss runs: maximal runs of misses within a segment of consecutive frames
        start = ~f
        run_id = np.cumsum(start | np.r_[True, h[:-1] != h[1:]])
        miss_runs.append(np.bincount(run_id[~h])[np.unique(run_id[~h])])
        # consecutive detected frames of a track
        pair = f[1:] & h[1:] & h[:-1]
        i1 = np.flatnonzero(pair) + 1
        e = np.zeros((len(cam.gt), 4))
        e[h] = box_errors(cam.gt.tlwh[h], cam.det.tlwh[m.gt_det[h]])
        err_a.append(e[i1 - 1])
        err_b.append(e[i1])
        s = np.zeros(len(cam.gt))
        s[h] = cam.det.conf[m.gt_det[h]]
        sa.append(s[i1 - 1])
        sb.append(s[i1])
        ious.append(m.gt_iou[h])
        tp_scores.append(s[h])
        fp = m.det_gt < 0
        fp_n += int(fp.sum())
        high_n += int((fp & (cam.det.conf >= 0.5)).sum())
        extra_n += int((fp & (m.det_iou >= EXTRA_IOU)).sum())
        dup_n += int((fp & (m.det_iou >= MATCH_IOU)).sum())
        clutter = fp & (m.det_iou < EXTRA_IOU)
        clutter_n += int(clutter.sum())
        fp_scores.append(cam.det.conf[fp])
        fp_again.append(_again(cam.det, fp, cam.n_frames)[1] >= 0)
        clutter_again.append(_again(cam.det, clutter, cam.n_frames)[1] >= 0)
    hit_all = np.concatenate(hit)
    fol, ph = np.concatenate(follows), np.concatenate(prev_hit)
    cur = np.concatenate([h[1:] for h in hit])
    a, b = np.concatenate(err_a), np.concatenate(err_b)
    per = max(frames, 1)
    return DetectorStats(
        camera_frames=frames,
        gt_boxes=len(hit_all),
        miss_rate=_mean(~hit_all),
        mean_miss_run=_mean(np.concatenate(miss_runs)),
        p_miss_after_hit=_mean(~cur[fol & ph]),
        p_miss_after_miss=_mean(~cur[fol & ~ph]),
        box_error_lag1=float(np.mean([_corr(a[:, j], b[:, j]) for j in range(4)])),
        box_error_std=float(np.mean(a.std(axis=0))) if len(a) else 0.0,
        mean_iou=_mean(np.concatenate(ious)),
        tp_score_mean=_mean(np.concatenate(tp_scores)),
        tp_score_lag1=_corr(np.concatenate(sa), np.concatenate(sb)),
        fp_per_frame=fp_n / per,
        fp_high_per_frame=high_n / per,
        extras_per_frame=extra_n / per,
        duplicates_per_frame=dup_n / per,
        clutter_per_frame=clutter_n / per,
        fp_persistence=_mean(np.concatenate(fp_again)),
        clutter_persistence=_mean(np.concatenate(clutter_again)),
        fp_score_mean=_mean(np.concatenate(fp_scores)),
    )


# tolerances of the generated against the real statistics: (absolute, relative); a statistic
# passes when |generated - real| <= max(absolute, relative * |real|)
TOLERANCES: dict[str, tuple[float, float]] = {
    "miss_rate": (0.03, 0.25),
    "mean_miss_run": (0.5, 0.3),
    "p_miss_after_hit": (0.02, 0.3),
    "p_miss_after_miss": (0.1, 0.0),
    "box_error_lag1": (0.1, 0.0),
    "box_error_std": (0.01, 0.25),
    "mean_iou": (0.03, 0.0),
    "tp_score_mean": (0.05, 0.0),
    "tp_score_lag1": (0.1, 0.0),
    "fp_per_frame": (0.5, 0.25),
    "fp_high_per_frame": (0.1, 0.35),
    "extras_per_frame": (0.5, 0.25),
    "clutter_per_frame": (0.1, 0.35),
    "fp_persistence": (0.1, 0.0),
    "fp_score_mean": (0.05, 0.0),
}


@dataclass(frozen=True)
class Comparison:
    name: str
    real: float
    generated: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return abs(self.generated - self.real) <= self.tolerance


def compare(
    real: DetectorStats,
    generated: DetectorStats,
    tolerances: dict[str, tuple[float, float]] | None = None,
) -> list[Comparison]:
    rows = []
    for name, (absolute, relative) in (tolerances or TOLERANCES).items():
        r, g = getattr(real, name), getattr(generated, name)
        rows.append(Comparison(name, r, g, max(absolute, relative * abs(r))))
    return rows


def comparison_table(rows: Sequence[Comparison]) -> str:
    lines = [f"{'statistic':22s} {'real':>8s} {'generated':>10s} {'tolerance':>10s}  ok"]
    for r in rows:
        lines.append(
            f"{r.name:22s} {r.real:8.3f} {r.generated:10.3f} {r.tolerance:10.3f}  "
            f"{'yes' if r.ok else 'NO'}"
        )
    return "\n".join(lines)


# --- fitting ------------------------------------------------------------------------------------


def _shrunk(k: np.ndarray, n: np.ndarray, prior: np.ndarray | float, a: float) -> np.ndarray:
    """(k + a * prior) / (n + a): a proportion pulled towards `prior` when n is small."""
    return (k + a * np.asarray(prior)) / (n + a)


def _empirical_normal(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Normal scores of `values` by their rank within each group (the copula's latent)."""
    z = np.zeros(len(values))
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        ranks = np.argsort(np.argsort(values[idx], kind="stable"), kind="stable")
        z[idx] = ndtri((ranks + 0.5) / len(idx))
    return z


def _levels(values: np.ndarray, n_levels: int, fallback: np.ndarray | None = None) -> list[float]:
    if len(values) < max(10, n_levels // 2) and fallback is not None:
        values = fallback
    if not len(values):
        return [float(v) for v in np.linspace(0.05, 0.95, n_levels)]
    return [float(v) for v in np.quantile(np.clip(values, 0, 1), np.linspace(0, 1, n_levels))]


def fit_persistence(a: np.ndarray, b: np.ndarray) -> Persistence:
    """`Persistence` of a standardised (normal) value from pairs (a_t, b_t = next frame), each
    (N, D), by the method of moments: per component the lag-1 correlation rho_j and the median
    frame-to-frame change m_j. Under the model, rho_j = (1 - reset) c_j, and a change is
    N(0, 2) after a reset and N(0, 2 (1 - c_j)) otherwise; `reset` (shared) is the value whose
    implied medians fit the m_j best (least squares on their logs)."""
    dims = a.shape[1] if a.ndim == 2 else 1
    if len(a) < 10:  # too few pairs to tell: a middling default
        return Persistence(reset=0.2, coefficient=[0.8] * dims)
    a, b = a.reshape(len(a), dims), b.reshape(len(b), dims)
    rho = np.array([np.clip(_corr(a[:, j], b[:, j]), 0.0, 0.99) for j in range(a.shape[1])])
    m = np.maximum(np.median(np.abs(b - a), axis=0), 1e-4)
    grid = np.linspace(0.0, 1 - rho.max() - 1e-3, 200)
    best, best_cost = 0.0, np.inf
    for reset in grid:
        c = np.clip(rho / (1 - reset), 0, 0.999)
        cost = np.sum((np.log(_median_change(reset, c)) - np.log(m)) ** 2)
        if cost < best_cost:
            best, best_cost = float(reset), cost
    c = np.clip(rho / (1 - best), 0, 0.995)
    return Persistence(reset=best, coefficient=[float(v) for v in c])


def _median_change(reset: float, c: np.ndarray) -> np.ndarray:
    """Median |change| of a mixture: N(0, 2) with weight `reset`, else N(0, 2 (1 - c))."""
    from scipy.special import erf

    m = np.logspace(-4, 1, 400)[:, None]
    cdf = reset * erf(m / 2) + (1 - reset) * erf(m / (2 * np.sqrt(np.maximum(1 - c, 1e-8))))
    return m[np.argmax(cdf >= 0.5, axis=0), 0]


def _kmeans(x: np.ndarray, k: int, seed: int = 0, iterations: int = 30) -> np.ndarray:
    """Labels of a deterministic k-means (k-means++ start) of the rows of x."""
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d = np.min([((x - c) ** 2).sum(axis=1) for c in centres], axis=0)
        if d.sum() == 0:
            break
        centres.append(x[rng.choice(len(x), p=d / d.sum())])
    c = np.array(centres)
    labels = np.zeros(len(x), np.int64)
    for _ in range(iterations):
        labels = ((x[:, None, :] - c[None]) ** 2).sum(axis=2).argmin(axis=1)
        new = np.array(
            [x[labels == j].mean(axis=0) if (labels == j).any() else c[j] for j in range(len(c))]
        )
        if np.allclose(new, c):
            break
        c = new
    return np.unique(labels, return_inverse=True)[1]


def miss_runs(hit: np.ndarray, follows: np.ndarray) -> np.ndarray:
    """(G,) missed frames in a row ending at each row (0 where detected), within segments of
    consecutive frames of a track (rows sorted by track, frame; `follows` from `_follows`)."""
    i = np.arange(len(hit))
    before = np.where(hit, i, np.where(~follows, i - 1, -1))  # the row before a run can start
    return np.where(hit, 0, i - np.maximum.accumulate(before)) if len(hit) else i


def _solve_log_odds(p: np.ndarray, k: float) -> float:
    """beta such that sum(sigmoid(logit(p) + beta)) = k (bisection)."""
    if not len(p):
        return 0.0
    base = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))
    lo, hi = -6.0, 6.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(base + mid)))).sum() < k:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _fit_detection(gt_rows: list[tuple[np.ndarray, ...]]) -> tuple[list, list, list, list]:
    vis = np.concatenate([r[0] for r in gt_rows])
    hgt = np.concatenate([r[1] for r in gt_rows])
    hit = np.concatenate([r[2] for r in gt_rows])
    fol = np.concatenate([r[3] for r in gt_rows])
    prev = np.concatenate([np.r_[False, r[2][:-1]] for r in gt_rows])
    run_before = np.concatenate([np.r_[0, miss_runs(r[2], r[3])[:-1]] for r in gt_rows])
    vb = np.searchsorted(VISIBILITY_CUTS, vis, side="right")
    hb = np.searchsorted(HEIGHT_CUTS, hgt, side="right")
    shape = (len(VISIBILITY_CUTS) + 1, len(HEIGHT_CUTS) + 1)

    def table(mask: np.ndarray, event: np.ndarray, default: float) -> np.ndarray:
        n = np.zeros(shape)
        k = np.zeros(shape)
        np.add.at(n, (vb[mask], hb[mask]), 1)
        np.add.at(k, (vb[mask], hb[mask]), event[mask])
        overall = _shrunk(k.sum(), n.sum(), default, 5.0)
        by_vis = _shrunk(k.sum(axis=1), n.sum(axis=1), overall, 10.0)
        return np.clip(_shrunk(k, n, by_vis[:, None], 10.0), 0.0, 1.0)

    p_detect = table(np.ones(len(hit), bool), hit.astype(float), 0.9)
    p_mh = table(fol & prev, (~hit).astype(float), 0.05)
    p_mm = table(fol & (run_before == 1), (~hit).astype(float), 0.6)
    # longer runs: one log-odds shift per run length, matching the observed miss count
    odds = []
    for r in range(2, MISS_RUN_MAX + 1):
        sel = fol & ((run_before == r) if r < MISS_RUN_MAX else (run_before >= r))
        n, k = int(sel.sum()), float((~hit[sel]).sum())
        beta = _solve_log_odds(p_mm[vb[sel], hb[sel]], k) if n else 0.0
        prior = odds[-1] if odds else 0.0
        odds.append(float(np.clip((n * beta + 20 * prior) / (n + 20), -6, 6)))  # shrunk
    return p_detect.tolist(), p_mh.tolist(), p_mm.tolist(), odds


def fit_noise(
    cameras: Sequence[CameraRun], source: NoiseSource, calibration_rounds: int = CALIBRATION_ROUNDS
) -> FittedNoise:
    """The fitted noise model of the detections in `cameras` (see the module docstring): each
    part fitted on its own, then `calibrate`d by simulation."""
    det_rows, errs, err_vis, scores, tp_iou, tp_height = [], [], [], [], [], []
    pair_err = []
    extra_off, extra_score, extra_pairs, extra_owner_hit = [], [], [], []
    count_rows = []  # (count, hit, follows)
    clutter: dict[str, dict] = {}
    clutter_pairs_score = []
    offset = 0
    for cam in cameras:
        m = match_detections(cam.gt, cam.det)
        g = cam.gt
        h = m.gt_det >= 0
        f = _follows(g)
        det_rows.append((g.visibility, g.tlwh[:, 3], h, f))
        # box errors and scores of matched boxes
        e = np.zeros((len(g), 4))
        e[h] = box_errors(g.tlwh[h], cam.det.tlwh[m.gt_det[h]])
        s = np.zeros(len(g))
        s[h] = cam.det.conf[m.gt_det[h]]
        idx = np.flatnonzero(h)
        errs.append(e[h])
        err_vis.append(g.visibility[h])
        scores.append(s[h])
        tp_iou.append(m.gt_iou[h])
        tp_height.append(g.tlwh[h, 3])
        where = np.full(len(g), -1)
        where[idx] = np.arange(len(idx)) + offset
        pair = np.flatnonzero(f[1:] & h[1:] & h[:-1]) + 1
        # the same box on consecutive frames: not a switch to another box on the person
        d0, d1 = cam.det.tlwh[m.gt_det[pair - 1]], cam.det.tlwh[m.gt_det[pair]]
        pair = pair[pair_iou(d0, d1) >= SAME_BOX_IOU]
        pair_err.append(np.column_stack([where[pair - 1], where[pair]]))
        offset += len(idx)
        # extras: unmatched boxes overlapping a person
        fp = m.det_gt < 0
        extra = np.flatnonzero(fp & (m.det_iou >= EXTRA_IOU))
        owner = m.det_near[extra]
        count = np.bincount(owner, minlength=len(g))
        count_rows.append((np.minimum(count, MAX_EXTRAS), h, f))
        extra_owner_hit.append(h[owner])
        base = sum(len(x) for x in extra_off)
        extra_off.append(box_errors(g.tlwh[owner], cam.det.tlwh[extra]))
        extra_score.append(cam.det.conf[extra])
        # the same extra box on the owner's next frame (greedy on IoU)
        local = {int(d): base + i for i, d in enumerate(extra)}
        by_owner: dict[int, list[int]] = {}
        for d, o in zip(extra.tolist(), owner.tolist(), strict=True):
            by_owner.setdefault(o, []).append(d)
        xyxy = tlwh_to_xyxy(cam.det.tlwh.astype(np.float64))
        for r in np.flatnonzero(f[1:]) + 1:
            a, b = by_owner.get(int(r) - 1), by_owner.get(int(r))
            if not a or not b:
                continue
            iou = box_iou_batch(xyxy[a], xyxy[b])
            ri, ci = linear_sum_assignment(iou, maximize=True)
            for i, j in zip(ri, ci, strict=True):
                if iou[i, j] >= PERSIST_IOU:
                    extra_pairs.append((local[a[i]], local[b[j]]))
        # clutter: unmatched boxes overlapping nobody
        cl = fp & (m.det_iou < EXTRA_IOU)
        first, nxt = _again(cam.det, cl, cam.n_frames)
        c = cam.det.tlwh[cl]
        size = np.tile(cam.det.tlwh[first[nxt >= 0], 2:], 2)
        jitter = (cam.det.tlwh[nxt[nxt >= 0]] - cam.det.tlwh[first[nxt >= 0]]) / size
        entry = clutter.setdefault(
            cam.camera_id,
            {"n": 0, "frames": 0, "again": [], "box": [], "jitter": [], "score": []},
        )
        entry["n"] += len(c)
        entry["frames"] += cam.n_frames
        entry["again"].append(nxt >= 0)
        cx, cy = (c[:, 0] + c[:, 2] / 2) / cam.width, (c[:, 1] + c[:, 3] / 2) / cam.height
        lw, lh = np.log(c[:, 2] / cam.width), np.log(c[:, 3] / cam.height)
        entry["box"].append(np.column_stack([cx, cy, lw, lh]))
        entry["jitter"].append(jitter)
        entry["score"].append(cam.det.conf[cl])
        clutter_pairs_score.append(
            np.column_stack([cam.det.conf[first[nxt >= 0]], cam.det.conf[nxt[nxt >= 0]]])
        )

    p_detect, p_mh, p_mm, run_odds = _fit_detection(det_rows)
    box_error, score = _fit_boxes(
        np.concatenate(errs),
        np.concatenate(err_vis),
        np.concatenate(scores),
        np.concatenate(tp_iou),
        np.concatenate(tp_height),
        np.concatenate(pair_err),
    )
    extras = _fit_extras(
        np.concatenate(extra_off),
        np.concatenate(extra_score),
        np.concatenate(extra_owner_hit),
        np.array(extra_pairs, int).reshape(-1, 2),
        count_rows,
    )
    clutter_models, clutter_score = _fit_clutter(clutter, np.concatenate(clutter_pairs_score))
    noise = FittedNoise(
        source=source,
        visibility_cuts=list(VISIBILITY_CUTS),
        height_cuts=list(HEIGHT_CUTS),
        p_detect=p_detect,
        p_miss_after_hit=p_mh,
        p_miss_after_miss=p_mm,
        miss_run_log_odds=run_odds,
        box_error=box_error,
        score=score,
        extras=extras,
        clutter=clutter_models,
        clutter_score=clutter_score,
    )
    return calibrate(noise, cameras, calibration_rounds)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return float(np.log(p / (1 - p)))


def _mobile(p: Persistence, mobility: float) -> Persistence:
    """`p` moving `mobility` times as much: resets and (1 - coefficient) scaled."""
    return Persistence(
        reset=float(np.clip(p.reset * mobility, 0, 1)),
        coefficient=[float(np.clip(1 - (1 - c) * mobility, 0, 0.995)) for c in p.coefficient],
    )


def apply_calibration(noise: FittedNoise, knobs: dict[str, float]) -> FittedNoise:
    """`noise` with the calibration knobs applied to its part-by-part fit: `miss` (a log-odds
    shift of missing a detected or new person), `miss_after_miss` (of staying missed), and the
    mobility of the box error, score and extra boxes (`box`, `score`, `extras`: their resets
    and 1 - AR coefficients scaled), and `clutter` (its rate scaled: a clutter box drawn on a
    person is dropped, being no clutter)."""
    shift = knobs.get("miss", 0.0)
    shift_mm = knobs.get("miss_after_miss", 0.0)

    def shifted(table: list[list[float]], delta: float) -> list[list[float]]:
        return _logistic(_logit_table(np.asarray(table)) + delta).tolist()

    be, ex = noise.box_error, noise.extras
    return noise.model_copy(
        update={
            "p_detect": shifted(noise.p_detect, -shift),
            "p_miss_after_hit": shifted(noise.p_miss_after_hit, shift),
            "p_miss_after_miss": shifted(noise.p_miss_after_miss, shift_mm),
            "box_error": be.model_copy(
                update={"persistence": _mobile(be.persistence, knobs.get("box", 1.0))}
            ),
            "score": noise.score.model_copy(
                update={"persistence": _mobile(noise.score.persistence, knobs.get("score", 1.0))}
            ),
            "extras": ex.model_copy(
                update={
                    side: getattr(ex, side).model_copy(
                        update={
                            "persistence": _mobile(
                                getattr(ex, side).persistence, knobs.get("extras", 1.0)
                            )
                        }
                    )
                    for side in ("hit", "miss")
                }
            ),
            "clutter": {
                cid: c.model_copy(update={"per_frame": c.per_frame * knobs.get("clutter", 1.0)})
                for cid, c in noise.clutter.items()
            },
            "calibration": dict(knobs),
        }
    )


def calibrate(
    noise: FittedNoise, cameras: Sequence[CameraRun], rounds: int = CALIBRATION_ROUNDS
) -> FittedNoise:
    """Refine the part-by-part fit by simulation (indirect inference): generate detections from
    the cameras' ground truth, measure them as the detector was measured, and move six knobs
    (`apply_calibration`) so that the clutter rate, the miss rate, P(miss | missed before) and
    the lag-1 persistence of the box error, of the score and of the false positives match the
    detector's.
    What the parts cannot see on their own is in the measurement: an extra box of one person
    that matches a missed neighbour, a duplicate that beats the detection, boxes pulled in or
    clipped at the image edge."""
    real = detector_stats(cameras)
    knobs: dict[str, float] = {
        "miss": 0.0,
        "miss_after_miss": 0.0,
        "box": 1.0,
        "score": 1.0,
        "extras": 1.0,
        "clutter": 1.0,
    }

    def ratio(target: float, got: float) -> float:  # for mobility: (1 - lag1) per unit
        return float(np.clip((1 - target) / max(1 - got, 1e-3), 0.5, 2.0))

    for _ in range(rounds):
        gen = detector_stats(with_generated(cameras, apply_calibration(noise, knobs), 0))
        if 0 < real.miss_rate < 1 and 0 < gen.miss_rate < 1:
            knobs["miss"] += _logit(real.miss_rate) - _logit(gen.miss_rate)
        if 0 < real.p_miss_after_miss < 1 and 0 < gen.p_miss_after_miss < 1:
            knobs["miss_after_miss"] += _logit(real.p_miss_after_miss) - _logit(
                gen.p_miss_after_miss
            )
        for knob, name in (("box", "box_error_lag1"), ("score", "tp_score_lag1"),
                           ("extras", "fp_persistence")):  # fmt: skip
            target, got = getattr(real, name), getattr(gen, name)
            if 0 < target < 1 and 0 < got < 1:
                knobs[knob] = float(np.clip(knobs[knob] * ratio(target, got), 0.05, 20.0))
        if real.clutter_per_frame > 0 and gen.clutter_per_frame > 0:
            step = real.clutter_per_frame / gen.clutter_per_frame
            knobs["clutter"] = float(np.clip(knobs["clutter"] * step, 0.5, 2.0))
    fitted = apply_calibration(noise, {k: round(v, 4) for k, v in knobs.items()})
    return fitted.model_copy(update={"measured": real.model_dump()})


def _fit_boxes(
    errors: np.ndarray,
    vis: np.ndarray,
    scores: np.ndarray,
    iou: np.ndarray,
    height: np.ndarray,
    pairs: np.ndarray,
) -> tuple[BoxErrorModel, ScoreModel]:
    vb = np.searchsorted(VISIBILITY_CUTS, vis, side="right")
    n_bins = len(VISIBILITY_CUTS) + 1
    pooled_mean = errors.mean(axis=0) if len(errors) else np.zeros(4)
    pooled_std = errors.std(axis=0) if len(errors) > 1 else np.full(4, 0.05)
    means, scales, quantiles = [], [], []
    for b in range(n_bins):
        e = errors[vb == b]
        w = len(e) / (len(e) + 30.0)  # small bins lean on the pooled values
        mu = w * e.mean(axis=0) + (1 - w) * pooled_mean if len(e) else pooled_mean
        sd = w * e.std(axis=0) + (1 - w) * pooled_std if len(e) > 1 else pooled_std
        means.append(tuple(float(v) for v in mu))
        scales.append(tuple(float(v) for v in np.maximum(sd, 1e-4)))
        quantiles.append(_levels(scores[vb == b], SCORE_LEVELS, scores))
    x = (errors - np.asarray(means)[vb]) / np.asarray(scales)[vb]
    if not len(x):
        x = np.zeros((2, 4))
    a, b_ = pairs[:, 0], pairs[:, 1]
    zx = np.column_stack([_empirical_normal(x[:, j], np.zeros(len(x))) for j in range(4)])
    levels = np.asarray(ERROR_LEVELS, float)
    z = _empirical_normal(scores, vb)
    return (
        BoxErrorModel(
            mean=means,
            scale=scales,
            levels=levels.tolist(),
            quantiles=[np.quantile(x[:, j], levels).tolist() for j in range(4)],
            persistence=fit_persistence(zx[a], zx[b_]),
        ),
        _score_model(quantiles, z, vb, iou, height, a, b_),
    )


def _score_model(
    quantiles: list[list[float]],
    z: np.ndarray,
    vb: np.ndarray,
    iou: np.ndarray,
    height: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
) -> ScoreModel:
    """Scores of detections: `z` their normal scores within visibility bins `vb`, `iou` their
    boxes' IoU, `height` the true boxes' heights, (a, b) consecutive pairs. Per bin z is
    regressed on the normal score of the IoU and the standardised log height; the score's own
    part, what is left, is what persists."""
    if len(z) < 10:
        return ScoreModel(quantiles=quantiles, persistence=fit_persistence(z[a], z[b]))
    zq = _empirical_normal(iou, np.zeros(len(iou)))
    log_h = np.log(np.maximum(height, 1))
    log_height = (float(log_h.mean()), float(max(log_h.std(), 1e-3)))
    x = np.column_stack([zq, (log_h - log_height[0]) / log_height[1]])
    pooled = np.linalg.lstsq(x, z, rcond=None)[0]
    betas, explained = np.zeros((len(quantiles), 2)), np.zeros(len(quantiles))
    own = np.zeros(len(z))
    for k in range(len(quantiles)):
        sel = vb == k
        n = int(sel.sum())
        beta = np.linalg.lstsq(x[sel], z[sel], rcond=None)[0] if n >= 2 else pooled
        w = n / (n + 50.0)  # small bins lean on the pooled weights
        betas[k] = w * beta + (1 - w) * pooled
        fitted = x[sel] @ betas[k]
        explained[k] = np.clip(np.var(fitted) / max(np.var(z[sel]), 1e-9), 0, 0.9) if n else 0
        own[sel] = (z[sel] - fitted) / np.sqrt(1 - explained[k])
    return ScoreModel(
        quantiles=quantiles,
        persistence=fit_persistence(own[a], own[b]),
        quality=betas[:, 0].tolist(),
        quality_iou=_levels(iou, len(quantiles[0])),
        height_effect=betas[:, 1].tolist(),
        log_height=log_height,
        explained=explained.tolist(),
    )


def _fit_extras(
    offsets: np.ndarray,
    scores: np.ndarray,
    owner_hit: np.ndarray,
    pairs: np.ndarray,
    count_rows: list,
) -> ExtrasModel:
    k = MAX_EXTRAS + 1
    count = np.concatenate([r[0] for r in count_rows])
    hit = np.concatenate([r[1] for r in count_rows])
    fol = np.concatenate([r[2] for r in count_rows])
    prev = np.concatenate([np.r_[0, r[0][:-1]] for r in count_rows])

    def distribution(mask: np.ndarray) -> np.ndarray:
        n = np.bincount(count[mask], minlength=k)[:k].astype(float) + 0.1
        return n / n.sum()

    init = {flag: distribution(hit == flag) for flag in (True, False)}
    trans = {}
    for flag in (True, False):
        t = np.zeros((k, k))
        sel = fol & (hit == flag)
        np.add.at(t, (prev[sel], count[sel]), 1)
        trans[flag] = (t + 2.0 * init[flag]) / (t.sum(axis=1, keepdims=True) + 2.0)

    z = _empirical_normal(scores, owner_hit)
    a, b = pairs[:, 0], pairs[:, 1]
    mixtures = {}
    for state in (True, False):
        sel = owner_hit == state
        both = (owner_hit[a] == state) & (owner_hit[b] == state)
        mixtures[state] = _fit_mixture(offsets, scores, sel, a[both], b[both])
    return ExtrasModel(
        min_iou=EXTRA_IOU,
        max_iou_missed=MATCH_IOU,
        max_count=MAX_EXTRAS,
        initial_hit=init[True].tolist(),
        initial_miss=init[False].tolist(),
        transition_hit=trans[True].tolist(),
        transition_miss=trans[False].tolist(),
        hit=mixtures[True],
        miss=mixtures[False],
        score_persistence=fit_persistence(z[a], z[b]),
    )


def _fit_mixture(
    offsets: np.ndarray, scores: np.ndarray, sel: np.ndarray, a: np.ndarray, b: np.ndarray
) -> ExtrasMixture:
    """k-means mixture of offsets[sel]; residual AR(1) from the pairs (a, b) in one component."""
    idx = np.flatnonzero(sel)
    if len(idx) < 2:  # nothing to fit: one faint component (used as rarely as the data says)
        return ExtrasMixture(
            clusters=[ExtraCluster(weight=1.0, centre=(0, 0, -0.3, -0.3), score=[0.05, 0.1])],
            residual_scale=(0.2, 0.2, 0.3, 0.3),
            persistence=Persistence(reset=0.2, coefficient=[0.8] * 4),
        )
    off = offsets[idx]
    spread = np.maximum(off.std(axis=0), 1e-3)
    labels = np.full(len(offsets), -1)
    labels[idx] = _kmeans(off / spread, int(np.clip(len(idx) // 200, 1, MAX_EXTRA_COMPONENTS)))
    clusters, centres = [], np.zeros((labels.max() + 1, 4))
    for j in range(labels.max() + 1):
        members = labels == j
        centres[j] = offsets[members].mean(axis=0)
        clusters.append(
            ExtraCluster(
                weight=float(members.sum() / len(idx)),
                centre=tuple(float(v) for v in centres[j]),
                score=_levels(scores[members], CLUSTER_SCORE_LEVELS, scores[idx]),
            )
        )
    residual = np.zeros_like(offsets)
    residual[idx] = offsets[idx] - centres[labels[idx]]
    scale = np.maximum(residual[idx].std(axis=0), 1e-4)
    x = residual / scale
    same = labels[a] == labels[b]
    return ExtrasMixture(
        clusters=clusters,
        residual_scale=tuple(float(v) for v in scale),
        persistence=fit_persistence(x[a[same]], x[b[same]]),
    )


def _clutter_model(
    n: int,
    frames: int,
    again: np.ndarray,
    boxes: np.ndarray,
    jitter: np.ndarray,
    pooled: ClutterModel | None = None,
) -> ClutterModel:
    """A camera's clutter: `boxes` (N, 4: cx / W, cy / H, log(w / W), log(h / H)) as a k-means
    mixture of Gaussians (few boxes: the pooled model's places); `again` whether each was there
    the next frame; `jitter` the frame-to-frame changes of lasting boxes (fractions of size)."""
    if len(boxes) >= MIN_CLUTTER_BOXES or pooled is None:
        components = _clutter_components(boxes)
    else:
        components = list(pooled.components)
    if len(jitter) >= MIN_CLUTTER_BOXES or pooled is None:
        jit = float(np.sqrt(np.mean(jitter**2) / 2)) if len(jitter) else 0.05
    else:
        jit = pooled.jitter
    persistence = _shrunk(again.sum(), len(again), pooled.persistence if pooled else 0.5, 5.0)
    return ClutterModel(
        per_frame=n / max(frames, 1),
        persistence=float(np.clip(persistence, 0, 0.98)),
        components=components,
        jitter=float(np.clip(jit, 0, 1)),
    )


def _clutter_components(boxes: np.ndarray) -> list[ClutterComponent]:
    if not len(boxes):  # no clutter seen: one broad component (its rate is 0 anyway)
        return [ClutterComponent(weight=1.0, mean=(0.5, 0.5, -2.5, -1.5), std=(0.3, 0.3, 0.5, 0.5))]
    k = int(np.clip(len(boxes) // 25, 1, MAX_CLUTTER_COMPONENTS))
    spread = np.maximum(boxes.std(axis=0), 1e-3)
    labels = _kmeans(boxes / spread, k) if len(boxes) > 1 else np.zeros(1, np.int64)
    floor = np.array([0.005, 0.005, 0.02, 0.02])  # a spot, not a point
    out = []
    for j in range(labels.max() + 1):
        member = boxes[labels == j]
        std = member.std(axis=0) if len(member) > 1 else spread / 2
        out.append(
            ClutterComponent(
                weight=float(len(member) / len(boxes)),
                mean=tuple(float(v) for v in member.mean(axis=0)),
                std=tuple(float(v) for v in np.maximum(std, floor)),
            )
        )
    return out


def _fit_clutter(per_camera: dict[str, dict], score_pairs: np.ndarray) -> tuple[dict, ScoreModel]:
    def cat(entry: dict, key: str, width: int) -> np.ndarray:
        return np.concatenate(entry[key]).reshape(-1, width) if entry[key] else np.zeros((0, width))

    pooled_entry = {
        key: [x for e in per_camera.values() for x in e[key]]
        for key in ("again", "box", "jitter", "score")
    }
    pooled = _clutter_model(
        sum(e["n"] for e in per_camera.values()),
        sum(e["frames"] for e in per_camera.values()),
        np.concatenate(pooled_entry["again"]) if pooled_entry["again"] else np.zeros(0, bool),
        cat(pooled_entry, "box", 4),
        cat(pooled_entry, "jitter", 4),
    )
    models = {ALL_CAMERAS: pooled}
    for cid, e in per_camera.items():
        models[cid] = _clutter_model(
            e["n"],
            e["frames"],
            np.concatenate(e["again"]),
            cat(e, "box", 4),
            cat(e, "jitter", 4),
            pooled,
        )
    all_scores = np.concatenate(pooled_entry["score"]) if pooled_entry["score"] else np.zeros(0)
    if len(score_pairs) and len(all_scores):
        ranks = np.searchsorted(np.sort(all_scores), score_pairs, side="right")
        z = ndtri(np.clip((ranks - 0.5) / len(all_scores), 1e-4, 1 - 1e-4))
        persistence = fit_persistence(z[:, 0], z[:, 1])
    else:
        persistence = Persistence(reset=0.2, coefficient=[0.8])
    return models, ScoreModel(
        quantiles=[_levels(all_scores, SCORE_LEVELS)], persistence=persistence
    )


# --- saving -------------------------------------------------------------------------------------


def _rounded(value):  # type: ignore[no-untyped-def]
    if isinstance(value, float):
        return float(f"{value:.3g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


class _FlowDumper(yaml.SafeDumper):
    pass


def _represent_list(dumper: yaml.SafeDumper, data: list):  # type: ignore[no-untyped-def]
    flow = all(not isinstance(v, dict) for v in data)  # lists of numbers / lists: one line
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_FlowDumper.add_representer(list, _represent_list)


def save_noise(noise: FittedNoise, path: str | Path, header: str = "") -> Path:
    """Write `noise` as YAML (numbers to 3 significant digits) with `header` comment lines."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.dump(
        _rounded(noise.model_dump(mode="json")), Dumper=_FlowDumper, sort_keys=False, width=100
    )
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    path.write_text(comment + body)
    from storelens.evaluation.synthetic_detections import load_noise

    load_noise(path)  # what was written loads back
    return path


def header_for(noise: FittedNoise) -> str:
    s = noise.source
    return (
        "Synthetic detector noise fitted to the shipped detector: a derived file, do not edit.\n"
        f"Produced by: {s.command}\n"
        f"Fitted on: the built-in demo store, scenario {s.scenario}, {s.duration_s:g} s, seeds "
        f"{', '.join(map(str, s.seeds))} ({s.camera_frames} camera frames), cameras\n"
        f"  {', '.join(s.cameras)}\n"
        f"Detector weights: {s.detector} (sha256 {s.detector_sha256})\n"
        "Read by storelens.evaluation.synthetic_detections (FittedNoise); fitted by "
        "storelens.evaluation.noise_fit."
    )


# --- the whole fit ------------------------------------------------------------------------------


def check_seeds(seeds: Sequence[int]) -> None:
    for s in seeds:
        if s in RESERVED_SEEDS:
            raise ValueError(f"seed {s}: {RESERVED_SEEDS[s]}; fit and check on other seeds")


def simulated_run(scenario: str, seed: int, duration_s: float, base: Path) -> tuple[str, Path]:
    """The built-in store's `scenario` run for `seed` (simulated unless cached under `base`):
    its cache name and folder. Shared by the detector and keypoint noise fits."""
    from storelens.configs import builtin_store
    from storelens.datasets.sim.scenario import load_scenario
    from storelens.datasets.sim_cache import cached_simulation

    name = f"sim-{scenario}-{seed}" + ("" if duration_s == DURATION_S else f"-{duration_s:g}s")
    sim = cached_simulation(
        builtin_store(),
        load_scenario(scenario).with_overrides(duration_s=duration_s),
        seed,
        base / name,
        show_progress=False,
    ).out_dir
    return name, sim


def simulated_cameras(
    seeds: Sequence[int],
    model: str | Path = SHIPPED,
    duration_s: float = DURATION_S,
    scenario: str = SCENARIO,
    out_dir: str | Path | None = None,
) -> list[CameraRun]:
    """Every camera of the `scenario` store for each seed (simulated unless cached) with the
    detector's detections (run unless cached)."""
    base = Path(out_dir) if out_dir is not None else runs_dir() / "bench" / "noise"
    sha = file_sha256(model_file(model_ref(model)))[:12]
    cams = []
    for seed in seeds:
        name, sim = simulated_run(scenario, seed, duration_s, base)
        det = detect_store(sim, base / "detections" / sha / name, model)
        cams += load_cameras(sim, det, prefix=f"s{seed}-")
    return cams


def fit_shipped_noise(
    out_path: str | Path | None = None,
    *,
    seeds: Sequence[int] = FIT_SEEDS,
    model: str | Path = SHIPPED,
    duration_s: float = DURATION_S,
) -> FittedNoise:
    """Fit the noise model to `model` (the shipped detector) on simulated `crowded` stores of
    `seeds`, write it to `out_path` (default `runs/bench/noise/shipped_detector.yaml`) and
    return it. Simulations and detections are cached under `runs/bench/noise/`, so a refit
    after the detector changes reruns only the detector."""
    check_seeds(seeds)
    weights = model_file(model_ref(model))
    cams = simulated_cameras(seeds, model, duration_s)
    source = NoiseSource(
        detector=weights.name,
        detector_sha256=file_sha256(weights),
        scenario=SCENARIO,
        seeds=list(seeds),
        duration_s=duration_s,
        cameras=sorted({c.camera_id for c in cams}),
        camera_frames=sum(c.n_frames for c in cams),
        match_iou=MATCH_IOU,
        command=COMMAND,
    )
    noise = fit_noise(cams, source)
    default = runs_dir() / "bench" / "noise" / SHIPPED_FILE.name
    out = Path(out_path) if out_path is not None else default
    save_noise(noise, out, header_for(noise))
    return noise


def held_out_check(
    noise: FittedNoise,
    seeds: Sequence[int] = HELD_OUT_SEEDS,
    model: str | Path = SHIPPED,
    generator_seed: int = 0,
) -> list[Comparison]:
    """The real detector's statistics on `seeds` against the generator's on the same ground
    truth."""
    check_seeds(seeds)
    if set(seeds) & set(noise.source.seeds):
        raise ValueError(f"seeds {sorted(set(seeds) & set(noise.source.seeds))} were fitted on")
    real = simulated_cameras(seeds, model, noise.source.duration_s)
    generated = with_generated(real, noise, generator_seed)
    return compare(detector_stats(real), detector_stats(generated))


def fitted_table(noise: FittedNoise) -> str:
    """The fitted model's headline numbers."""
    be, ex = noise.box_error, noise.extras
    p = np.asarray(noise.p_detect)
    mh, mm = np.asarray(noise.p_miss_after_hit), np.asarray(noise.p_miss_after_miss)
    lines = [
        f"detection probability, fully visible and >= {noise.height_cuts[2]:g} px: "
        f"{p[-1, 3:].mean():.3f}; visibility < {noise.visibility_cuts[0]:g}: {p[0].mean():.3f}",
        f"P(miss | detected before), visible: {mh[-1, 3:].mean():.3f};"
        f" P(miss | missed before), visible: {mm[-1, 3:].mean():.3f}",
        "box error (cx/w, cy/h, log w, log h): std, fully visible "
        + ", ".join(f"{v:.3f}" for v in be.scale[-1])
        + f"; reset {be.persistence.reset:.3f}/frame, AR(1) coefficient "
        + ", ".join(f"{v:.3f}" for v in be.persistence.coefficient)
        + " (lag-1 "
        + ", ".join(f"{v:.2f}" for v in be.persistence.lag1)
        + ")",
        f"score: reset {noise.score.persistence.reset:.3f}, coefficient "
        f"{noise.score.persistence.coefficient[0]:.3f}; median score, fully visible "
        f"{noise.score.quantiles[-1][len(noise.score.quantiles[-1]) // 2]:.2f}"
        + (
            f"; weight of the box's IoU (fully visible) {noise.score.quality[-1]:.2f}, "
            f"of the person's height {noise.score.height_effect[-1]:.2f}"
            if noise.score.quality and noise.score.height_effect
            else ""
        ),
        f"extras around a person: {len(ex.hit.clusters)} + {len(ex.miss.clusters)} components "
        "(detected / missed person), mean count "
        f"{np.dot(ex.initial_hit, np.arange(ex.max_count + 1)):.2f} (person detected) / "
        f"{np.dot(ex.initial_miss, np.arange(ex.max_count + 1)):.2f} (missed); "
        f"P(count stays) {np.mean(np.diag(ex.transition_hit)):.2f}",
    ]
    for cid, c in noise.clutter.items():
        lines.append(
            f"clutter {cid:12s} {c.per_frame:.2f}/frame, persistence {c.persistence:.2f} "
            f"(mean life {1 / (1 - c.persistence):.1f} frames), jitter {c.jitter:.3f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storelens.evaluation.noise_fit")
    parser.add_argument("--shipped", action="store_true", help=f"also write {SHIPPED_FILE}")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(FIT_SEEDS))
    parser.add_argument("--held-out", type=int, nargs="*", default=list(HELD_OUT_SEEDS))
    parser.add_argument("--model", default=SHIPPED)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    noise = fit_shipped_noise(args.out, seeds=args.seeds, model=args.model)
    if args.shipped:
        save_noise(noise, SHIPPED_FILE, header_for(noise))
        print(f"wrote {SHIPPED_FILE}")
    print(fitted_table(noise))
    if args.held_out:
        rows = held_out_check(noise, args.held_out, args.model)
        print(f"\nheld-out seeds {args.held_out}: real detector against the generator")
        print(comparison_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
