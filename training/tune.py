"""Hyperparameter search for the detector on Ray Tune: local Ray here, a cluster unchanged.

    storelens train tune --config configs/train/tune.yaml

Each trial is one ultralytics training of the detector config named by `train` with the trial's
overrides, reporting the validation metrics after every epoch to Tune, whose ASHA scheduler stops
weak trials early. We drive Tune ourselves rather than through `YOLO.tune(use_ray=True)`: that
path checks (and would try to pip-install) its requirements and pins an older pydantic, which
this offline stack cannot allow. The data set is resolved once on the driver; on a cluster its
path (and `storage`) must be on storage every node can read.

MLflow gets one parent run for the search with one nested run per trial (params, per-epoch
metrics with `step`), and the best trial's weights are registered with the alias `candidate`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from storelens.config import load_config, override
from storelens.settings import WORKER_ENV, worker_env
from storelens.training.config import TrainDetectorConfig, load_train_config

FORWARDED_ENV = WORKER_ENV  # the variables each trial's worker gets from the driver
TARGET_METRIC = "metrics/mAP50-95_B"


class SearchDimension(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["uniform", "loguniform", "choice"]
    values: list[float | int | str] = Field(
        description="[low, high] for uniform / loguniform, the options for choice"
    )


class TuneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    train: str = Field(description="detector training config the trials start from")
    space: dict[str, SearchDimension] = Field(description="ultralytics train argument → range")
    trials: Annotated[int, Field(ge=1)] = 8
    epochs: Annotated[int, Field(ge=1)] = 10
    grace_period: Annotated[int, Field(ge=1)] = Field(2, description="ASHA: epochs before a stop")
    cpus_per_trial: Annotated[float, Field(gt=0)] = 1
    gpus_per_trial: Annotated[float, Field(ge=0)] = 0
    max_concurrent: Annotated[int, Field(ge=1)] = 2
    address: str | None = Field(
        None, description="existing Ray cluster (`auto`, `ray://host:10001`); None: start locally"
    )
    local_cpus: Annotated[int, Field(ge=1)] | None = Field(None, description="local Ray's CPUs")
    storage: str | None = Field(None, description="Tune's results folder (default runs/tune)")
    seed: int = 0
    experiment: str = "detector-tune"
    register_as: str | None = "storelens-detector"


@dataclass(frozen=True)
class TuneResult:
    run_id: str
    best_params: dict[str, Any]
    best_metric: float
    best_weights: Path
    trials: list[dict[str, Any]]
    version: str | None


def load_tune_config(path: str | Path) -> TuneConfig:
    config = load_config(path, TuneConfig)
    train_path = (Path(path).resolve().parent / config.train).resolve()
    return override(config, train=str(train_path))


def _search_space(space: dict[str, SearchDimension]) -> dict[str, Any]:
    from ray import tune

    out: dict[str, Any] = {}
    for name, dim in space.items():
        if dim.kind == "choice":
            out[name] = tune.choice(dim.values)
            continue
        if len(dim.values) != 2:
            raise ValueError(
                f"space.{name}.values: {dim.kind} needs [low, high] (got {dim.values})"
            )
        low, high = (float(v) for v in dim.values)
        out[name] = (tune.loguniform if dim.kind == "loguniform" else tune.uniform)(low, high)
    return out


def _trial(
    params: dict[str, Any],
    *,
    base: dict[str, Any],
    data_yaml: str,
    project: str,
    env: dict[str, str],
) -> None:
    """One Tune trial: an ultralytics training that reports after each epoch."""
    os.environ.update(env)
    from ray import tune

    from storelens.inference.ultralytics_offline import import_ultralytics
    from storelens.training.detector import metric_name

    import_ultralytics()
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    SETTINGS.update({"mlflow": False, "tensorboard": False, "clearml": False, "comet": False})
    trial_id = tune.get_context().get_trial_id()
    model = YOLO(base["model"])

    def report(trainer: Any) -> None:
        if trainer.epoch >= trainer.epochs:  # the extra call after validating best.pt
            return
        metrics = {metric_name(k): float(v) for k, v in trainer.metrics.items()}
        tune.report({**metrics, "epoch": trainer.epoch + 1})

    model.add_callback("on_fit_epoch_end", report)
    model.train(
        data=data_yaml,
        epochs=base["epochs"],
        imgsz=base["imgsz"],
        batch=base["batch"],
        seed=base["seed"],
        deterministic=True,
        device=base["device"],
        workers=0,
        project=project,
        name=trial_id,
        exist_ok=True,
        plots=False,
        verbose=False,
        amp=False,
        **params,
    )


def tune_detector(config: TuneConfig) -> TuneResult:
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from storelens.inference.mlflow_store import configure_mlflow
    from storelens.inference.ultralytics_offline import ensure_offline
    from storelens.settings import runs_dir
    from storelens.training.data import simulated_dataset

    train: TrainDetectorConfig = load_train_config(config.train)
    data_yaml = Path(train.data) if train.data else simulated_dataset(train.sim)
    storage = Path(config.storage or runs_dir() / "tune").resolve()
    project = storage / config.experiment / "trials"
    ensure_offline()
    env = worker_env()
    base = {**train.model_dump(), "epochs": config.epochs}
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=config.address,
            num_cpus=config.local_cpus if config.address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": env},
        )
    try:
        tuner = tune.Tuner(
            tune.with_resources(
                tune.with_parameters(
                    _trial,
                    base=base,
                    data_yaml=str(data_yaml.resolve()),
                    project=str(project),
                    env=env,
                ),
                {"cpu": config.cpus_per_trial, "gpu": config.gpus_per_trial},
            ),
            param_space=_search_space(config.space),
            tune_config=tune.TuneConfig(
                num_samples=config.trials,
                max_concurrent_trials=config.max_concurrent,
                scheduler=ASHAScheduler(
                    time_attr="epoch",
                    metric=TARGET_METRIC,
                    mode="max",
                    max_t=config.epochs,
                    grace_period=min(config.grace_period, config.epochs),
                ),
            ),
            run_config=tune.RunConfig(name=config.experiment, storage_path=str(storage), verbose=0),
        )
        grid = tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
    errors = [str(r.error) for r in grid if r.error is not None]
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(grid)} trials failed; first: {errors[0]}")
    best = grid.get_best_result(metric=TARGET_METRIC, mode="max", scope="all")
    mlflow = configure_mlflow(config.experiment)
    trials = []
    with mlflow.start_run(run_name=f"tune-{config.trials}x{config.epochs}ep") as parent:
        mlflow.log_params(
            {"train_config": config.train, "trials": config.trials, "epochs": config.epochs}
        )
        for result in grid:
            history = result.metrics_dataframe
            with mlflow.start_run(run_name=result.path.split("/")[-1], nested=True):
                mlflow.log_params(result.config)
                for _, row in history.iterrows():
                    mlflow.log_metrics(
                        {k: float(row[k]) for k in history.columns if k.startswith("metrics/")},
                        step=int(row["epoch"]) - 1,
                    )
            trials.append({**result.config, TARGET_METRIC: float(history[TARGET_METRIC].max())})
        best_weights = project / _trial_id(best) / "weights" / "best.pt"
        mlflow.log_params({f"best.{k}": v for k, v in best.config.items()})
        mlflow.log_metric(f"best/{TARGET_METRIC}", float(best.metrics[TARGET_METRIC]))
        version = None
        if config.register_as:
            from storelens.training.registry import register_detector

            version = register_detector(best_weights, config.register_as)
    return TuneResult(
        parent.info.run_id,
        dict(best.config),
        float(best.metrics[TARGET_METRIC]),
        best_weights,
        trials,
        version,
    )


def _trial_id(result: Any) -> str:
    return str(result.metrics["trial_id"])
