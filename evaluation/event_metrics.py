"""The shelf-event metric: predicted pick / put-back events against the true ones, defined so
that it cannot flatter.

    m = score_events(true_events, predicted, shopper_of={"cam1:17": "p003", ...})
    m.f1, m.f1_any_shopper, m.per_kind["pick"].recall, m.sku_confusion

- **Candidates.** A predicted event may match a true event when their `kind` and `sku` are the
  same and the predicted time `t` lies in the true event's interval `t_start`..`t_end` extended
  by `TOLERANCE_S` after the hand leaves (an answer may come after the hand is out; none is
  credited before it went in). With the **shopper condition** the predicted shopper must also
  be the true one: a predicted shopper is mapped through `shopper_of` (a person track to the
  true shopper it overlapped most over the episode, until cross-camera identity exists; an id
  missing there is taken as it is, so a pipeline that names true shoppers is scored directly).
- **One to one.** Among candidates, predicted and true events are matched by the Hungarian
  algorithm on the time distance |t_pred - t_true|; every other predicted event is a false
  positive, every other true event a miss. Precision = matched / predicted, recall = matched /
  true, F1 their harmonic mean (0 when both are 0; None when there is nothing to score).
- **Per kind**, the same with both sides restricted to that kind.
- **SKU confusion**: each unmatched predicted event whose kind, time window and (mapped) shopper
  fit an unmatched true event of another SKU, counted as (true SKU, predicted SKU).
- **Intervals**: 95 % bootstrap intervals of precision, recall and F1, resampling episodes (a
  matched pair, a miss, a false positive) with replacement, `BOOTSTRAP` times, seeded.

`track_shoppers` makes `shopper_of` for events named by person track (`"<camera>:<track id>"`):
each track maps to the true person whose box it overlaps (IoU >= 0.5) in the most frames over
the whole track, a first step toward the per-episode mapping the events stage will use.

Everything is vectorised over event pairs; only the assignment runs in scipy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from storelens.boxes import box_iou_batch, tlwh_to_xyxy
from storelens.datasets.formats.mot import read_mot
from storelens.datasets.recording import StoreRecording
from storelens.detections import PERSON
from storelens.records import EventKind, ShelfEvent

TOLERANCE_S = 1.0
BOOTSTRAP = 1000
NO_MATCH = 1e9


@dataclass(frozen=True)
class EventScore:
    matched: int
    predicted: int
    true: int
    precision: float | None
    recall: float | None
    f1: float | None
    interval: dict[str, tuple[float, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "predicted": self.predicted,
            "true": self.true,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "interval_95": {k: list(v) for k, v in self.interval.items()},
        }


@dataclass(frozen=True)
class EventMetrics:
    """The metric with the shopper condition (`score`), without it (`any_shopper`), per kind
    of both, and the SKU confusion (see the module docstring)."""

    score: EventScore
    any_shopper: EventScore
    per_kind: dict[str, EventScore]
    per_kind_any_shopper: dict[str, EventScore]
    sku_confusion: list[tuple[str, str, int]]
    tolerance_s: float = TOLERANCE_S

    @property
    def precision(self) -> float | None:
        return self.score.precision

    @property
    def recall(self) -> float | None:
        return self.score.recall

    @property
    def f1(self) -> float | None:
        return self.score.f1

    @property
    def f1_any_shopper(self) -> float | None:
        return self.any_shopper.f1

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "f1_any_shopper": self.f1_any_shopper,
            "tolerance_s": self.tolerance_s,
            "with_shopper": self.score.as_dict(),
            "any_shopper": self.any_shopper.as_dict(),
            "per_kind": {k: s.as_dict() for k, s in self.per_kind.items()},
            "per_kind_any_shopper": {k: s.as_dict() for k, s in self.per_kind_any_shopper.items()},
            "sku_confusion": [
                {"true_sku": t, "predicted_sku": p, "count": n} for t, p, n in self.sku_confusion
            ],
        }


@dataclass(frozen=True)
class _Table:
    kind: np.ndarray
    sku: np.ndarray
    shopper: np.ndarray
    t: np.ndarray
    t_start: np.ndarray
    t_end: np.ndarray


def _kinds(events: Sequence[Any]) -> np.ndarray:
    return np.array([EventKind(e.kind).value for e in events], dtype=object)


def _true_table(events: Sequence[Any]) -> _Table:
    return _Table(
        _kinds(events),
        np.array([e.sku for e in events], dtype=object),
        np.array([e.shopper_id for e in events], dtype=object),
        np.array([e.t for e in events], float),
        np.array([getattr(e, "t_start", e.t) for e in events], float),
        np.array([getattr(e, "t_end", e.t) for e in events], float),
    )


def _pred_table(events: Sequence[ShelfEvent], shopper_of: Mapping[str, str]) -> _Table:
    t = np.array([e.t for e in events], float)
    return _Table(
        _kinds(events),
        np.array([e.sku for e in events], dtype=object),
        np.array([shopper_of.get(e.shopper_id, e.shopper_id) for e in events], dtype=object),
        t,
        t,
        t,
    )


def _window(pred: _Table, true: _Table, tolerance_s: float) -> np.ndarray:
    """(P,T) True where the predicted time falls in the true event's extended interval."""
    return (pred.t[:, None] >= true.t_start[None]) & (
        pred.t[:, None] <= true.t_end[None] + tolerance_s
    )


def _match(candidate: np.ndarray, distance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not candidate.any():
        return np.zeros(0, int), np.zeros(0, int)
    cost = np.where(candidate, distance, NO_MATCH)
    rows, cols = linear_sum_assignment(cost)
    ok = candidate[rows, cols]
    return rows[ok], cols[ok]


def _rates(matched: int, predicted: int, true: int) -> tuple[float | None, ...]:
    p = matched / predicted if predicted else None
    r = matched / true if true else None
    if p is None and r is None:
        return None, None, None
    pp, rr = p or 0.0, r or 0.0
    f1 = 2 * pp * rr / (pp + rr) if pp + rr else 0.0
    return p, r, f1


def _bootstrap(matched: int, fp: int, fn: int, seed: int) -> dict[str, tuple[float, float]]:
    n = matched + fp + fn
    if n == 0:
        return {}
    rng = np.random.default_rng(seed)
    kind = np.repeat([0, 1, 2], [matched, fp, fn])  # episode: matched pair, false positive, miss
    draws = kind[rng.integers(0, n, (BOOTSTRAP, n))]
    tp = (draws == 0).sum(axis=1)
    pred, true = tp + (draws == 1).sum(axis=1), tp + (draws == 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p, r = tp / pred, tp / true
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    out = {}
    for name, v in (("precision", p), ("recall", r), ("f1", f1)):
        v = v[np.isfinite(v)]
        if len(v):
            lo, hi = np.quantile(v, [0.025, 0.975])
            out[name] = (round(float(lo), 4), round(float(hi), 4))
    return out


def _score(
    pred: _Table, true: _Table, shopper: bool, tolerance_s: float, seed: int
) -> tuple[EventScore, np.ndarray, np.ndarray]:
    candidate = (
        _window(pred, true, tolerance_s)
        & (pred.kind[:, None] == true.kind[None])
        & (pred.sku[:, None] == true.sku[None])
    )
    if shopper:
        candidate &= pred.shopper[:, None] == true.shopper[None]
    rows, cols = _match(candidate, np.abs(pred.t[:, None] - true.t[None]))
    m, P, T = len(rows), len(pred.t), len(true.t)
    p, r, f1 = _rates(m, P, T)
    score = EventScore(m, P, T, p, r, f1, _bootstrap(m, P - m, T - m, seed))
    return score, rows, cols


def _subset(table: _Table, mask: np.ndarray) -> _Table:
    return _Table(*(getattr(table, f.name)[mask] for f in fields(table)))


def track_shoppers(
    recording: StoreRecording, tracks_dir: str | Path, min_iou: float = 0.5
) -> dict[str, str]:
    """`"<camera>:<track id>"` → the true shopper's id (`p%03d` of the simulator's global id)
    it overlaps in the most frames (see the module docstring)."""
    out: dict[str, str] = {}
    for camera in recording.camera_ids:
        path = Path(tracks_dir) / f"{camera}.txt"
        if not path.is_file() or not recording.has_ground_truth(camera):
            continue
        tracks, gt = read_mot(path), recording.ground_truth(camera)
        gt = gt.select(gt.class_id == PERSON)
        votes: Counter[tuple[int, int]] = Counter()
        for frame in np.intersect1d(tracks.frame, gt.frame):  # per frame, vectorised inside
            tr, g = tracks.select(tracks.frame == frame), gt.select(gt.frame == frame)
            iou = box_iou_batch(tlwh_to_xyxy(tr.tlwh), tlwh_to_xyxy(g.tlwh))
            rows, cols = linear_sum_assignment(-iou)
            ok = iou[rows, cols] >= min_iou
            votes.update(
                zip(tr.track_id[rows[ok]].tolist(), g.track_id[cols[ok]].tolist(), strict=True)
            )
        best: dict[int, tuple[int, int]] = {}
        for (track, person), n in votes.items():
            if n > best.get(track, (0, -1))[0]:
                best[track] = (n, person)
        out.update({f"{camera}:{t}": f"p{p:03d}" for t, (_, p) in best.items()})
    return out


def score_events(
    true_events: Sequence[Any],
    predicted: Sequence[ShelfEvent],
    shopper_of: Mapping[str, str] | None = None,
    tolerance_s: float = TOLERANCE_S,
    seed: int = 0,
) -> EventMetrics:
    """The event metric of `predicted` against `true_events` (see the module docstring).
    Staff restocks are not shelf events: pass only shoppers' true events."""
    if tolerance_s < 0:
        raise ValueError(f"tolerance_s: {tolerance_s} must be >= 0")
    true = _true_table(true_events)
    pred = _pred_table(predicted, shopper_of or {})
    score, rows, cols = _score(pred, true, True, tolerance_s, seed)
    any_shopper, _, _ = _score(pred, true, False, tolerance_s, seed)
    per_kind, per_kind_any = {}, {}
    for kind in sorted(set(true.kind.tolist()) | set(pred.kind.tolist())):
        p_sub, t_sub = _subset(pred, pred.kind == kind), _subset(true, true.kind == kind)
        per_kind[kind] = _score(p_sub, t_sub, True, tolerance_s, seed)[0]
        per_kind_any[kind] = _score(p_sub, t_sub, False, tolerance_s, seed)[0]
    # SKU confusion among what the shopper-conditioned matching left over
    free_p = np.setdiff1d(np.arange(len(pred.t)), rows)
    free_t = np.setdiff1d(np.arange(len(true.t)), cols)
    confusion: Counter[tuple[str, str]] = Counter()
    if len(free_p) and len(free_t):
        fp, ft = _subset(pred, free_p), _subset(true, free_t)
        near = (
            _window(fp, ft, tolerance_s)
            & (fp.kind[:, None] == ft.kind[None])
            & (fp.shopper[:, None] == ft.shopper[None])
            & (fp.sku[:, None] != ft.sku[None])
        )
        r2, c2 = _match(near, np.abs(fp.t[:, None] - ft.t[None]))
        confusion.update(zip(ft.sku[c2].tolist(), fp.sku[r2].tolist(), strict=True))
    return EventMetrics(
        score,
        any_shopper,
        per_kind,
        per_kind_any,
        sorted(((t, p, n) for (t, p), n in confusion.items()), key=lambda x: (-x[2], x[0], x[1])),
        tolerance_s,
    )
