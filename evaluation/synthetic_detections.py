"""Detections made from the simulator's ground truth, degraded the way the shipped detector
degrades them: how tracking is evaluated on simulated stores without running a detector.

The default noise, `FittedNoise` (`configs/noise/shipped_detector.yaml`), is fitted by
`storelens.evaluation.noise_fit` to what the shipped detector does on simulated video it was
not trained on. Draws are correlated over time per ground-truth track, as a real detector's
errors are:

- **misses** come in runs: each person is a detected / missed Markov chain whose transition
  probabilities depend on the box's visibility and height, the chance of staying missed
  growing with the run's length (a person behind a shelf stays missed for several frames);
- **box error** (centre offsets as fractions of the true width / height, log width and height
  ratios), heavy-tailed, its scale growing as visibility falls, is AR(1) per track with
  occasional resets: a box stays put for a while, then jumps;
- **scores** follow the fitted per-visibility distribution through a Gaussian copula moving
  the same way (a weak person stays weak for a while);
- **extra boxes around people** (duplicates the NMS kept, part-of-person boxes), the bulk of
  the detector's false positives: a Markov chain on their number per person, each drawn from
  a fitted mixture of offsets, lasting while its slot lasts, with its own scores; a missed
  person's extras never overlap it at the matching IoU (else it would not be missed);
- **clutter** away from people (shelf fronts, products) appears at the fitted per-camera rate,
  where the detector puts it (a per-camera mixture of places and sizes: often a few fixed
  spots), and lasts as many frames as the detector's clutter does.

Deterministic for a seed. `DetectionNoise` is the older independent model (every box
jittered, missed and scored on its own, clutter uniform): a parameterised stand-in for tests
that want, e.g., perfect detections (`DetectionNoise(miss_rate=0, ...)`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import ndtr, ndtri

from storelens.datasets.formats.mot import MotTable

Unit = Annotated[float, Field(ge=0, le=1)]
Vec4 = tuple[float, float, float, float]
ALL_CAMERAS = "*"  # the clutter model used for a camera the fit did not see
MIN_SIDE_PX = 2.0


class DetectionNoise(BaseModel):
    """Independent noise: each box missed, jittered and scored on its own, clutter uniform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["independent"] = "independent"
    classes: list[int] = Field(
        [1], description="MOT classes to detect (1 person, 2 hand, 3 product)"
    )
    miss_rate: Unit = Field(0.05, description="share of fully visible boxes the detector misses")
    min_visibility: Unit = Field(0.25, description="boxes less visible than this are always missed")
    box_noise: Annotated[float, Field(ge=0, le=0.5)] = Field(
        0.05, description="jitter, fraction of size"
    )
    false_positives_per_frame: Annotated[float, Field(ge=0)] = Field(
        0.3, description="mean clutter boxes"
    )
    true_score: tuple[float, float] = Field((0.45, 0.95), description="score range of real boxes")
    false_score: tuple[float, float] = Field((0.1, 0.6), description="score range of clutter")


# --- the fitted model -------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_quantiles(name: str, q: list[float]) -> None:
    if len(q) < 2 or any(b < a for a, b in zip(q, q[1:], strict=False)):
        raise ValueError(f"{name}: quantiles must be >= 2 non-decreasing scores (got {q})")
    if q[0] < 0 or q[-1] > 1:
        raise ValueError(f"{name}: scores must lie in [0, 1] (got {q[0]}..{q[-1]})")


def _check_distribution(name: str, p: list[float]) -> None:
    if any(v < 0 for v in p) or abs(sum(p) - 1) > 1e-2:
        raise ValueError(f"{name}: probabilities must be >= 0 and sum to 1 (got {p})")


class Persistence(_Strict):
    """How a per-track value (in standard units: unit variance) moves from one frame to the
    next. With probability `reset` it is drawn afresh from its stationary distribution (a jump:
    the box snaps to another extent of the person, an occlusion starts or ends); otherwise it
    is AR(1), v_t = c v_(t-1) + sqrt(1 - c^2) e_t with c = `coefficient` (innovation scale
    sqrt(1 - c^2) of the stationary one, e_t standard normal). The lag-1 autocorrelation is
    (1 - reset) * c; a real detector's boxes stay put for a while and then jump, which a plain
    AR(1) with that autocorrelation does not do (it moves them a little every frame)."""

    reset: Unit = Field(description="probability per frame of a fresh draw")
    coefficient: list[float] = Field(min_length=1, description="per component, in [0, 1)")

    @model_validator(mode="after")
    def _valid(self) -> Persistence:
        if any(not 0 <= c < 1 for c in self.coefficient):
            raise ValueError(f"coefficient: each must lie in [0, 1) (got {self.coefficient})")
        return self

    @property
    def lag1(self) -> list[float]:
        return [(1 - self.reset) * c for c in self.coefficient]


class ScoreModel(_Strict):
    """Scores as quantiles (at evenly spaced levels 0, 1/(Q-1), ..., 1), one row per bin, drawn
    through a Gaussian copula: a track's normal score moves as `persistence` says. A detector
    scores a well-placed box and a big person higher: for detections, the normal score is
    `quality` * z_iou + `height_effect` * z_height + sqrt(1 - `explained`) * the track's own
    (weights per bin), z_iou the normal score of the box's IoU with the true box (by
    `quality_iou`), z_height the standardised log height of the true box (by `log_height`)."""

    quantiles: list[list[float]] = Field(description="per bin, the scores at levels 0..1")
    persistence: Persistence
    quality: list[float] | None = Field(
        None, description="per bin, weight of the box's IoU in the normal score"
    )
    quality_iou: list[float] | None = Field(
        None, description="IoU of matched boxes at the same levels as the score quantiles"
    )
    height_effect: list[float] | None = Field(
        None, description="per bin, weight of the person's standardised log height"
    )
    log_height: tuple[float, float] = (4.5, 0.5)
    explained: list[float] | None = Field(
        None, description="per bin, share of the normal score's variance IoU and height explain"
    )

    @model_validator(mode="after")
    def _valid(self) -> ScoreModel:
        for i, q in enumerate(self.quantiles):
            _check_quantiles(f"quantiles[{i}]", q)
        if len({len(q) for q in self.quantiles}) != 1:
            raise ValueError("quantiles: every bin needs the same number of levels")
        if len(self.persistence.coefficient) != 1:
            raise ValueError("persistence: one coefficient")
        if self.quality_iou is not None:
            _check_quantiles("quality_iou", self.quality_iou)
            if len(self.quality_iou) != len(self.quantiles[0]):
                raise ValueError("quality_iou: one IoU per score level")
        weights = (self.quality, self.height_effect, self.explained)
        if any(w is not None for w in weights):
            if self.quality_iou is None or any(w is None for w in weights):
                raise ValueError("quality, height_effect, explained and quality_iou go together")
            if any(len(w) != len(self.quantiles) for w in weights):  # type: ignore[arg-type]
                raise ValueError("quality, height_effect, explained: one value per bin")
            if any(not 0 <= v < 1 for v in self.explained):  # type: ignore[union-attr]
                raise ValueError("explained: each must lie in [0, 1)")
        if self.log_height[1] <= 0:
            raise ValueError("log_height: the std must be > 0")
        return self


class BoxErrorModel(_Strict):
    """Error of a detected box against the true one, four components: centre x / true width,
    centre y / true height, log(width ratio), log(height ratio): error = mean + scale * x, with a
    mean and a scale (std) per visibility bin. The standardised error x has the fitted (heavy
    tailed) distribution, `quantiles` at `levels` per component, through a Gaussian copula: its
    normal score moves over a track's frames as `persistence` says (AR(1) with resets)."""

    mean: list[Vec4] = Field(description="per visibility bin")
    scale: list[Vec4] = Field(description="per visibility bin, stationary std")
    levels: list[float] = Field(description="cumulative probabilities 0..1 of the quantiles")
    quantiles: list[list[float]] = Field(description="per component, standardised error")
    persistence: Persistence

    @model_validator(mode="after")
    def _valid(self) -> BoxErrorModel:
        if len(self.mean) != len(self.scale):
            raise ValueError("mean and scale need one row per visibility bin")
        if any(s < 0 for row in self.scale for s in row):
            raise ValueError("scale: must be >= 0")
        lv = self.levels
        if len(lv) < 2 or lv[0] != 0 or lv[-1] != 1 or np.any(np.diff(lv) <= 0):
            raise ValueError("levels: must increase from 0 to 1")
        if len(self.quantiles) != 4 or any(len(q) != len(lv) for q in self.quantiles):
            raise ValueError("quantiles: 4 rows (one per component) of len(levels) values")
        if any(np.any(np.diff(q) < 0) for q in self.quantiles):
            raise ValueError("quantiles: each row must be non-decreasing")
        if len(self.persistence.coefficient) != 4:
            raise ValueError("persistence: one coefficient per component (4)")
        return self


class ExtraCluster(_Strict):
    """One component of a mixture of extra boxes."""

    weight: Unit
    centre: Vec4 = Field(description="offset from the reference box, same components as errors")
    score: list[float] = Field(description="score quantiles at evenly spaced levels")

    @model_validator(mode="after")
    def _valid(self) -> ExtraCluster:
        _check_quantiles("score", self.score)
        return self


class ExtrasMixture(_Strict):
    """Offsets of extra boxes from a reference box: a mixture (k-means components); an extra
    box keeps its component while it lasts, its residual (in units of `residual_scale`) moving
    as `persistence` says."""

    clusters: list[ExtraCluster] = Field(min_length=1)
    residual_scale: Vec4
    persistence: Persistence

    @model_validator(mode="after")
    def _valid(self) -> ExtrasMixture:
        _check_distribution("clusters.weight", [c.weight for c in self.clusters])
        if len(self.persistence.coefficient) != 4:
            raise ValueError("persistence: one coefficient per component (4)")
        return self


class ExtrasModel(_Strict):
    """Boxes a detector puts around a real person besides its detection (IoU with the person >=
    `min_iou`, not its match): NMS-surviving duplicates and part-of-person boxes. Their number
    per person and frame (capped at `max_count`) is a Markov chain, one transition matrix for
    frames where the person itself is detected and one where it is missed. Around a detected
    person they are placed relative to its detection (`hit`: duplicates of that box), around a
    missed one relative to the true box (`miss`), never overlapping it `max_iou_missed` or more
    (else it would not be missed)."""

    min_iou: Unit = 0.1
    max_iou_missed: Unit = Field(0.5, description="the IoU at which a person counts as detected")
    max_count: Annotated[int, Field(ge=0, le=8)] = 4
    initial_hit: list[float]
    initial_miss: list[float]
    transition_hit: list[list[float]]
    transition_miss: list[list[float]]
    hit: ExtrasMixture = Field(description="offsets from the person's detection")
    miss: ExtrasMixture = Field(description="offsets from the true box of a missed person")
    score_persistence: Persistence = Field(description="of an extra box's normal score")

    @model_validator(mode="after")
    def _valid(self) -> ExtrasModel:
        k = self.max_count + 1
        for name in ("initial_hit", "initial_miss"):
            p = getattr(self, name)
            if len(p) != k:
                raise ValueError(f"{name}: expected {k} probabilities (max_count + 1)")
            _check_distribution(name, p)
        for name in ("transition_hit", "transition_miss"):
            rows = getattr(self, name)
            if len(rows) != k or any(len(r) != k for r in rows):
                raise ValueError(f"{name}: expected a {k} x {k} matrix")
            for i, r in enumerate(rows):
                _check_distribution(f"{name}[{i}]", r)
        return self


class ClutterComponent(_Strict):
    """One place (and size) where a camera's clutter appears: a Gaussian over the box's centre
    (fractions of the image width / height) and log size (log of the fractions)."""

    weight: Unit
    mean: Vec4 = Field(description="cx / W, cy / H, log(w / W), log(h / H)")
    std: Vec4

    @model_validator(mode="after")
    def _valid(self) -> ClutterComponent:
        if any(v < 0 for v in self.std):
            raise ValueError("std: must be >= 0")
        return self


class ClutterModel(_Strict):
    """False positives away from people, for one camera: boxes appear (`per_frame` of them are
    present on average) where the detector puts them, a mixture of places and sizes fitted to
    its clutter (shelf fronts, products: often a few fixed spots), each there again the next
    frame with probability `persistence`, jittering a little while it lasts."""

    per_frame: Annotated[float, Field(ge=0)]
    persistence: Annotated[float, Field(ge=0, lt=1)]
    components: list[ClutterComponent] = Field(min_length=1)
    jitter: Annotated[float, Field(ge=0, le=1)] = Field(
        description="frame-to-frame std of a lasting box's sides, fraction of its size"
    )

    @model_validator(mode="after")
    def _valid(self) -> ClutterModel:
        _check_distribution("components.weight", [c.weight for c in self.components])
        return self

    def occupancy(self, rows: int = 6, cols: int = 8) -> np.ndarray:
        """(rows, cols) share of clutter centres per cell of the image (for pictures)."""
        from scipy.special import ndtr as cdf

        ys, xs = np.linspace(0, 1, rows + 1), np.linspace(0, 1, cols + 1)
        out = np.zeros((rows, cols))
        for c in self.components:
            px = np.diff(cdf((xs - c.mean[0]) / max(c.std[0], 1e-6)))
            py = np.diff(cdf((ys - c.mean[1]) / max(c.std[1], 1e-6)))
            out += c.weight * np.outer(py, px)
        return out / max(out.sum(), 1e-12)


class NoiseSource(_Strict):
    """What a fitted model was fitted on."""

    detector: str
    detector_sha256: str
    scenario: str
    seeds: list[int]
    duration_s: float
    cameras: list[str]
    camera_frames: int
    match_iou: Unit
    command: str


class FittedNoise(_Strict):
    """Detector noise fitted to a real detector (see the module docstring); load with
    `load_noise`, fit with `storelens.evaluation.noise_fit`."""

    kind: Literal["fitted"] = "fitted"
    classes: list[int] = Field([1], description="MOT classes to detect")
    source: NoiseSource
    visibility_cuts: list[float] = Field(description="inner edges of the visibility bins")
    height_cuts: list[float] = Field(description="inner edges of the box height bins, pixels")
    p_detect: list[list[float]] = Field(description="visibility bin x height bin")
    p_miss_after_hit: list[list[float]]
    p_miss_after_miss: list[list[float]] = Field(
        description="after one missed frame; longer runs add `miss_run_log_odds`"
    )
    miss_run_log_odds: list[float] = Field(
        description="added to logit P(miss) after 2, 3, ... missed frames (the last: and more)"
    )
    box_error: BoxErrorModel
    score: ScoreModel = Field(description="scores of detected people, per visibility bin")
    extras: ExtrasModel
    clutter: dict[str, ClutterModel] = Field(description=f"per camera id, and {ALL_CAMERAS!r}")
    clutter_score: ScoreModel
    measured: dict[str, float] = Field(
        {}, description="the real detector's statistics on the fitting data"
    )
    calibration: dict[str, float] = Field(
        {}, description="the adjustments the fit made by simulation (noise_fit.calibrate)"
    )

    @model_validator(mode="after")
    def _valid(self) -> FittedNoise:
        for name in ("visibility_cuts", "height_cuts"):
            cuts = getattr(self, name)
            if any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
                raise ValueError(f"{name}: must increase")
        shape = (len(self.visibility_cuts) + 1, len(self.height_cuts) + 1)
        for name in ("p_detect", "p_miss_after_hit", "p_miss_after_miss"):
            table = getattr(self, name)
            if len(table) != shape[0] or any(len(r) != shape[1] for r in table):
                raise ValueError(f"{name}: expected a {shape[0]} x {shape[1]} table")
            if any(not 0 <= v <= 1 for r in table for v in r):
                raise ValueError(f"{name}: probabilities must lie in [0, 1]")
        if len(self.box_error.mean) != shape[0] or len(self.score.quantiles) != shape[0]:
            raise ValueError("box_error and score need one row per visibility bin")
        if ALL_CAMERAS not in self.clutter:
            raise ValueError(f"clutter: needs the {ALL_CAMERAS!r} entry (any camera)")
        if len(self.clutter_score.quantiles) != 1:
            raise ValueError("clutter_score: one row of quantiles")
        return self


NoiseModel = DetectionNoise | FittedNoise


def shipped_noise_path() -> Path:
    """`configs/noise/shipped_detector.yaml`: the noise fitted to the shipped detector."""
    from storelens.configs import builtin_config

    return builtin_config("noise", "shipped_detector.yaml")


def load_noise(path: str | Path) -> FittedNoise:
    """A fitted noise model from YAML or JSON, validated (errors name the file and field)."""
    from storelens.config import load_config

    return load_config(path, FittedNoise)


@functools.cache
def shipped_noise() -> FittedNoise:
    return load_noise(shipped_noise_path())


# --- the generator ----------------------------------------------------------------------------


def noisy_detections(
    gt: MotTable,
    width: int,
    height: int,
    noise: NoiseModel | None = None,
    seed: int = 0,
    camera_id: str | None = None,
) -> MotTable:
    """Degrade one camera's ground truth into `det.txt` rows (ids -1).

    `noise`: the fitted shipped-detector model by default. `camera_id` picks the camera's own
    clutter model when the fit has one (else clutter pooled over the fitted cameras)."""
    cfg = noise if noise is not None else shipped_noise()
    if isinstance(cfg, DetectionNoise):
        return _independent(gt, width, height, cfg, seed)
    return _fitted(gt, width, height, cfg, seed, camera_id)


def _segments(track_id: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Position of each row (sorted by track, frame) within its run of consecutive frames."""
    n = len(frame)
    start = np.ones(n, bool)
    start[1:] = (track_id[1:] != track_id[:-1]) | (frame[1:] != frame[:-1] + 1)
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first


def _quantile(u: np.ndarray, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Inverse CDF by linear interpolation: table[row] holds scores at evenly spaced levels."""
    q = table.shape[1] - 1
    t = np.clip(u, 0, 1) * q
    i = np.minimum(t.astype(np.int64), q - 1)
    frac = t - i
    return table[row, i] * (1 - frac) + table[row, i + 1] * frac


def _sample_rows(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Category index per row from probability rows `p` (N, K) and uniforms `u` (N,)."""
    cum = np.cumsum(p, axis=1)
    cum = cum / np.maximum(cum[:, -1:], 1e-12)  # rounded probabilities need not sum to 1
    return np.minimum((u[:, None] > cum).sum(axis=1), p.shape[1] - 1)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of tlwh boxes a[i] and b[i]."""
    x0, y0 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x1 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y1 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _boxes(ref_tlwh: np.ndarray, err: np.ndarray) -> np.ndarray:
    """tlwh of boxes `err` (N,4: dcx/w, dcy/h, log w ratio, log h ratio) away from `ref_tlwh`."""
    w, h = ref_tlwh[:, 2], ref_tlwh[:, 3]
    cx = ref_tlwh[:, 0] + w / 2 + err[:, 0] * w
    cy = ref_tlwh[:, 1] + h / 2 + err[:, 1] * h
    nw, nh = w * np.exp(err[:, 2]), h * np.exp(err[:, 3])
    return np.column_stack([cx - nw / 2, cy - nh / 2, nw, nh])


def _clip(tlwh: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes clipped to the image (as the detector's are) and which are still >= 2 px."""
    x0 = np.clip(tlwh[:, 0], 0, width)
    y0 = np.clip(tlwh[:, 1], 0, height)
    x1 = np.clip(tlwh[:, 0] + tlwh[:, 2], 0, width)
    y1 = np.clip(tlwh[:, 1] + tlwh[:, 3], 0, height)
    out = np.column_stack([x0, y0, x1 - x0, y1 - y0])
    return out, (out[:, 2] >= MIN_SIDE_PX) & (out[:, 3] >= MIN_SIDE_PX)


def _table(frame, tlwh, score, class_id) -> MotTable:  # type: ignore[no-untyped-def]
    n = len(frame)
    return MotTable(
        np.asarray(frame, np.int64),
        np.full(n, -1),
        np.asarray(tlwh, float).reshape(-1, 4),
        np.asarray(score, float),
        np.asarray(class_id, np.int64),
        np.ones(n),
    )


class _Draws:
    """The random numbers of one persistent value over N rows (D components, K slots): fresh
    draws, innovations and reset coins, drawn at once so results depend only on the seed."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, ...]) -> None:
        self.fresh = rng.random(shape)  # uniforms: the stationary draw through a quantile map
        self.shock = rng.standard_normal(shape)
        self.coin = rng.random(shape[:-1])


def _step(
    prev: np.ndarray,
    fresh: np.ndarray,
    d: _Draws,
    at: np.ndarray | tuple[np.ndarray, np.ndarray],
    p: Persistence,
) -> np.ndarray:
    """One frame of `Persistence`: `prev` (.., D) to the next value; `fresh` (.., D) the
    stationary draws to use on a reset; `at` indexes the rows of `d`."""
    c = np.asarray(p.coefficient)
    moved = c * prev + np.sqrt(1 - c**2) * d.shock[at]
    return np.where((d.coin[at] < p.reset)[..., None], fresh, moved)


def _fitted(
    gt: MotTable, width: int, height: int, cfg: FittedNoise, seed: int, camera_id: str | None
) -> MotTable:
    rng = np.random.default_rng(seed)
    rows = gt.select(np.isin(gt.class_id, cfg.classes))
    rows = rows.select(np.lexsort((rows.frame, rows.track_id)))
    n = len(rows)
    vb = np.searchsorted(cfg.visibility_cuts, rows.visibility, side="right")
    hb = np.searchsorted(cfg.height_cuts, rows.tlwh[:, 3], side="right")
    pos = _segments(rows.track_id, rows.frame)
    p_detect = np.asarray(cfg.p_detect)[vb, hb]
    p_mh = np.asarray(cfg.p_miss_after_hit)[vb, hb]
    p_mm = np.asarray(cfg.p_miss_after_miss)[vb, hb]
    run_odds = np.r_[0.0, cfg.miss_run_log_odds]
    be, ex = cfg.box_error, cfg.extras
    k = ex.max_count
    mixtures = (ex.miss, ex.hit)  # indexed by whether the person is detected
    init = np.asarray([ex.initial_miss, ex.initial_hit])
    trans = np.asarray([ex.transition_miss, ex.transition_hit])
    weights = [np.asarray([c.weight for c in m.clusters]) for m in mixtures]

    def error_draw(u: np.ndarray) -> np.ndarray:  # uniforms (.., 4) -> standardised errors
        return np.stack([np.interp(u[..., j], be.levels, be.quantiles[j]) for j in range(4)], -1)

    # every random number is drawn here, in a fixed order: the result depends only on the seed
    u_det = rng.random(n)
    d_err = _Draws(rng, (n, 4))
    d_score = _Draws(rng, (n, 1))
    u_count = rng.random(n)
    u_cluster = rng.random((n, k))  # a slot's component, when it is new
    d_res = _Draws(rng, (n, k, 4))
    d_ex_score = _Draws(rng, (n, k, 1))

    hit = np.zeros(n, bool)
    run = np.zeros(n, np.int64)  # missed frames in a row, this one included
    err = _normal(d_err.fresh)  # normal scores of the standardised box error
    zs = _normal(d_score.fresh)  # normal score
    count = np.zeros(n, np.int64)
    # each slot is one lasting hypothesis of an extra box, shown while the count reaches it:
    # its component (one for when the person is detected, one for when missed) and residual
    # live through the track's frames, so a box that flickers off comes back where it was
    fresh_cluster = np.stack(
        [_sample_rows(np.broadcast_to(w, (n * k, len(w))), u_cluster.ravel()) for w in weights]
    ).reshape(2, n, k)
    cluster = fresh_cluster.copy()
    res = d_res.shock.copy()  # fresh residuals are standard normal
    ezs = _normal(d_ex_score.fresh)
    slots = np.arange(k)
    res_persist = [m.persistence for m in mixtures]
    order = np.argsort(pos, kind="stable")
    bounds = np.searchsorted(pos[order], np.arange(pos.max() + 2)) if n else np.zeros(1, int)
    for p in range(len(bounds) - 1):  # one step per frame of track age, all tracks at once
        idx = order[bounds[p] : bounds[p + 1]]
        if p == 0:  # a track's first frame (or its first after a gap): stationary draws
            hit[idx] = u_det[idx] < p_detect[idx]
            run[idx] = ~hit[idx]
            count[idx] = _sample_rows(init[hit[idx].astype(int)], u_count[idx])
        else:
            prev = idx - 1
            odds = run_odds[np.clip(run[prev] - 1, 0, len(run_odds) - 1)]
            p_miss = np.where(hit[prev], p_mh[idx], _logistic(_logit(p_mm[idx]) + odds))
            hit[idx] = u_det[idx] >= p_miss
            run[idx] = np.where(hit[idx], 0, run[prev] + 1)
            err[idx] = _step(err[prev], err[idx], d_err, idx, be.persistence)
            zs[idx] = _step(zs[prev], zs[idx], d_score, idx, cfg.score.persistence)
            count[idx] = _sample_rows(
                trans[hit[idx].astype(int), np.minimum(count[prev], k)], u_count[idx]
            )
            for st in (0, 1):
                rows_st = idx[hit[idx] == st]
                at = (np.repeat(rows_st, k), np.tile(slots, len(rows_st)))
                back = (at[0] - 1, at[1])
                pers = res_persist[st]
                res[at] = _step(res[back], res[at], d_res, at, pers)
                renew = d_res.coin[at] < pers.reset  # a reset is a new hypothesis
                cluster[:, at[0], at[1]] = np.where(
                    renew, fresh_cluster[:, at[0], at[1]], cluster[:, back[0], back[1]]
                )
                ezs[at] = _step(ezs[back], ezs[at], d_ex_score, at, ex.score_persistence)

    # the person's own detection
    e = np.asarray(be.mean)[vb] + np.asarray(be.scale)[vb] * error_draw(ndtr(err))
    tlwh, ok = _clip(_boxes(rows.tlwh, e), width, height)
    # a detected person's box overlaps it at the matching IoU, by what a detection is: pull a
    # box that strays further back towards the true box
    for _ in range(8):
        far = hit & (pair_iou(tlwh, rows.tlwh) < cfg.source.match_iou)
        if not far.any():
            break
        e[far] *= 0.7
        tlwh[far] = _clip(_boxes(rows.tlwh[far], e[far]), width, height)[0]
    ok = (tlwh[:, 2] >= MIN_SIDE_PX) & (tlwh[:, 3] >= MIN_SIDE_PX)
    keep = hit & ok
    sm = cfg.score
    z = zs[:, 0]
    if sm.quality is not None and sm.quality_iou is not None:  # a well-placed box, a bigger
        levels = np.linspace(0, 1, len(sm.quality_iou))  # person, scores higher
        q = _normal(np.interp(pair_iou(tlwh, rows.tlwh), sm.quality_iou, levels))
        zh = (np.log(np.maximum(rows.tlwh[:, 3], 1)) - sm.log_height[0]) / sm.log_height[1]
        bq, bh = np.asarray(sm.quality)[vb], np.asarray(sm.height_effect)[vb]
        z = bq * q + bh * zh + np.sqrt(1 - np.asarray(sm.explained)[vb]) * z
    score = _quantile(ndtr(z), np.asarray(sm.quantiles), vb)

    # extra boxes, placed relative to the person's true box
    parts = []
    for st, mix in enumerate(mixtures):
        ri, rj = np.nonzero((slots[None, :] < count[:, None]) & (hit == st)[:, None])
        c = cluster[st, ri, rj]
        centre = np.asarray([cl.centre for cl in mix.clusters])
        offset = centre[c] + np.asarray(mix.residual_scale) * res[ri, rj]
        etlwh, eok = _clip(_boxes(rows.tlwh[ri], offset), width, height)
        escore = _quantile(ndtr(ezs[ri, rj, 0]), np.asarray([cl.score for cl in mix.clusters]), c)
        iou = pair_iou(etlwh, rows.tlwh[ri])
        if st:  # the box that matches the person carries the detection's score
            better = eok & keep[ri] & (iou > pair_iou(tlwh[ri], rows.tlwh[ri]))
            cand = np.flatnonzero(better)
            cand = cand[np.lexsort((-iou[cand], ri[cand]))]
            best = cand[np.r_[True, ri[cand][1:] != ri[cand][:-1]]] if len(cand) else cand
            score[ri[best]], escore[best] = escore[best], score[ri[best]].copy()
        else:  # a missed person has, by what a miss is, no box overlapping it this much
            eok &= iou < ex.max_iou_missed
        parts.append((rows.frame[ri][eok], etlwh[eok], escore[eok], rows.class_id[ri][eok]))
    real = _table(rows.frame[keep], tlwh[keep], score[keep], rows.class_id[keep])
    extras = [_table(*part) for part in parts]

    n_frames = int(gt.frame.max()) if len(gt) else 0
    model = cfg.clutter.get(camera_id or ALL_CAMERAS, cfg.clutter[ALL_CAMERAS])
    clutter = _clutter(rng, model, cfg.clutter_score, n_frames, width, height, cfg.classes[0])
    # clutter is what overlaps nobody (a box on a person is one of the extras)
    clutter = clutter.select(_max_iou_same_frame(clutter, rows) < ex.min_iou)
    return MotTable.concatenate([real, *extras, clutter]).sorted()


def _same_frame_pairs(boxes: MotTable, others: MotTable) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with boxes.frame[i] == others.frame[j]."""
    order = np.argsort(others.frame, kind="stable")
    frames = others.frame[order]
    lo = np.searchsorted(frames, boxes.frame)
    n = np.searchsorted(frames, boxes.frame, side="right") - lo
    i = np.repeat(np.arange(len(boxes)), n)
    return i, order[np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())]


def _max_iou_same_frame(boxes: MotTable, others: MotTable) -> np.ndarray:
    """(N,) for each box the largest IoU with a box of `others` on the same frame."""
    out = np.zeros(len(boxes))
    if len(boxes) and len(others):
        i, j = _same_frame_pairs(boxes, others)
        np.maximum.at(out, i, pair_iou(boxes.tlwh[i], others.tlwh[j]))
    return out


def _normal(u: np.ndarray) -> np.ndarray:
    """Standard normal quantiles of uniforms, kept finite."""
    return ndtri(np.clip(u, 1e-9, 1 - 1e-9))


def _clutter(
    rng: np.random.Generator,
    model: ClutterModel,
    score: ScoreModel,
    n_frames: int,
    width: int,
    height: int,
    class_id: int,
) -> MotTable:
    """Clutter boxes over frames 1..n_frames: born at a steady rate, each lasting a geometric
    number of frames, so that `per_frame` are present on average."""
    if n_frames == 0 or model.per_frame == 0:
        return MotTable.empty()
    p = model.persistence
    births = np.concatenate(
        [
            rng.poisson(model.per_frame, 1),  # the steady state at frame 1
            rng.poisson(model.per_frame * (1 - p), n_frames - 1),
        ]
    )
    born = np.repeat(np.arange(1, n_frames + 1), births)
    m = len(born)
    life = rng.geometric(1 - p, m)
    life = np.minimum(life, n_frames - born + 1)
    weights = np.asarray([c.weight for c in model.components])
    comp = _sample_rows(np.broadcast_to(weights, (m, len(weights))), rng.random(m))
    mean = np.asarray([c.mean for c in model.components])[comp]
    std = np.asarray([c.std for c in model.components])[comp]
    v = mean + std * rng.standard_normal((m, 4))
    cx, cy = np.clip(v[:, 0], 0, 1) * width, np.clip(v[:, 1], 0, 1) * height
    w, h = np.exp(np.minimum(v[:, 2], 0)) * width, np.exp(np.minimum(v[:, 3], 0)) * height
    base = np.column_stack([cx - w / 2, cy - h / 2, w, h])

    obj = np.repeat(np.arange(m), life)
    age = np.arange(len(obj)) - np.repeat(np.cumsum(life) - life, life)
    frame = born[obj] + age
    # each box jitters a little around its place while it lasts; its score persists
    shocks = rng.standard_normal((len(obj), 4))
    d = _Draws(rng, (len(obj), 1))
    zs = _normal(d.fresh)
    for a in range(1, int(life.max()) if m else 0):
        cur = np.flatnonzero(age == a)
        zs[cur] = _step(zs[cur - 1], zs[cur], d, cur, score.persistence)
    size = np.tile(base[obj, 2:], 2)  # (w, h, w, h) of each row's box
    tlwh = base[obj] + model.jitter * shocks * size
    tlwh, ok = _clip(tlwh, width, height)
    sc = _quantile(ndtr(zs[:, 0]), np.asarray(score.quantiles), np.zeros(len(obj), np.int64))
    return _table(frame[ok], tlwh[ok], sc[ok], np.full(ok.sum(), class_id))


def _independent(gt: MotTable, width: int, height: int, cfg: DetectionNoise, seed: int) -> MotTable:
    rng = np.random.default_rng(seed)
    rows = gt.select(np.isin(gt.class_id, cfg.classes))
    vis = rows.visibility
    # missed more often when partly hidden: certain below min_visibility, miss_rate when fully seen
    p_detect = np.where(
        vis < cfg.min_visibility,
        0.0,
        (1 - cfg.miss_rate)
        * np.clip((vis - cfg.min_visibility) / (1 - cfg.min_visibility) + 0.5, 0, 1),
    )
    kept = rows.select(rng.random(len(rows)) < p_detect)
    size = kept.tlwh[:, 2:4]
    jitter = rng.normal(0, cfg.box_noise, (len(kept), 4)) * np.concatenate([size, size], axis=1)
    tlwh = kept.tlwh + jitter
    tlwh[:, 2:] = np.maximum(tlwh[:, 2:], 2)
    lo, hi = cfg.true_score
    score = np.clip(lo + (hi - lo) * kept.visibility + rng.normal(0, 0.05, len(kept)), 0.01, 1.0)
    real = MotTable(
        kept.frame, np.full(len(kept), -1), tlwh, score, kept.class_id, np.ones(len(kept))
    )
    frames = np.unique(gt.frame) if len(gt) else np.zeros(0, int)
    n_fp = rng.poisson(cfg.false_positives_per_frame, len(frames))
    fp_frames = np.repeat(frames, n_fp)
    k = len(fp_frames)
    w = rng.uniform(0.04, 0.15, k) * width
    h = w * rng.uniform(1.5, 3.0, k)
    fp = MotTable(
        fp_frames,
        np.full(k, -1),
        np.column_stack(
            [rng.uniform(0, width - w), rng.uniform(0, height - np.minimum(h, height)), w, h]
        ),
        rng.uniform(*cfg.false_score, k),
        np.full(k, cfg.classes[0]),
        np.ones(k),
    )
    return MotTable.concatenate([real, fp]).sorted()
