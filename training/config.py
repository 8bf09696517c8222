"""Training configs: pydantic models over small YAML override files.

A file may name another as `base` (a path relative to itself); the base is loaded first and the
file's keys replace its keys, sections merged key by key (detectron2's `_BASE_` idea; the one
implementation is `storelens.config.load_config`). The resolved config is what is validated,
logged to MLflow and saved beside the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from storelens.config import load_config


class SimData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    store: str | None = Field(None, description="store YAML (default: the built-in demo store)")
    scenario: str = "crowded"
    seed: int = 0
    duration_s: Annotated[float, Field(gt=0)] = 30.0
    cameras: list[str] | None = None
    every: Annotated[int, Field(ge=1)] = 5
    class_set: Literal["coarse", "sku"] = "coarse"


class TrainDetectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = Field("yolo11n.yaml", description="model yaml (from scratch) or a local .pt file")
    data: str | None = Field(None, description="YOLO data.yaml; None: simulate and export `sim`")
    sim: SimData = SimData()
    epochs: Annotated[int, Field(ge=1)] = 60
    imgsz: Annotated[int, Field(ge=32, le=2048)] = 320
    batch: Annotated[int, Field(ge=1)] = 8
    seed: int = 0
    device: str = "cpu"
    workers: Annotated[int, Field(ge=0)] = 0
    patience: Annotated[int, Field(ge=1)] = 100
    experiment: str = "detector"
    register_as: str | None = Field("storelens-detector", description="registered model name")


def load_train_config(path: str | Path) -> TrainDetectorConfig:
    return load_config(path, TrainDetectorConfig)


class TrainProductsConfig(BaseModel):
    """Fine-tuning the product embedder on photos laid out like GroceryStoreDataset."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    data_root: str | None = Field(
        None, description="folder holding the list files and classes.csv; None: the shared copy"
    )
    train_list: str = "train.txt"
    val_list: str = "val.txt"
    train_on_iconic: bool = Field(True, description="catalogue images are training samples too")
    input_size: Annotated[int, Field(ge=64, le=512, multiple_of=32)] = 288
    resize_margin: Annotated[float, Field(ge=1.0, le=1.5)] = Field(
        1.12, description="images are cached this much larger; training takes random crops"
    )
    split: Annotated[int, Field(ge=1, le=18)] = Field(
        11, description="first MobileNetV2 block that is trained; earlier ones are frozen, cached"
    )
    augmented_views: Annotated[int, Field(ge=0, le=8)] = Field(
        2,
        description="cached views per photo besides the clean one (colour jitter, random crop)",
    )
    flip_tta: bool = Field(True, description="embed each crop and its mirror image, averaged")
    epochs: Annotated[int, Field(ge=1)] = 2
    batch: Annotated[int, Field(ge=2)] = 48
    lr: Annotated[float, Field(gt=0)] = 0.01
    head_lr: Annotated[float, Field(gt=0)] = 0.05
    weight_decay: Annotated[float, Field(ge=0)] = 5e-5
    margin: Annotated[float, Field(ge=0, lt=1)] = Field(0.2, description="CosFace additive margin")
    scale: Annotated[float, Field(gt=0)] = Field(24.0, description="CosFace logit scale")
    per_class_limit: Annotated[int, Field(ge=1)] | None = Field(
        None, description="at most this many training photos per class (smoke runs)"
    )
    val_per_class_limit: Annotated[int, Field(ge=1)] | None = None
    seed: int = 0
    experiment: str = "products"
    register_as: str | None = Field("storelens-product-embedder", description="registered model")


def load_products_config(path: str | Path) -> TrainProductsConfig:
    return load_config(path, TrainProductsConfig)


__all__ = [
    "SimData",
    "TrainDetectorConfig",
    "TrainProductsConfig",
    "load_products_config",
    "load_train_config",
]
