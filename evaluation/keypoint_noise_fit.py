"""Fitting the keypoint noise (`synthetic_keypoints.KeypointNoise`) to the shipped pose model's
errors on simulated person crops, and checking the fit on a run it never saw.

    .venv/bin/python -m storelens.evaluation.keypoint_noise_fit            # fit + check
    .venv/bin/python -m storelens.evaluation.keypoint_noise_fit --shipped  # also rewrite
                                    # configs/noise/pose_keypoints.yaml and its page

Data: the `crowded` store, 30 s, all six cameras, seeds 41 and 42 to fit, 43 to check (none of
them trained, tuned or benchmarked anything else); MediaPipe's pose landmark model on the sampled
crops (`keypoint_crops`). Simulations and the model's answers are cached under
`runs/bench/keypoints/`, so a refit after the model changes reruns only the model.

What is fitted (`fit_keypoint_noise`), with the crop's box height picking a bin:
found rate and how long a loss lasts; mirrored skeletons (left-right swaps) and how long they
last; per joint x visibility x height the miss rate (error beyond `MISS_RADIUS` of the box
height) and how long a miss lasts; a hit's error (median and scaled MAD per joint x height,
shrunk toward the joint's pooled figure where a cell has few rows) and its frame-to-frame
persistence; a miss's error size; the model's visibility scores of hits and misses.

The check compares the same summary (`summarise`: wrist error in pixels by height, miss rate by
visibility, found and swap rates) of the real model on the held-out run and of noisy keypoints
made from that run's truth; the page `docs/benchmarks/keypoint_noise.md` shows both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from storelens.evaluation.keypoint_crops import BODY_JOINTS, PERIOD, RUN, PoseCrops, pose_on_crops
from storelens.evaluation.noise_fit import (
    check_seeds,
    file_sha256,
    fit_persistence,
    simulated_run,
)
from storelens.evaluation.synthetic_detections import Persistence
from storelens.evaluation.synthetic_keypoints import (
    SHIPPED_KEYPOINT_NOISE,
    KeypointNoise,
    KeypointNoiseSource,
    MarkovRate,
    noisy_keypoints,
)
from storelens.keypoints import LEFT_WRIST, RIGHT_WRIST
from storelens.settings import runs_dir

SCENARIO = "crowded"
FIT_SEEDS = (41, 42)
HELD_OUT_SEEDS = (43,)
DURATION_S = 30.0
HEIGHT_CUTS = [40.0, 60.0, 80.0, 120.0, 180.0]
VISIBILITY_CUTS = [0.5, 0.9]  # of the person box, for the found rate
MISS_RADIUS = 0.15  # of box height: about a forearm
LEVELS = 21
SHRINK = 20.0  # pseudo-rows pulling a sparse cell toward its joint's pooled figure
COMMAND = ".venv/bin/python -m storelens.evaluation.keypoint_noise_fit --shipped"
PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "keypoint_noise.md"
WRISTS = (LEFT_WRIST, RIGHT_WRIST)


def _bins(height: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(HEIGHT_CUTS), height, side="right")


def _next_pairs(crops: PoseCrops) -> tuple[np.ndarray, np.ndarray]:
    """Indices (a, b) of rows where b is the same camera and track one frame after a."""
    order = np.lexsort((crops.frame, crops.track_id, crops.camera))
    k, t, f = crops.camera[order], crops.track_id[order], crops.frame[order]
    nxt = (k[1:] == k[:-1]) & (t[1:] == t[:-1]) & (f[1:] == f[:-1] + 1)
    return order[:-1][nxt], order[1:][nxt]


def _shrunk(k: np.ndarray, n: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    return (k + SHRINK * pooled) / (n + SHRINK)


def _persist(
    yes: np.ndarray, a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None
) -> float:
    """P(yes at b | yes at a) over the pairs where both rows count (`valid`); `yes` may be
    (N,) or (N,J), pooled over joints."""
    ok = yes[a] if valid is None else yes[a] & valid[a] & valid[b]
    return float(np.clip(yes[b][ok].mean(), 0, 0.99)) if ok.sum() >= 5 else 0.5


def _quantiles(values: np.ndarray, default: Sequence[float]) -> list[float]:
    if len(values) < 5:
        return [float(v) for v in default]
    return [round(float(v), 4) for v in np.quantile(values, np.linspace(0, 1, LEVELS))]


def fit_keypoint_noise(crops: PoseCrops, source: KeypointNoiseSource) -> KeypointNoise:
    """The noise model of the pose model's answers in `crops` (see the module docstring)."""
    J, H = len(BODY_JOINTS), len(HEIGHT_CUTS) + 1
    b = _bins(crops.height)
    a_idx, b_idx = _next_pairs(crops)
    found, mirrored = crops.found, crops.mirrored()
    err = crops.error()[:, BODY_JOINTS]  # (N,J,2)
    v = crops.truth[:, BODY_JOINTS, 2].astype(int)
    score = crops.predicted[:, BODY_JOINTS, 2]
    size = np.linalg.norm(err, axis=2)
    counted = (v > 0) & found[:, None]
    miss = counted & (size > MISS_RADIUS)
    hit = counted & ~miss

    def rate_by_bin(yes: np.ndarray, among: np.ndarray) -> list[float]:
        pooled = yes[among].mean() if among.any() else 0.0
        k = np.bincount(b[among], yes[among], minlength=H)
        n = np.bincount(b[among], minlength=H)
        return [round(float(x), 4) for x in _shrunk(k, n, pooled)]

    vb = np.searchsorted(np.asarray(VISIBILITY_CUTS), crops.visibility, side="right")
    V = len(VISIBILITY_CUTS) + 1
    cell = b * V + vb
    k = np.bincount(cell, found, minlength=H * V)
    n = np.bincount(cell, minlength=H * V)
    pooled_found = np.asarray(rate_by_bin(found, np.ones(len(crops), bool)))
    found_chain = MarkovRate(
        rate=np.round(_shrunk(k, n, np.repeat(pooled_found, V)), 4).reshape(H, V).tolist(),
        persistence=round(_persist(~found, a_idx, b_idx), 4),
    )
    swap_chain = MarkovRate(
        rate=rate_by_bin(mirrored, found),
        persistence=round(_persist(mirrored, a_idx, b_idx, found), 4),
    )
    miss_rate = np.zeros((J, 2, H))
    mean, scale = np.zeros((J, H, 2)), np.zeros((J, H, 2))
    coefficients, resets = [], []
    for j in range(J):  # a dozen joints: fitted one at a time
        for vis in (1, 2):
            among = counted[:, j] & (v[:, j] == vis)
            pooled = miss[among, j].mean() if among.any() else 0.5
            k = np.bincount(b[among], miss[among, j], minlength=H)
            n = np.bincount(b[among], minlength=H)
            miss_rate[j, vis - 1] = _shrunk(k, n, pooled)
        e = err[hit[:, j], j]
        jb = b[hit[:, j]]
        pooled_mean = np.median(e, axis=0) if len(e) else np.zeros(2)
        pooled_scale = 1.4826 * np.median(np.abs(e - pooled_mean), axis=0) if len(e) else 0.05
        for hb in range(H):
            cell = e[jb == hb]
            w = len(cell) / (len(cell) + SHRINK)
            m = np.median(cell, axis=0) if len(cell) else pooled_mean
            s = 1.4826 * np.median(np.abs(cell - m), axis=0) if len(cell) else pooled_scale
            mean[j, hb] = w * m + (1 - w) * pooled_mean
            scale[j, hb] = np.maximum(w * s + (1 - w) * pooled_scale, 1e-3)
        z = (err[:, j] - mean[j, b]) / scale[j, b]
        both = hit[a_idx, j] & hit[b_idx, j]
        p = fit_persistence(z[a_idx[both]], z[b_idx[both]])
        coefficients.append(round(float(np.mean(p.coefficient)), 4))
        resets.append(p.reset)
    return KeypointNoise(
        source=source,
        height_cuts=HEIGHT_CUTS,
        visibility_cuts=VISIBILITY_CUTS,
        joints=BODY_JOINTS,
        miss_radius=MISS_RADIUS,
        found=found_chain,
        swap=swap_chain,
        miss=np.round(miss_rate, 4).tolist(),
        miss_persistence=round(_persist(miss, a_idx, b_idx, counted), 4),
        offset_mean=np.round(mean, 5).tolist(),
        offset_scale=np.round(scale, 5).tolist(),
        persistence=Persistence(
            reset=round(float(np.median(resets)), 4),
            coefficient=[min(c, 0.99) for c in coefficients],
        ),
        gross_error=_quantiles(size[miss], np.linspace(MISS_RADIUS, 1.0, LEVELS)),
        score_hit=[
            _quantiles(score[hit & (v == vis)], np.linspace(0, 1, LEVELS)) for vis in (1, 2)
        ],
        score_miss=[
            _quantiles(score[miss & (v == vis)], np.linspace(0, 1, LEVELS)) for vis in (1, 2)
        ],
    )


def synthetic_crops(crops: PoseCrops, noise: KeypointNoise, seed: int = 0) -> PoseCrops:
    """The same rows with the model's answers replaced by noisy keypoints (camera by camera)."""
    predicted = np.zeros_like(crops.predicted)
    for i, camera in enumerate(np.unique(crops.camera)):
        m = crops.camera == camera
        predicted[m] = noisy_keypoints(
            crops.track_id[m], crops.frame[m], crops.truth[m], crops.height[m], noise,
            seed=seed * 1000 + i, visibility=crops.visibility[m],
        )  # fmt: skip
    return replace(crops, predicted=predicted)


@dataclass(frozen=True)
class PoseSummary:
    """What the check compares (and the README quotes)."""

    crops: int
    found: float
    mirrored: float
    wrist_error_px: list[tuple[float, float, int]]  # per height bin: median, p90, wrists
    wrist_miss: list[tuple[float, int]]  # per visibility (1 hidden, 2 visible): rate, wrists
    body_miss: list[tuple[float, int]]  # the same over every body joint


def summarise(crops: PoseCrops) -> PoseSummary:
    err = crops.error()
    size_px = np.linalg.norm(err, axis=2) * crops.height[:, None]
    b = _bins(crops.height)
    v = crops.truth[..., 2].astype(int)
    counted = (v > 0) & crops.found[:, None]
    miss = counted & (np.linalg.norm(err, axis=2) > MISS_RADIUS)
    w = list(WRISTS)
    by_height = []
    for hb in range(len(HEIGHT_CUTS) + 1):
        d = size_px[:, w][(b[:, None] == hb) & counted[:, w]]
        by_height.append(
            (float(np.median(d)), float(np.quantile(d, 0.9)), len(d))
            if len(d)
            else (np.nan, np.nan, 0)
        )

    def miss_by_vis(cols: list[int]) -> list[tuple[float, int]]:
        out = []
        for vis in (1, 2):
            among = counted[:, cols] & (v[:, cols] == vis)
            out.append(
                (float(miss[:, cols][among].mean()) if among.any() else np.nan, int(among.sum()))
            )
        return out

    return PoseSummary(
        crops=len(crops),
        found=float(crops.found.mean()) if len(crops) else np.nan,
        mirrored=float(crops.mirrored()[crops.found].mean()) if crops.found.any() else np.nan,
        wrist_error_px=by_height,
        wrist_miss=miss_by_vis(w),
        body_miss=miss_by_vis(BODY_JOINTS),
    )


def simulated_crops(
    seeds: Sequence[int], base: Path | None = None, duration_s: float = DURATION_S
) -> PoseCrops:
    """The pose model on the sampled crops of each seed's run (simulated unless cached)."""
    from storelens.inference.blazepose import POSE_MODEL

    check_seeds(seeds)
    base = base or runs_dir() / "bench" / "keypoints"
    sha = file_sha256(POSE_MODEL)[:12]
    parts = []
    for seed in seeds:
        name, sim = simulated_run(SCENARIO, seed, duration_s, base)
        parts.append(pose_on_crops(sim, base / "crops" / sha / f"{name}.npz"))
    return PoseCrops.concatenate(parts)


def _row(label: str, s: PoseSummary) -> str:
    wrist = " | ".join(f"{m:.1f} / {p:.1f}" if n else "–" for m, p, n in s.wrist_error_px)
    miss = " | ".join(f"{100 * r:.1f} %" for r, _ in s.wrist_miss)
    body = " | ".join(f"{100 * r:.1f} %" for r, _ in s.body_miss)
    return (
        f"| {label} | {s.crops} | {100 * s.found:.1f} % | {100 * s.mirrored:.1f} % | {wrist} | "
        f"{miss} | {body} |"
    )


def write_page(path: Path, noise: KeypointNoise, rows: dict[str, PoseSummary]) -> Path:
    """The fit's page: protocol, one table row per `rows` entry (label → summary)."""
    bins = ["< 40"] + [f"{a:g}–{b:g}" for a, b in zip(HEIGHT_CUTS, HEIGHT_CUTS[1:], strict=False)]
    bins += [f"≥ {HEIGHT_CUTS[-1]:g}"]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    held_label = next(k for k in rows if k.startswith("pose model, held-out"))
    counts = " / ".join(str(n) for _, _, n in rows[held_label].wrist_error_px)
    lines = [
        "# Keypoint noise: the shipped pose model on simulated person crops",
        "",
        f"Written by `{COMMAND}` on {dt.date.today().isoformat()} (commit {commit}).",
        "",
        f"- Model: `{noise.source.model}` (MediaPipe BlazePose full landmarks), sha256 "
        f"`{noise.source.model_sha256[:16]}…`, run top-down on each true person box grown by 15 % "
        "a side.",
        f"- Data: the built-in store, scenario `{SCENARIO}`, {DURATION_S:g} s, all six cameras; "
        f"crops of every person box ≥ 24 px tall and ≥ 10 % visible in runs of {RUN} frames "
        f"every {PERIOD}. Fitted on seeds {list(FIT_SEEDS)}, checked on seed "
        f"{list(HELD_OUT_SEEDS)} (never used to fit).",
        f"- A joint is *missed* when its error exceeds {MISS_RADIUS:g} of the box height (about a "
        "forearm); a person is *not found* when the model returns no skeleton in the crop; "
        "*mirrored* when the skeleton fits the truth better with left and right exchanged by "
        "half (a swap between left and right joints that lie close together, a person seen "
        "from above, goes unmeasured: in the model's answers it counts as misses, which the "
        "fit already holds, so the generator swaps at the measured rate and its own swaps are "
        "measured less often).",
        "",
        "Wrist error in pixels (median / 90th percentile) by box height in pixels; miss rates by "
        "the joint's true visibility:",
        "",
        "| run | crops | found | mirrored | "
        + " | ".join(f"wrist px, h {b}" for b in bins)
        + " | wrist miss, hidden | wrist miss, visible | body miss, hidden | body miss, visible |",
        "|---" * (4 + len(bins) + 4) + "|",
        *(_row(label, summary) for label, summary in rows.items()),
        "",
        f"Wrists per height bin on the held-out run: {counts}. Noisy ground truth is made from "
        "the same rows' true keypoints (the fitted model, generator seed 0). The first pair of "
        "rows shows the generator reproducing what it was fitted on; the second, how far one "
        "new run of the same scenario moves the model's own figures (a run of other people: "
        "the model's misses depend on who is in view as much as on size and visibility).",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="fit the keypoint noise to the shipped pose model")
    parser.add_argument("--shipped", action="store_true", help="rewrite the shipped fit and page")
    args = parser.parse_args(argv)
    from storelens.inference.blazepose import POSE_MODEL

    fit_crops = simulated_crops(FIT_SEEDS)
    source = KeypointNoiseSource(
        model=POSE_MODEL.name,
        model_sha256=file_sha256(POSE_MODEL),
        scenario=SCENARIO,
        seeds=list(FIT_SEEDS),
        duration_s=DURATION_S,
        cameras=sorted(set(fit_crops.camera.tolist())),
        crops=len(fit_crops),
        frames=f"runs of {RUN} frames every {PERIOD}",
        command=COMMAND,
    )
    noise = fit_keypoint_noise(fit_crops, source)
    held = simulated_crops(HELD_OUT_SEEDS)
    rows = {
        f"pose model, fit seeds {list(FIT_SEEDS)}": summarise(fit_crops),
        f"noisy ground truth, fit seeds {list(FIT_SEEDS)}": summarise(
            synthetic_crops(fit_crops, noise)
        ),
        f"pose model, held-out seed {HELD_OUT_SEEDS[0]}": summarise(held),
        f"noisy ground truth, held-out seed {HELD_OUT_SEEDS[0]}": summarise(
            synthetic_crops(held, noise)
        ),
    }
    out = (
        SHIPPED_KEYPOINT_NOISE
        if args.shipped
        else runs_dir() / "bench" / "keypoints" / "pose_keypoints.yaml"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Keypoint noise fitted to the shipped pose model: a derived file, do not edit.\n"
        f"# Produced by: {COMMAND}\n"
        "# Read by storelens.evaluation.synthetic_keypoints; fitted by "
        "storelens.evaluation.keypoint_noise_fit.\n"
    )
    body = yaml.safe_dump(noise.model_dump(mode="json"), sort_keys=False, width=110)
    out.write_text(header + body, encoding="utf-8")
    page = write_page(PAGE if args.shipped else out.with_suffix(".md"), noise, rows)
    print(page.read_text(encoding="utf-8"))
    print(f"wrote {out} and {page}")


if __name__ == "__main__":
    main()
