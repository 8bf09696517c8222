"""The model registry: every trained detector is registered with the alias `candidate`;
promotion moves `champion`; serving loads `models:/NAME@champion` or a weights file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

CANDIDATE, CHAMPION = "candidate", "champion"


def register_detector(weights: Path, name: str) -> str:
    """Log `weights` as a pyfunc model in the active run, register it, alias it `candidate`."""
    import mlflow

    from storelens import __version__

    with (
        warnings.catch_warnings()
    ):  # mlflow asks for type hints that would fix a schema we do not want
        warnings.filterwarnings("ignore", message=".*type hint.*", category=UserWarning)
        from storelens.training.pyfunc_model import UltralyticsDetector

        info = _log(mlflow, weights, name, __version__, UltralyticsDetector)
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(name, CANDIDATE, version)
    return version


def _log(mlflow: Any, weights: Path, name: str, version: str, model_class: Any) -> Any:
    return mlflow.pyfunc.log_model(
        name="detector",
        python_model=model_class(),
        artifacts={"weights": str(weights)},
        registered_model_name=name,
        pip_requirements=[f"storelens=={version}", "ultralytics==8.4.190"],
    )


def promote(name: str, version: str | int, alias: str = CHAMPION) -> None:
    """Point `alias` (default `champion`) at a registered version; raises if it does not exist."""
    import mlflow

    client = mlflow.MlflowClient()
    client.get_model_version(name, str(version))  # a clear MlflowException when absent
    client.set_registered_model_alias(name, alias, str(version))


def weights_path(uri: str | Path) -> Path:
    """A local weights file for a path, or for `models:/NAME@alias` / `models:/NAME/VERSION`."""
    text = str(uri)
    if not text.startswith(("models:/", "runs:/")):
        path = Path(text)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such weights file")
        return path
    from storelens.mlflow_store import configure_mlflow

    mlflow = configure_mlflow()
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=text))
    found = sorted(local.rglob("*.pt"))
    if not found:
        raise FileNotFoundError(f"{text}: the registered model holds no .pt weights")
    return found[0]


def load_detector(uri: str | Path) -> Any:
    """An ultralytics YOLO for a weights file or a registry URI (offline settings applied)."""
    from storelens.training.offline import import_ultralytics

    import_ultralytics()
    from ultralytics import YOLO

    return YOLO(str(weights_path(uri)))
