"""Detector benchmarks: mAP after a fixed CPU budget on the simulator, and inference latency of
torch against onnxruntime (the serving runtime on CPU) at 320 and 640 pixels."""

from __future__ import annotations

import time
from pathlib import Path

from storelens.evaluation.bench.rows import BenchRow
from storelens.settings import runs_dir

BUDGET_EPOCHS = 20
BUDGET_SIM_SECONDS = 30.0  # half the shipped detector's data: 288 training images


def detector_suite() -> list[BenchRow]:
    import os

    from storelens.config import override
    from storelens.configs import builtin_config
    from storelens.evaluation.detector_metrics import evaluate_detector
    from storelens.inference.loading import load_detector
    from storelens.training.config import load_train_config
    from storelens.training.detector import train_detector
    from storelens.training.export import export_detector

    os.environ.setdefault(
        "MLFLOW_TRACKING_URI", f"sqlite:///{(runs_dir() / 'bench' / 'mlflow.db').resolve()}"
    )
    (runs_dir() / "bench").mkdir(parents=True, exist_ok=True)
    config = load_train_config(builtin_config("train", "sim_coarse.yaml"))
    config = override(
        config,
        {
            "epochs": BUDGET_EPOCHS,
            "sim": {"duration_s": BUDGET_SIM_SECONDS},
            "register_as": None,
            "experiment": "bench-detector",
        },
    )
    start = time.perf_counter()
    result = train_detector(config, runs_dir() / "bench" / "detector")
    minutes = (time.perf_counter() - start) / 60
    metrics = evaluate_detector(result.weights, result.data_yaml)
    size = f"{BUDGET_EPOCHS} epochs ({minutes:.1f} min CPU)"
    rows = [
        BenchRow(
            "detector",
            "mAP50-95 (val)",
            "yolo11n from scratch, sim crowded",
            size,
            metrics.map50_95,
            "",
        ),
        BenchRow(
            "detector", "mAP50 (val)", "yolo11n from scratch, sim crowded", size, metrics.map50, ""
        ),
    ]
    rows += [
        BenchRow("detector", f"mAP50-95 {name}", "yolo11n from scratch", size, ap, "")
        for name, (ap, _) in metrics.per_class.items()
    ]
    images = sorted(result.data_yaml.parent.glob("images/val/*.jpg"))[:20]
    for imgsz in (320, 640):
        onnx = export_detector(result.weights, "onnx", imgsz)
        for label, model in (
            ("torch (CPU)", load_detector(result.weights)),
            ("onnxruntime (CPU)", _onnx_model(onnx)),
        ):
            model.predict(str(images[0]), imgsz=imgsz, verbose=False)  # warm-up
            t = time.perf_counter()
            for image in images:
                model.predict(str(image), imgsz=imgsz, verbose=False)
            ms = (time.perf_counter() - t) / len(images) * 1e3
            rows.append(BenchRow("detector", "latency per frame", label, f"{imgsz} px", ms, "ms"))
    return rows


def _onnx_model(path: Path):  # type: ignore[no-untyped-def]
    from storelens.inference.ultralytics_offline import import_ultralytics

    import_ultralytics()
    from ultralytics import YOLO

    return YOLO(str(path), task="detect")
