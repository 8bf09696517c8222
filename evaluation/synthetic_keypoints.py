"""Noisy keypoints: the simulator's true COCO-17 keypoints degraded as a real pose model degrades
them, so the hands and events stages can be built and measured before a pose model runs.

    noise = shipped_keypoint_noise()            # configs/noise/pose_keypoints.yaml
    noisy = noisy_keypoints(table, heights, noise, seed=0)   # (N,17,3): x, y, score

The model (`KeypointNoise`) is fitted to MediaPipe's pose landmark model run top-down on person
crops of simulated frames (`keypoint_noise_fit`). Per ground-truth person row (one person, one
camera frame; rows of one track in consecutive frames form a segment), with the person's box
height in pixels picking a height bin:

- **found**: whether the model finds the person in its crop at all (a Markov chain per track
  with the fitted rate per height bin x box visibility bin and the fitted chance a loss lasts to
  the next frame); a lost person's row is all zeros.
- **swap**: whether the model mirrored the body (left and right exchanged), a Markov chain the
  same way.
- **per joint**: a miss (an error beyond `miss_radius` of the box height) with the fitted rate
  per joint x visibility (1 hidden, 2 visible) x height bin, lasting as fitted; a hit's error
  is the fitted mean plus scale times a standard normal that moves from frame to frame as
  `persistence` says (per joint), pulled in to the miss radius where the normal's tail would
  carry it past; a miss's error has a fitted magnitude in a uniform direction.
- **scores**: drawn from the fitted quantiles of the model's visibility score for hits and
  misses of hidden and visible joints.

Joints the truth leaves unlabelled (the face, anything outside the frame) come out as zeros.
Everything is vectorised over rows; the one loop steps through frames of track age.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from storelens.evaluation.synthetic_detections import Persistence, _quantile, _segments
from storelens.keypoints import FLIP_INDEX, N_KEYPOINTS

SHIPPED_KEYPOINT_NOISE = (
    Path(__file__).resolve().parents[1] / "configs" / "noise" / "pose_keypoints.yaml"
)
Unit = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeypointNoiseSource(_Strict):
    """What the noise was fitted to, so a changed pose model is noticed."""

    model: str
    model_sha256: str
    scenario: str
    seeds: list[int]
    duration_s: float
    cameras: list[str]
    crops: int
    frames: str = Field(description="which frames of each camera were cropped")
    command: str


class MarkovRate(_Strict):
    """A per-track yes/no that holds for a while: `rate` per bin (height, or height x box
    visibility) is its share of rows, `persistence` the chance that a yes carries to the next
    frame."""

    rate: list[Unit] | list[list[Unit]]
    persistence: Unit

    def after_no(self, rate: np.ndarray) -> np.ndarray:
        return after_no(rate, self.persistence)


def after_no(rate: np.ndarray, persistence: float) -> np.ndarray:
    """P(yes | no before) of a two-state chain with P(yes | yes before) = `persistence`, so
    that its stationary share of yes is `rate`."""
    return np.clip(rate * (1 - persistence) / np.maximum(1 - rate, 1e-9), 0, 1)


class KeypointNoise(_Strict):
    kind: str = "fitted-pose"
    source: KeypointNoiseSource
    height_cuts: list[float] = Field(min_length=1)
    visibility_cuts: list[float] = Field(description="box visibility bins of `found`")
    joints: list[int] = Field(description="COCO indices modelled (the body's labelled joints)")
    miss_radius: float = Field(gt=0, description="an error beyond this share of box height")
    found: MarkovRate = Field(description="rate: found; persistence: P(lost | lost before)")
    swap: MarkovRate = Field(description="rate: mirrored among found; persistence likewise")
    miss: list[list[list[Unit]]] = Field(description="joint x visibility (1, 2) x height bin")
    miss_persistence: Unit
    offset_mean: list[list[list[float]]] = Field(description="joint x height bin x (dx, dy)")
    offset_scale: list[list[list[float]]] = Field(description="joint x height bin x (sx, sy)")
    persistence: Persistence = Field(description="of a hit's standardised error, per joint")
    gross_error: list[float] = Field(description="quantiles of a miss's error / box height")
    score_hit: list[list[Unit]] = Field(description="visibility (1, 2) x quantiles")
    score_miss: list[list[Unit]] = Field(description="visibility (1, 2) x quantiles")

    @model_validator(mode="after")
    def _shapes(self) -> KeypointNoise:
        J, H = len(self.joints), len(self.height_cuts) + 1
        checks = {
            "found.rate": (np.shape(self.found.rate), (H, len(self.visibility_cuts) + 1)),
            "swap.rate": (np.shape(self.swap.rate), (H,)),
            "miss": (np.shape(self.miss), (J, 2, H)),
            "offset_mean": (np.shape(self.offset_mean), (J, H, 2)),
            "offset_scale": (np.shape(self.offset_scale), (J, H, 2)),
            "persistence.coefficient": ((len(self.persistence.coefficient),), (J,)),
        }
        for name, (got, want) in checks.items():
            if tuple(got) != want:
                raise ValueError(f"{name}: shape {tuple(got)}, expected {want}")
        if any(not 0 <= j < N_KEYPOINTS for j in self.joints):
            raise ValueError(f"joints: {self.joints} must be COCO indices 0..{N_KEYPOINTS - 1}")
        for name in ("gross_error",):
            q = getattr(self, name)
            if len(q) < 2 or any(b < a for a, b in zip(q, q[1:], strict=False)):
                raise ValueError(f"{name}: quantiles must be >= 2 non-decreasing values")
        return self

    def height_bin(self, height_px: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.height_cuts), height_px, side="right")

    def visibility_bin(self, visibility: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.visibility_cuts), visibility, side="right")


def load_keypoint_noise(path: str | Path) -> KeypointNoise:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no keypoint noise model there") from None
    return KeypointNoise.model_validate(data)


@lru_cache(maxsize=1)
def shipped_keypoint_noise() -> KeypointNoise:
    """The noise fitted to the shipped pose model (`configs/noise/pose_keypoints.yaml`)."""
    return load_keypoint_noise(SHIPPED_KEYPOINT_NOISE)


def noisy_keypoints(
    track_id: np.ndarray,
    frame: np.ndarray,
    keypoints: np.ndarray,
    height_px: np.ndarray,
    noise: KeypointNoise | None = None,
    seed: int = 0,
    visibility: np.ndarray | None = None,
) -> np.ndarray:
    """(N,17,3) true keypoints `x, y, v` of N person rows (one camera) → (N,17,3) `x, y, score`
    as the fitted pose model would give them (see the module docstring); rows keep their order.
    `height_px` (N,): each person's box height; `visibility` (N,): the box's visible share
    (1 when not given)."""
    cfg = noise if noise is not None else shipped_keypoint_noise()
    keypoints = np.asarray(keypoints, float).reshape(-1, N_KEYPOINTS, 3)
    n = len(keypoints)
    out = np.zeros((n, N_KEYPOINTS, 3))
    if n == 0:
        return out
    rng = np.random.default_rng(seed)
    order = np.lexsort((frame, track_id))
    kp, h = keypoints[order], np.asarray(height_px, float)[order]
    box_vis = np.ones(n) if visibility is None else np.asarray(visibility, float)[order]
    pos = _segments(np.asarray(track_id)[order], np.asarray(frame)[order])
    b = cfg.height_bin(h)
    joints = np.asarray(cfg.joints)
    J = len(joints)
    v = kp[:, joints, 2]  # (n,J) 0 unlabelled, 1 hidden, 2 visible
    vis = np.clip(v.astype(int) - 1, 0, 1)
    p_miss = np.asarray(cfg.miss)[np.arange(J)[None], vis, b[:, None]]  # (n,J)
    mean = np.asarray(cfg.offset_mean)[np.arange(J)[None], b[:, None]]  # (n,J,2)
    scale = np.asarray(cfg.offset_scale)[np.arange(J)[None], b[:, None]]
    coef = np.asarray(cfg.persistence.coefficient)[None, :, None]

    lost_rate = 1 - np.asarray(cfg.found.rate)[b, cfg.visibility_bin(box_vis)]
    swap_rate = np.asarray(cfg.swap.rate)[b]
    lost, swap = np.zeros(n, bool), np.zeros(n, bool)
    miss = np.zeros((n, J), bool)
    z = rng.standard_normal((n, J, 2))
    u_lost, u_swap, u_miss = rng.random(n), rng.random(n), rng.random((n, J))
    reset, shock = rng.random((n, J)), rng.standard_normal((n, J, 2))
    step_order = np.argsort(pos, kind="stable")
    bounds = np.searchsorted(pos[step_order], np.arange(pos.max() + 2))
    for p in range(len(bounds) - 1):  # one step per frame of track age, all tracks at once
        idx = step_order[bounds[p] : bounds[p + 1]]
        if p == 0:
            lost[idx] = u_lost[idx] < lost_rate[idx]
            swap[idx] = u_swap[idx] < swap_rate[idx]
            miss[idx] = u_miss[idx] < p_miss[idx]
            continue
        prev = idx - 1
        p_lost = np.where(
            lost[prev], cfg.found.persistence, after_no(lost_rate[idx], cfg.found.persistence)
        )
        lost[idx] = u_lost[idx] < p_lost
        p_swap = np.where(swap[prev], cfg.swap.persistence, cfg.swap.after_no(swap_rate[idx]))
        swap[idx] = u_swap[idx] < p_swap
        p_m = np.where(
            miss[prev], cfg.miss_persistence, after_no(p_miss[idx], cfg.miss_persistence)
        )
        miss[idx] = u_miss[idx] < p_m
        moved = coef * z[prev] + np.sqrt(1 - coef**2) * shock[idx]
        z[idx] = np.where((reset[idx] < cfg.persistence.reset)[..., None], z[idx], moved)

    error = mean + scale * z
    # a hit lies within the miss radius by definition: pull the normal's tail in to it
    size = np.linalg.norm(error, axis=-1, keepdims=True)
    error = error * np.minimum(1.0, 0.99 * cfg.miss_radius / np.maximum(size, 1e-12))
    angle = rng.uniform(0, 2 * np.pi, (n, J))
    size = _quantile(rng.random((n, J)), np.asarray(cfg.gross_error)[None], np.zeros((n, J), int))
    gross = size[..., None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    error = np.where(miss[..., None], gross, error)
    score = np.where(
        miss,
        _quantile(rng.random((n, J)), np.asarray(cfg.score_miss), vis),
        _quantile(rng.random((n, J)), np.asarray(cfg.score_hit), vis),
    )
    labelled = (v > 0) & ~lost[:, None]
    noisy = np.zeros((n, N_KEYPOINTS, 3))
    noisy[:, joints, :2] = np.where(
        labelled[..., None], kp[:, joints, :2] + error * h[:, None, None], 0.0
    )
    noisy[:, joints, 2] = np.where(labelled, np.clip(score, 0, 1), 0.0)
    noisy[swap] = noisy[swap][:, FLIP_INDEX]
    out[order] = noisy
    return out
