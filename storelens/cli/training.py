"""`storelens train`, `eval detector`, `models` and `export`: detectors from training to serving."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from storelens.cli._errors import user_errors

console = Console()
train_app = typer.Typer(
    help="Train detectors and the product recogniser (tracked in MLflow).", no_args_is_help=True
)
models_app = typer.Typer(
    help="The MLflow model registry: aliases candidate / champion.", no_args_is_help=True
)
export_app = typer.Typer(help="Export trained models for serving.", no_args_is_help=True)


@train_app.command("detector")
def train_detector(
    config: Path = typer.Option(..., help="training config, e.g. configs/train/sim_coarse.yaml"),
    out: Path = typer.Option(
        None, help="ultralytics output folder (default: runs/train/<experiment>)"
    ),
) -> None:
    """Train a YOLO detector offline; one MLflow run; registered with alias `candidate`."""
    from storelens.training.config import load_train_config
    from storelens.training.detector import train_detector as run

    with user_errors():
        result = run(load_train_config(config), out)
    _print_trained(result)


def _print_trained(result) -> None:  # type: ignore[no-untyped-def]
    table = Table(title=f"trained: MLflow run {result.run_id}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in result.metrics.items():
        table.add_row(k, f"{v:.4f}")
    console.print(table)
    console.print(f"weights: {result.weights}")
    if result.model_name:
        console.print(
            f"registered: models:/{result.model_name}/{result.version} (alias candidate); "
            f"promote with `storelens models promote {result.model_name} {result.version}`"
        )


@train_app.command("pose")
def train_pose(
    config: Path = typer.Option(..., help="training config, e.g. configs/train/pose.yaml"),
    out: Path = typer.Option(None, help="ultralytics output folder (default: runs/train/pose)"),
    data: Path = typer.Option(
        None, help="a YOLO-pose data.yaml (kpt_shape [17, 3]) instead of the simulated store"
    ),
) -> None:
    """Train a top-down YOLO-pose model on person crops; MLflow run, registry, as `detector`."""
    from storelens.training.config import load_train_config
    from storelens.training.detector import train_pose as run

    with user_errors():
        result = run(load_train_config(config), out, data)
    _print_trained(result)


@train_app.command("tune")
def tune_detector(
    config: Path = typer.Option(..., help="search config, e.g. configs/train/tune.yaml"),
) -> None:
    """Hyperparameter search for the detector on Ray Tune (local, or a cluster by address)."""
    from storelens.training.tune import load_tune_config
    from storelens.training.tune import tune_detector as run

    with user_errors():
        result = run(load_tune_config(config))
    trials = Table(title=f"Ray Tune search: MLflow run {result.run_id}")
    keys = sorted({k for t in result.trials for k in t})
    for key in keys:
        trials.add_column(key, justify="right")
    for trial in result.trials:
        trials.add_row(*(_short(trial.get(k)) for k in keys))
    console.print(trials)
    console.print(f"best: {result.best_params} → mAP50-95 {result.best_metric:.4f}")
    console.print(f"weights: {result.best_weights}")
    if result.version:
        console.print(f"registered: version {result.version} (alias candidate)")


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def eval_detector(
    model: str = typer.Option(..., help="weights file or models:/NAME@champion"),
    data: Path = typer.Option(..., help="YOLO data.yaml"),
    split: str = typer.Option("val", help="which split of data.yaml"),
    imgsz: int = typer.Option(320, help="inference size"),
) -> None:
    """COCO mAP50-95 / mAP50 per class on a held-out split."""
    from storelens.training.detector_eval import evaluate_detector

    with user_errors():
        m = evaluate_detector(model, data, split=split, imgsz=imgsz)
    table = Table(title=f"detector {model} on {data} ({split})")
    for col in ("class", "mAP50-95", "mAP50"):
        table.add_column(col, justify="right" if col != "class" else "left")
    table.add_row("all", f"{m.map50_95:.4f}", f"{m.map50:.4f}")
    for name, (ap, ap50) in m.per_class.items():
        table.add_row(name, f"{ap:.4f}", f"{ap50:.4f}")
    console.print(table)


def eval_pose(
    model: str = typer.Option(..., help="pose weights file or models:/NAME@champion"),
    data: Path = typer.Option(None, help="a YOLO-pose data.yaml of person crops"),
    scenario: str = typer.Option(None, help="or: simulate this scenario (preset or file)"),
    seed: int = typer.Option(2, help="the simulation's seed (one the model never saw)"),
    duration: float = typer.Option(30.0, help="seconds simulated"),
    imgsz: int = typer.Option(160, help="the crop size the model was trained at"),
    threshold: float = typer.Option(10.0, help="wrist PCK threshold, pixels"),
) -> None:
    """Keypoint mAP (OKS) and wrist PCK of a top-down pose model on person crops."""
    from storelens.training.data import simulated_eval_dataset
    from storelens.training.pose_eval import evaluate_pose

    with user_errors():
        if (data is None) == (scenario is None):
            raise ValueError("give either --data (a data.yaml) or --scenario (a simulation)")
        data_yaml = data or simulated_eval_dataset(scenario, seed, duration, class_set="pose")
        m = evaluate_pose(model, data_yaml, imgsz=imgsz, threshold_px=threshold)
    w = m.wrists
    table = Table(title=f"pose {model} on {data_yaml} ({w.crops} person crops)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("keypoint mAP50-95 (OKS)", f"{m.oks_map50_95:.3f}")
    table.add_row("keypoint mAP50 (OKS)", f"{m.oks_map50:.3f}")
    table.add_row("person box mAP50-95", f"{m.box_map50_95:.3f}")
    table.add_row(f"wrist PCK@{w.threshold_px:g}px, labelled ({w.n_labelled})", f"{w.labelled:.3f}")
    table.add_row(f"wrist PCK@{w.threshold_px:g}px, visible ({w.n_visible})", f"{w.visible:.3f}")
    table.add_row("median wrist error, px", f"{w.median_error_px:.1f}")
    console.print(table)


@models_app.command("promote")
def promote(
    name: str = typer.Argument(..., help="registered model name"),
    version: str = typer.Argument(..., help="version to make champion"),
    alias: str = typer.Option("champion", help="alias to move"),
) -> None:
    """Move the `champion` alias (or another) to a registered version."""
    from mlflow.exceptions import MlflowException

    from storelens.inference.mlflow_store import configure_mlflow
    from storelens.training.registry import promote as run

    configure_mlflow("detector")
    try:
        run(name, version, alias)
    except MlflowException as err:
        console.print(
            f"[bold red]error:[/] model {name!r} version {version!r}: {err.message}", soft_wrap=True
        )
        raise typer.Exit(2) from None
    console.print(f"[green]{alias}[/] → models:/{name}/{version}")


@export_app.command("detector")
def export_detector(
    model: str = typer.Option(..., help="weights file or models:/NAME@alias"),
    fmt: str = typer.Option("onnx", "--format", help="onnx or torchscript"),
    imgsz: int = typer.Option(320, help="export size"),
    check: list[Path] = typer.Option(None, help="images to compare the export with torch on"),
) -> None:
    """Export for serving; with --check, prove the export gives the torch model's boxes."""
    from storelens.inference.loading import model_file
    from storelens.training.export import check_export
    from storelens.training.export import export_detector as run

    with user_errors():
        weights = model_file(model)
        path = run(weights, fmt, imgsz)
        console.print(f"exported: {path}")
        if check:
            result = check_export(weights, path, list(check), imgsz=imgsz)
            colour = "green" if result.ok else "red"
            console.print(
                f"[{colour}]check[/]: {result.matched}/{result.torch_boxes} torch boxes matched on "
                f"{result.images} images (worst IoU {result.min_iou:.3f}, worst Δconf "
                f"{result.max_conf_diff:.3f})"
            )
            if not result.ok:
                raise typer.Exit(1)
