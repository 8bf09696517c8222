"""Training a detector with ultralytics, tracked in MLflow, registered in its registry.

    storelens train detector --config configs/train/sim_coarse.yaml

One MLflow run per job: the resolved config as params (once) and as an artifact, the data set's
fingerprint, metrics per epoch with `step`, the plots, confusion matrix, results table and
weights ultralytics writes, then the model registered with the alias `candidate`. ultralytics'
own MLflow callback is switched off (it swallows failures and never registers): here a tracking
failure is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from storelens.inference.mlflow_store import configure_mlflow
from storelens.inference.ultralytics_offline import import_ultralytics
from storelens.settings import runs_dir
from storelens.training.config import TrainDetectorConfig
from storelens.training.data import dataset_fingerprint, simulated_dataset


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    weights: Path
    save_dir: Path
    data_yaml: Path
    metrics: dict[str, float]
    model_name: str | None
    version: str | None


def metric_name(key: str) -> str:
    """ultralytics' `metrics/mAP50-95(B)` → MLflow-safe `metrics/mAP50-95_B`."""
    return re.sub(r"[^0-9A-Za-z_\-./ ]", "_", key).rstrip("_")


def epoch_metrics_from_results(path: Path) -> list[tuple[int, dict[str, float]]]:
    """(step, metrics) per epoch from ultralytics' `results.csv`, step 0-based.

    Under multi-GPU DDP ultralytics trains in subprocesses where callbacks added here never run;
    its results table is then where the per-epoch metrics come from."""
    import csv

    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        cleaned = {k.strip(): v for k, v in row.items() if k and v not in (None, "")}
        epoch = int(float(cleaned.pop("epoch")))
        cleaned.pop("time", None)
        out.append((epoch - 1, {metric_name(k): float(v) for k, v in cleaned.items()}))
    return out


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(f"{prefix}.{k}" if prefix else k, v))
        return out
    return {prefix: value}


def train_detector(config: TrainDetectorConfig, out_dir: str | Path | None = None) -> TrainResult:
    import_ultralytics()
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    SETTINGS.update(
        {"mlflow": False, "clearml": False, "comet": False, "dvc": False, "tensorboard": False}
    )
    if config.model.endswith(".pt") and not Path(config.model).is_file():
        raise FileNotFoundError(
            f"model: {config.model!r} is not a local weights file (nothing is downloaded)"
        )
    data_yaml = Path(config.data) if config.data else simulated_dataset(config.sim)
    if not data_yaml.is_file():
        raise FileNotFoundError(f"data: {str(data_yaml)!r} does not exist")
    project = Path(out_dir) if out_dir else runs_dir() / "train" / config.experiment
    mlflow = configure_mlflow(config.experiment)
    with mlflow.start_run(run_name=f"{Path(config.model).stem}-{config.epochs}ep") as run:
        mlflow.log_params(
            {
                **_flatten("", config.model_dump()),
                "data_yaml": str(data_yaml),
                "data_fingerprint": dataset_fingerprint(data_yaml),
            }
        )
        model = YOLO(config.model)

        logged_epochs: set[int] = set()

        def log_epoch(trainer: Any) -> None:
            # ultralytics calls this once more after validating best.pt: that goes to `final/...`
            if trainer.epoch in logged_epochs or trainer.epoch >= trainer.epochs:
                return
            logged_epochs.add(trainer.epoch)
            values = {**trainer.label_loss_items(trainer.tloss, prefix="train"), **trainer.metrics}
            mlflow.log_metrics(
                {metric_name(k): float(v) for k, v in values.items()}, step=trainer.epoch
            )

        model.add_callback("on_fit_epoch_end", log_epoch)
        model.train(
            data=str(data_yaml),
            epochs=config.epochs,
            imgsz=config.imgsz,
            batch=config.batch,
            seed=config.seed,
            deterministic=True,
            device=config.device,
            workers=config.workers,
            patience=config.patience,
            project=str(project.resolve()),
            name=run.info.run_id,
            exist_ok=True,
            plots=True,
            verbose=False,
            amp=False,
        )
        save_dir = Path(model.trainer.save_dir)
        (save_dir / "storelens_config.yaml").write_text(
            yaml.safe_dump(config.model_dump(), sort_keys=False)
        )
        weights = save_dir / "weights" / "best.pt"
        final = {metric_name(k): float(v) for k, v in model.trainer.metrics.items()}
        if not logged_epochs:  # trained in DDP subprocesses (device "0,1"): read their table
            history = epoch_metrics_from_results(save_dir / "results.csv")
            for step, values in history:
                mlflow.log_metrics(values, step=step)
            final = history[-1][1] if history else final
        mlflow.log_metrics({f"final/{k}": v for k, v in final.items()})
        mlflow.log_artifacts(str(save_dir), artifact_path="train")
        version = register_if_named(weights, config.register_as)
        return TrainResult(
            run.info.run_id, weights, save_dir, data_yaml, final, config.register_as, version
        )


def register_if_named(weights: Path, name: str | None) -> str | None:
    if not name:
        return None
    from storelens.training.registry import register_detector

    return register_detector(weights, name)
