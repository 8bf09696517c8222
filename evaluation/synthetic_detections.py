"""Detections made from the simulator's ground truth, degraded like a real detector's.

Each ground-truth box of the chosen classes is detected with probability falling with its
visibility, jittered in position and size, and scored; false positives (near-person clutter
and random boxes) are added per frame. Deterministic for a seed. This is how tracking is
evaluated on simulated stores until a trained detector's output replaces it.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from storelens.datasets.formats.mot import MotTable

Unit = Annotated[float, Field(ge=0, le=1)]


class DetectionNoise(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

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


def noisy_detections(
    gt: MotTable, width: int, height: int, noise: DetectionNoise | None = None, seed: int = 0
) -> MotTable:
    """Degrade one camera's ground truth into `det.txt` rows (ids -1)."""
    cfg = noise or DetectionNoise()
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
