"""Loading trained models by path or registry URI: a local file, `models:/NAME@alias`,
`models:/NAME/VERSION` or `runs:/RUN_ID/PATH` (downloaded from the MLflow store the settings
name, never from a hub). Training, evaluation and serving all load models through here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REGISTRY_SCHEMES = ("models:/", "runs:/")
SHIPPED = "shipped"  # the detector that ships in `storelens.models`


def model_ref(ref: str | Path) -> str:
    """A model reference checked before any work starts: `shipped` becomes the shipped
    detector's path, a registry URI is kept as it is, a local file must exist."""
    text = str(ref)
    if text == SHIPPED:
        from storelens.models import demo_detector

        return str(demo_detector())
    if not text.startswith(REGISTRY_SCHEMES) and not Path(text).is_file():
        raise FileNotFoundError(f"{text}: no such weights file")
    return text


def model_file(uri: str | Path, pattern: str = "*.pt") -> Path:
    """A local weights file for a path, or for `models:/NAME@alias` / `models:/NAME/VERSION`."""
    text = model_ref(uri)
    if not text.startswith(REGISTRY_SCHEMES):
        return Path(text)
    from storelens.inference.mlflow_store import configure_mlflow

    mlflow = configure_mlflow()
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=text))
    found = sorted(local.rglob(pattern))
    if not found:
        raise FileNotFoundError(f"{text}: the registered model holds no {pattern} file")
    return found[0]


def load_detector(uri: str | Path) -> Any:
    """An ultralytics YOLO for a weights file or a registry URI (offline settings applied)."""
    from storelens.inference.ultralytics_offline import import_ultralytics

    import_ultralytics()
    from ultralytics import YOLO

    return YOLO(str(model_file(uri)))


def load_product_recogniser(uri: str | Path) -> tuple[Any, Any]:
    """(embedder, gallery) for a saved embedder file (gallery.npz beside it, if any) or a registry
    URI; gallery is None when a bare embedder file has none."""
    from storelens.inference.product_embedder import load_embedder
    from storelens.inference.product_gallery import ProductGallery

    embedder_file = model_file(uri, "product_embedder.pt")
    gallery_file = embedder_file.parent / "gallery.npz"
    gallery = ProductGallery.load(gallery_file) if gallery_file.is_file() else None
    return load_embedder(embedder_file), gallery
