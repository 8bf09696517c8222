"""Scoring a top-down pose model on person crops: keypoint mAP (OKS with COCO's sigmas, from
ultralytics' validator) and wrist PCK — the share of labelled wrists predicted within
`threshold_px` pixels.

Crops are full resolution (`datasets.formats.yolo_pose`), so a crop pixel is a camera pixel.
Each crop is for one person, the label whose box centre is nearest the crop's centre; it is
run through `inference.pose.TopDownPose` with that label's box, as the pipeline runs it with a
track's box (no skeleton matched: every wrist of the crop counts as missed). Wrists are
counted twice: all labelled ones (v >= 1: a hidden wrist has a true place too) and the visible
ones (v = 2).

    .venv/bin/storelens eval pose --model models/pose/sim-pose-yolo11n.pt --scenario crowded \\
        --seed 2 --duration 30
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from storelens.keypoints import LEFT_WRIST, N_KEYPOINTS, RIGHT_WRIST

WRISTS = [LEFT_WRIST, RIGHT_WRIST]


@dataclass(frozen=True)
class WristPck:
    threshold_px: float
    labelled: float  # share of labelled wrists (v >= 1) within the threshold
    visible: float  # share of visible wrists (v = 2) within the threshold
    n_labelled: int
    n_visible: int
    crops: int
    median_error_px: float  # over labelled wrists with a matched person


@dataclass(frozen=True)
class PoseMetrics:
    oks_map50_95: float
    oks_map50: float
    box_map50_95: float
    wrists: WristPck


def _crop_labels(label_file: Path, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """The crop's own person: box (4,) xyxy and keypoints (17,3) in crop pixels."""
    rows = np.loadtxt(label_file, ndmin=2).reshape(-1, 5 + 3 * N_KEYPOINTS)
    centre = rows[:, 1:3]
    own = rows[int(np.argmin(np.linalg.norm(centre - 0.5, axis=1)))]
    cx, cy, bw, bh = own[1:5] * (w, h, w, h)
    kp = own[5:].reshape(N_KEYPOINTS, 3) * (w, h, 1)
    return np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]), kp


def wrist_pck(
    model_uri: str | Path,
    data_yaml: str | Path,
    split: str = "val",
    imgsz: int = 160,
    threshold_px: float = 10.0,
) -> WristPck:
    """Wrist PCK of a pose model on the person crops of `data_yaml`'s `split`."""
    import cv2

    from storelens.inference.loading import load_detector
    from storelens.inference.pose import TopDownPose

    data = yaml.safe_load(Path(data_yaml).read_text())
    images = sorted((Path(data["path"]) / data[split]).glob("*.jpg"))
    if not images:
        raise FileNotFoundError(f"{data_yaml}: no images in its {split} split")
    pose = TopDownPose(load_detector(model_uri), imgsz=imgsz)
    errors_all: list[np.ndarray] = []
    flags: list[np.ndarray] = []
    for path in images:
        crop = cv2.imread(str(path))
        h, w = crop.shape[:2]
        label = path.parent.parent.parent / "labels" / path.parent.name / f"{path.stem}.txt"
        box, kp = _crop_labels(label, w, h)
        predicted = pose(crop, box[None])[0]
        v = kp[WRISTS, 2]
        error = np.linalg.norm(predicted[WRISTS, :2] - kp[WRISTS, :2], axis=1)
        error[predicted[WRISTS, 2] <= 0] = np.inf  # no skeleton matched the person
        errors_all.append(error[v > 0])
        flags.append(v[v > 0])
    err = np.concatenate(errors_all)
    vis = np.concatenate(flags) == 2
    hit = err <= threshold_px
    finite = err[np.isfinite(err)]
    return WristPck(
        threshold_px,
        float(hit.mean()) if len(hit) else float("nan"),
        float(hit[vis].mean()) if vis.any() else float("nan"),
        int(len(hit)),
        int(vis.sum()),
        len(images),
        float(np.median(finite)) if len(finite) else float("nan"),
    )


def evaluate_pose(
    model_uri: str | Path,
    data_yaml: str | Path,
    split: str = "val",
    imgsz: int = 160,
    threshold_px: float = 10.0,
) -> PoseMetrics:
    from storelens.training.detector_eval import evaluate_detector

    m = evaluate_detector(model_uri, data_yaml, split, imgsz=imgsz)
    return PoseMetrics(
        float(m.pose_map50_95 or 0.0),
        float(m.pose_map50 or 0.0),
        m.map50_95,
        wrist_pck(model_uri, data_yaml, split, imgsz=imgsz, threshold_px=threshold_px),
    )
