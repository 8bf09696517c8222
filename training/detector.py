"""Training a detector with ultralytics, tracked in MLflow, registered in its registry.

    storelens train detector --config configs/train/sim_coarse.yaml
    storelens train pose --config configs/train/pose.yaml   (the same job on person crops)

One MLflow run per job: the resolved config as params (once) and as an artifact, the data set's
fingerprint, which images selected the checkpoint (`checkpoint_selected_on`, `selection_seed`),
metrics per epoch with `step`, the plots, confusion matrix, results table and weights
ultralytics writes, the scores of `best.pt` on the config's `test:` simulations
(`test/<scenario>-s<seed>/mAP50-95`, ...), then the model registered with the alias
`candidate`. ultralytics' own MLflow callback is switched off (it swallows failures and never
registers): here a tracking failure is an error.

`best.pt` is the epoch with the best fitness on the data set's `val` split. With `sim.val_seed`
that is a separate validation simulation; without it (and with a user `data.yaml`) it is
whatever `val` holds — for a simulated store the last 20 % of the training run, the very images
its `final/` metrics are then computed on. Only `test/` figures are not chosen on their data.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from storelens.inference.mlflow_store import configure_mlflow
from storelens.inference.ultralytics_offline import import_ultralytics
from storelens.settings import runs_dir
from storelens.training.config import TrainDetectorConfig
from storelens.training.data import dataset_fingerprint, simulated_dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    weights: Path
    save_dir: Path
    data_yaml: Path
    metrics: dict[str, float]
    model_name: str | None
    version: str | None
    selected_on: str = ""  # which images picked best.pt, in words
    test_metrics: dict[str, float] = field(default_factory=dict)  # test/<name>/<metric>


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


def selection_params(config: TrainDetectorConfig) -> dict[str, str]:
    """What selects `best.pt`, as MLflow params: the protocol, the run's scenario and seed."""
    if config.data:
        return {
            "checkpoint_selected_on": f"the val split of {config.data}",
            "selection_protocol": "data_yaml",
            "selection_scenario": "n/a",
            "selection_seed": "n/a",
        }
    sim = config.sim
    separate = sim.val_seed is not None
    return {
        "checkpoint_selected_on": sim.selected_on(),
        "selection_protocol": "validation_simulation" if separate else "time_split",
        "selection_scenario": sim.validation_scenario if separate else sim.scenario,
        "selection_seed": str(sim.val_seed if separate else sim.seed),
    }


def held_out_metrics(name: str, metrics: Any) -> dict[str, float]:
    """`DetectorMetrics` of one test simulation → `test/<name>/mAP50-95` ... (per class too)."""
    out = {
        f"test/{name}/mAP50-95": metrics.map50_95,
        f"test/{name}/mAP50": metrics.map50,
        f"test/{name}/precision": metrics.precision,
        f"test/{name}/recall": metrics.recall,
    }
    for cls, (ap, ap50) in metrics.per_class.items():
        out[f"test/{name}/mAP50-95/{cls}"] = ap
        out[f"test/{name}/mAP50/{cls}"] = ap50
    if metrics.pose_map50_95 is not None:
        out[f"test/{name}/pose-mAP50-95"] = metrics.pose_map50_95
        out[f"test/{name}/pose-mAP50"] = float(metrics.pose_map50 or 0.0)
    return out


def score_held_out(config: TrainDetectorConfig, weights: Path) -> dict[str, float]:
    """`weights` scored on every `config.test` simulation (cached; never trained or selected on);
    a pose model (`sim.class_set: pose`) also gets its wrist PCK there."""
    from storelens.training.detector_eval import evaluate_on_simulation
    from storelens.training.pose_eval import wrist_pck

    out: dict[str, float] = {}
    for t in config.test:
        metrics = evaluate_on_simulation(
            weights,
            t.scenario,
            t.seed,
            t.duration_s,
            t.cameras if t.cameras is not None else config.sim.cameras,
            every=config.sim.every,
            class_set=config.sim.class_set,
            store=config.sim.store,
            start_s=t.start_s,
            imgsz=config.imgsz,
        )
        out.update(held_out_metrics(t.name, metrics))
        if config.sim.class_set == "pose" and metrics.data_yaml is not None:
            pck = wrist_pck(weights, metrics.data_yaml, imgsz=config.imgsz)
            out[f"test/{t.name}/wrist-PCK{pck.threshold_px:g}px"] = pck.labelled
            out[f"test/{t.name}/wrist-PCK{pck.threshold_px:g}px-visible"] = pck.visible
    return out


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
    selection = selection_params(config)
    if selection["selection_protocol"] == "time_split":
        log.warning(
            "best.pt is selected on %s (set sim.val_seed for a separate validation simulation)",
            selection["checkpoint_selected_on"],
        )
    mlflow = configure_mlflow(config.experiment)
    with mlflow.start_run(run_name=f"{Path(config.model).stem}-{config.epochs}ep") as run:
        params = _flatten("", config.model_dump(exclude={"test"}))
        for i, t in enumerate(config.test):
            params[f"test.{i}"] = f"{t.scenario} seed {t.seed}, {t.start_s:g}-{t.duration_s:g} s"
        mlflow.log_params(
            {
                **params,
                **selection,
                "data_yaml": str(data_yaml),
                "data_fingerprint": dataset_fingerprint(data_yaml),
            }
        )
        mlflow.set_tag("checkpoint_selected_on", selection["checkpoint_selected_on"])
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
        tests = score_held_out(config, weights)
        if tests:
            mlflow.log_metrics(tests)
        mlflow.log_artifacts(str(save_dir), artifact_path="train")
        version = register_if_named(weights, config.register_as)
        return TrainResult(
            run.info.run_id,
            weights,
            save_dir,
            data_yaml,
            {**final, **tests},
            config.register_as,
            version,
            selection["checkpoint_selected_on"],
            tests,
        )


def train_pose(
    config: TrainDetectorConfig, out_dir: str | Path | None = None, data: str | Path | None = None
) -> TrainResult:
    """`train_detector` for a top-down pose model: the simulated store as person crops
    (`sim.class_set: pose`) or `data`, a YOLO-pose data.yaml (with `kpt_shape`), and a pose
    model (a `*-pose.yaml` or a local pose `.pt`)."""
    if data is not None:
        config = config.model_copy(update={"data": str(data)})
    if config.data is not None:
        found = yaml.safe_load(Path(config.data).read_text()) if Path(config.data).is_file() else {}
        if "kpt_shape" not in (found or {}):
            raise ValueError(f"data: {config.data} has no kpt_shape (not a YOLO-pose data set)")
    elif config.sim.class_set != "pose":
        raise ValueError(
            f"sim.class_set: {config.sim.class_set!r}; a pose model trains on `pose` (person crops)"
        )
    if config.model.endswith(".yaml") and "pose" not in Path(config.model).stem:
        raise ValueError(f"model: {config.model!r} is not a pose model (e.g. yolo11n-pose.yaml)")
    return train_detector(config, out_dir)


def register_if_named(weights: Path, name: str | None) -> str | None:
    if not name:
        return None
    from storelens.training.registry import register_detector

    return register_detector(weights, name)
