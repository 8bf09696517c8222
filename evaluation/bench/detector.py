"""Detector benchmarks: mAP after a fixed CPU budget on the simulator, and inference latency of
torch against onnxruntime (the serving runtime on CPU) at 320 and 640 pixels.

The budget model trains on the crowded store (seed 0), `best.pt` is selected on a separate
validation run (seed 1) and the mAP rows are measured on the `test:` runs of sim_coarse.yaml
(crowded seeds 2 and 3, occluded, easy), which it neither trained nor was selected on; the
validation figures are reported too, marked as the selection set. Latency: one warm-up pass,
then `LATENCY_REPEATS` timed passes over the same images; the row is the median pass (ms per
frame) with the fastest and slowest pass as its spread.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from storelens.evaluation.bench.rows import BenchRow, repeat_timing
from storelens.settings import runs_dir

BUDGET_EPOCHS = 20
BUDGET_SIM_SECONDS = 24.0  # 288 training images, all of the seed-0 run (the same budget as before)
BUDGET_VAL_SECONDS = 12.0  # 144 images of seed 1: only select best.pt on them
LATENCY_IMAGES = 20
LATENCY_REPEATS = 5


def detector_suite(
    config_name: str = "sim_coarse.yaml",
    changes: dict[str, Any] | None = None,
    imgsz_list: tuple[int, ...] = (320, 640),
    repeats: int = LATENCY_REPEATS,
) -> list[BenchRow]:
    """The benchmark; a smoke run passes another config (`tiny.yaml`), `changes` and sizes."""
    import os

    from storelens.config import override
    from storelens.configs import builtin_config
    from storelens.training.config import load_train_config
    from storelens.training.detector import train_detector
    from storelens.training.detector_eval import evaluate_detector

    os.environ.setdefault(
        "MLFLOW_TRACKING_URI", f"sqlite:///{(runs_dir() / 'bench' / 'mlflow.db').resolve()}"
    )
    (runs_dir() / "bench").mkdir(parents=True, exist_ok=True)
    config = load_train_config(builtin_config("train", config_name))
    if changes is None:
        changes = {
            "epochs": BUDGET_EPOCHS,
            "sim": {
                "duration_s": BUDGET_SIM_SECONDS,
                "val_seed": 1,
                "val_duration_s": BUDGET_VAL_SECONDS,
            },
        }
    config = override(config, changes, register_as=None, experiment="bench-detector")
    if config.sim.val_seed is None or not config.test:
        raise ValueError("the detector benchmark selects on sim.val_seed and reports on `test:`")
    start = time.perf_counter()
    result = train_detector(config, runs_dir() / "bench" / "detector")
    minutes = (time.perf_counter() - start) / 60
    impl = f"yolo11n from scratch, sim {config.sim.scenario} s{config.sim.seed}"
    size = f"{config.epochs} epochs ({minutes:.1f} min CPU)"
    rows = []
    for t in config.test:
        prefix = f"test/{t.name}"
        where = f"{t.scenario} s{t.seed} {t.start_s:g}-{t.duration_s:g} s (test)"
        for metric in ("mAP50-95", "mAP50"):
            value = result.metrics[f"{prefix}/{metric}"]
            rows.append(BenchRow("detector", f"{metric} {where}", impl, size, value, ""))
        for key, value in result.metrics.items():
            if key.startswith(f"{prefix}/mAP50-95/"):
                cls = key.rsplit("/", 1)[1]
                rows.append(BenchRow("detector", f"mAP50-95 {cls} {where}", impl, size, value, ""))
    selection = evaluate_detector(result.weights, result.data_yaml)
    val = (
        f"{config.sim.validation_scenario} s{config.sim.val_seed} "
        f"0-{config.sim.validation_duration_s:g} s (val: selected on)"
    )
    rows += [
        BenchRow("detector", f"mAP50-95 {val}", impl, size, selection.map50_95, ""),
        BenchRow("detector", f"mAP50 {val}", impl, size, selection.map50, ""),
    ]
    images = sorted(result.data_yaml.parent.glob("images/val/*.jpg"))[:LATENCY_IMAGES]
    rows += latency_rows(result.weights, images, imgsz_list, repeats)
    return rows


def latency_rows(
    weights: Path, images: list[Path], imgsz_list: tuple[int, ...], repeats: int
) -> list[BenchRow]:
    """torch and onnxruntime per-frame latency: one warm-up pass over `images`, then `repeats`
    timed passes; the row is the median pass in ms per frame, `low`-`high` the fastest and
    slowest pass (`rows.repeat_timing`)."""
    from storelens.inference.loading import load_detector
    from storelens.training.export import export_detector

    if not images:
        raise ValueError("latency needs at least one image")
    rows = []
    for imgsz in imgsz_list:
        onnx = export_detector(weights, "onnx", imgsz)
        for label, model in (
            ("torch (CPU)", load_detector(weights)),
            ("onnxruntime (CPU)", _onnx_model(onnx)),
        ):

            def one_pass(m: Any = model, size: int = imgsz) -> float:
                start = time.perf_counter()
                for image in images:
                    m.predict(str(image), imgsz=size, verbose=False)
                return time.perf_counter() - start

            timing = repeat_timing(one_pass, repeats=repeats).scaled(1e3 / len(images))
            shape = f"{imgsz} px, {len(images)} frames x {repeats} passes"
            rows.append(BenchRow.timed("detector", "latency per frame", label, shape, timing, "ms"))
    return rows


def _onnx_model(path: Path):  # type: ignore[no-untyped-def]
    from storelens.inference.ultralytics_offline import import_ultralytics

    import_ultralytics()
    from ultralytics import YOLO

    return YOLO(str(path), task="detect")


def latency_suite(repeats: int = LATENCY_REPEATS) -> list[BenchRow]:
    """Latency of the shipped detector alone (no training first): torch vs onnxruntime at 320
    and 640 px on 20 rendered 640x480 frames of the demo store."""
    import shutil

    import cv2

    from storelens.configs import builtin_store
    from storelens.datasets.sim.scenario import load_scenario
    from storelens.datasets.sim_cache import cached_simulation
    from storelens.models import demo_detector

    root = runs_dir() / "bench" / "latency"
    sim = cached_simulation(
        builtin_store(),
        load_scenario("easy").with_overrides(duration_s=4),
        seed=0,
        out_dir=root / "sim",
        camera_ids=["ceil-sw"],
        show_progress=False,
    )
    capture = cv2.VideoCapture(str(sim.out_dir / "cameras" / "ceil-sw" / "video.mp4"))
    images = []
    for k in range(20):
        ok, frame = capture.read()
        if not ok:
            break
        images.append(root / "frames" / f"{k:03d}.jpg")
        images[-1].parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(images[-1]), frame)
    capture.release()
    weights = root / demo_detector().name  # exported beside a copy, never inside the package
    shutil.copyfile(demo_detector(), weights)
    return [
        BenchRow(
            f"{r.suite} (shipped)",
            r.operation,
            r.implementation,
            r.size,
            r.value,
            r.unit,
            r.low,
            r.high,
        )
        for r in latency_rows(weights, images, (320, 640), repeats)
    ]
