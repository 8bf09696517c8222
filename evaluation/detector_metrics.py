"""Detector evaluation: COCO-style mAP50-95 and mAP50, overall and per class, on a held-out split
(ultralytics' validator, which computes the COCO metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storelens.inference.loading import load_detector


@dataclass(frozen=True)
class DetectorMetrics:
    map50_95: float
    map50: float
    precision: float
    recall: float
    per_class: dict[str, tuple[float, float]]  # name → (mAP50-95, mAP50)


def evaluate_detector(
    model_uri: str | Path,
    data_yaml: str | Path,
    split: str = "val",
    imgsz: int = 320,
    out_dir: str | Path | None = None,
) -> DetectorMetrics:
    model = load_detector(model_uri)
    kwargs = (
        {"project": str(Path(out_dir).resolve()), "name": "val", "exist_ok": True}
        if out_dir
        else {}
    )
    res = model.val(
        data=str(data_yaml),
        split=split,
        imgsz=imgsz,
        device="cpu",
        verbose=False,
        plots=bool(out_dir),
        **kwargs,
    )
    box = res.box
    names = res.names
    per_class = {
        names[int(c)]: (float(box.maps[int(c)]), float(box.ap50[i]))
        for i, c in enumerate(box.ap_class_index)
    }
    return DetectorMetrics(
        float(box.map), float(box.map50), float(box.mp), float(box.mr), per_class
    )
