"""Detector evaluation: COCO-style mAP50-95 and mAP50, overall and per class, on a held-out split
(ultralytics' validator, which computes the COCO metrics).

A pose model (trained on `class_set: pose` crops) is scored the same way and also gets its
keypoint mAP, which ultralytics computes with OKS and COCO's per-joint sigmas.

`evaluate_on_simulation` scores a detector on a simulation it never saw — a scenario and seed
simulated (cached) and exported whole as the `val` split:

    .venv/bin/python -m storelens.training.detector_eval \\
        --model models/detector/sim-coarse-yolo11n.pt --scenario crowded --seed 2 --duration 30

prints the figures per class (and the number of ground-truth boxes); `--start 30 --duration 60`
scores the 30-60 s window of a 60 s run (the store full rather than filling up).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from storelens.inference.loading import load_detector


@dataclass(frozen=True)
class DetectorMetrics:
    map50_95: float
    map50: float
    precision: float
    recall: float
    per_class: dict[str, tuple[float, float]]  # name → (mAP50-95, mAP50)
    instances: dict[str, int] = field(default_factory=dict)  # name → ground-truth boxes
    data_yaml: Path | None = None
    pose_map50_95: float | None = None  # a pose model's keypoint mAP (OKS, COCO's sigmas)
    pose_map50: float | None = None


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
    counts = getattr(res, "nt_per_class", None)
    instances = {names[i]: int(n) for i, n in enumerate(counts) if n} if counts is not None else {}
    pose = getattr(res, "pose", None)
    return DetectorMetrics(
        float(box.map),
        float(box.map50),
        float(box.mp),
        float(box.mr),
        per_class,
        instances,
        Path(data_yaml),
        None if pose is None else float(pose.map),
        None if pose is None else float(pose.map50),
    )


def evaluate_on_simulation(
    model_uri: str | Path,
    scenario: str,
    seed: int,
    duration_s: float,
    cameras: list[str] | None = None,
    *,
    every: int = 5,
    class_set: str = "coarse",
    store: str | None = None,
    start_s: float = 0.0,
    imgsz: int = 320,
    out_dir: str | Path | None = None,
) -> DetectorMetrics:
    """mAP on `scenario` (a preset or a file) simulated with `seed` for `duration_s` on
    `cameras` (None: all), every `every`-th frame from `start_s` on: the simulation and its YOLO
    export are cached under `runs/eval-data/` (`datasets.sim_cache.cached_simulation`). Choose a
    scenario and seed the detector was neither trained nor selected on."""
    from storelens.training.data import simulated_eval_dataset

    data_yaml = simulated_eval_dataset(
        scenario,
        seed,
        duration_s,
        cameras,
        every=every,
        class_set=class_set,
        store=store,
        start_s=start_s,
    )
    return evaluate_detector(model_uri, data_yaml, "val", imgsz=imgsz, out_dir=out_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m storelens.training.detector_eval",
        description="mAP50-95 / mAP50 per class of a detector on a fresh simulation",
    )
    parser.add_argument("--model", required=True, help="weights file or models:/NAME@alias")
    parser.add_argument("--scenario", required=True, help="preset (easy, crowded, ...) or file")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds simulated")
    parser.add_argument("--start", type=float, default=0.0, help="score frames from here on (s)")
    parser.add_argument("--cameras", nargs="*", default=None, help="default: every camera")
    parser.add_argument("--every", type=int, default=5, help="keep every n-th frame")
    parser.add_argument("--imgsz", type=int, default=320)
    args = parser.parse_args(argv)
    m = evaluate_on_simulation(
        args.model,
        args.scenario,
        args.seed,
        args.duration,
        args.cameras or None,
        every=args.every,
        start_s=args.start,
        imgsz=args.imgsz,
    )
    images = len(list((Path(m.data_yaml or ".").parent / "images" / "val").glob("*.jpg")))
    window = f"{args.start:g}-{args.duration:g} s"
    print(f"{args.model} on {args.scenario} seed {args.seed}, {window}: {images} images")
    print(f"{'class':<10} {'boxes':>7} {'mAP50-95':>9} {'mAP50':>7}")
    print(f"{'all':<10} {sum(m.instances.values()):>7} {m.map50_95:>9.3f} {m.map50:>7.3f}")
    for name, (ap, ap50) in m.per_class.items():
        print(f"{name:<10} {m.instances.get(name, 0):>7} {ap:>9.3f} {ap50:>7.3f}")


if __name__ == "__main__":
    main()
