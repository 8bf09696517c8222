"""Training configs: pydantic models over small YAML override files.

A file may name another as `base` (a path relative to itself); the base is loaded first and the
file's keys replace its keys, sections merged key by key (detectron2's `_BASE_` idea; the one
implementation is `storelens.config.load_config`). The resolved config is what is validated,
logged to MLflow and saved beside the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from storelens.config import load_config

VAL_FIELDS = ("val_seed", "val_scenario", "val_duration_s")


class SimData(BaseModel):
    """The simulated store a detector trains on, and the one that selects its checkpoint.

    With `val_seed` the whole training run is the `train` split and a second simulation (the
    same store, `val_scenario` or the same scenario, another seed) is the `val` split that
    ultralytics picks `best.pt` on. Without it, the last 20 % of the training run (a time split)
    is `val`: the checkpoint is then picked on the images it is reported on, which the MLflow
    run says (param `checkpoint_selected_on`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    store: str | None = Field(None, description="store YAML (default: the built-in demo store)")
    scenario: str = "crowded"
    seed: int = 0
    duration_s: Annotated[float, Field(gt=0)] = 30.0
    cameras: list[str] | None = None
    every: Annotated[int, Field(ge=1)] = 5
    class_set: Literal["coarse", "sku", "pose"] = Field(
        "coarse",
        description="coarse: person, hand, product boxes; sku: one class per SKU; pose: person "
        "crops with COCO-17 keypoints (a pose model's data)",
    )
    val_seed: int | None = Field(
        None,
        description="seed of the validation simulation that selects best.pt; None: the last "
        "20 % (by time) of the training run",
    )
    val_scenario: str | None = Field(None, description="validation scenario; None: `scenario`")
    val_duration_s: Annotated[float, Field(gt=0)] | None = Field(
        None, description="validation simulation length; None: `duration_s`"
    )

    @model_validator(mode="after")
    def _validation_run_is_another_run(self) -> SimData:
        if self.val_seed is None:
            extra = [f for f in VAL_FIELDS[1:] if getattr(self, f) is not None]
            if extra:
                raise ValueError(f"sim.{extra[0]} needs sim.val_seed (the validation simulation)")
            return self
        if self.val_seed == self.seed and self.validation_scenario == self.scenario:
            raise ValueError(
                f"sim.val_seed: {self.val_seed} is the training run's seed: the validation "
                "simulation must be another run (another seed or val_scenario)"
            )
        return self

    @property
    def validation_scenario(self) -> str:
        return self.val_scenario or self.scenario

    @property
    def validation_duration_s(self) -> float:
        return self.val_duration_s or self.duration_s

    def selected_on(self) -> str:
        """Which images pick the checkpoint, in words (logged with every run)."""
        if self.val_seed is None:
            return (
                f"time split: the last 20 % of the training run ({self.scenario} seed "
                f"{self.seed}); the checkpoint is selected on the images it is scored on"
            )
        return (
            f"validation simulation: {self.validation_scenario} seed {self.val_seed}, "
            f"{self.validation_duration_s:g} s (not trained on)"
        )


class EvalSim(BaseModel):
    """A simulation a trained detector is scored on after training: never trained on, never
    used to select the checkpoint (`test:` in a training config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    scenario: str
    seed: int
    duration_s: Annotated[float, Field(gt=0)] = 30.0
    start_s: Annotated[float, Field(ge=0)] = Field(
        0.0, description="score the frames from this simulation time on (a window of the run)"
    )
    cameras: list[str] | None = Field(None, description="None: the training run's cameras")

    @model_validator(mode="after")
    def _window_is_in_the_run(self) -> EvalSim:
        if self.start_s >= self.duration_s:
            raise ValueError(f"start_s: {self.start_s} is not before duration_s {self.duration_s}")
        return self

    @property
    def name(self) -> str:
        """`crowded-s2`, or `crowded-s2-from30s` for a window from 30 s on."""
        window = f"-from{self.start_s:g}s" if self.start_s else ""
        return f"{Path(self.scenario).stem}-s{self.seed}{window}"


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
    test: list[EvalSim] = Field(
        default_factory=list,
        description="simulations best.pt is scored on after training (logged as test/<name>/...)",
    )

    @model_validator(mode="after")
    def _test_runs_are_unseen(self) -> TrainDetectorConfig:
        if self.data is not None:
            return self
        seen = {(self.sim.scenario, self.sim.seed): "the training run"}
        if self.sim.val_seed is not None:
            seen[(self.sim.validation_scenario, self.sim.val_seed)] = "the validation run"
        names: set[str] = set()
        for i, t in enumerate(self.test):
            if (t.scenario, t.seed) in seen:
                raise ValueError(
                    f"test[{i}]: {t.scenario} seed {t.seed} is {seen[(t.scenario, t.seed)]}; "
                    "a test simulation must be one the detector never saw"
                )
            if t.name in names:
                raise ValueError(f"test[{i}]: {t.name} is listed twice")
            names.add(t.name)
        return self


def load_train_config(path: str | Path) -> TrainDetectorConfig:
    return load_config(path, TrainDetectorConfig)


class TrainProductsConfig(BaseModel):
    """Fine-tuning the product embedder on photos laid out like GroceryStoreDataset.

    The epoch is chosen on a selection split held out of `train_list`; `val_list` is scored
    once, at the end, on the chosen weights."""

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
    epochs: Annotated[int, Field(ge=1)] = Field(
        4,
        description="the most epochs trained (the learning-rate schedule spans them); the "
        "weights kept are those after the epoch with the best selection top-1",
    )
    batch: Annotated[int, Field(ge=2)] = 48
    lr: Annotated[float, Field(gt=0)] = 0.01
    head_lr: Annotated[float, Field(gt=0)] = 0.05
    weight_decay: Annotated[float, Field(ge=0)] = 5e-5
    margin: Annotated[float, Field(ge=0, lt=1)] = Field(0.2, description="CosFace additive margin")
    scale: Annotated[float, Field(gt=0)] = Field(24.0, description="CosFace logit scale")
    selection_fraction: Annotated[float, Field(gt=0, le=0.5)] = Field(
        0.15,
        description="share of each class's `train_list` photos held out as the selection split "
        "(at least one where a class has two or more), which chooses the epoch; `val` never "
        "chooses anything (storelens.datasets.grocery_split)",
    )
    selection_seed: int = Field(
        0, description="draws the selection split; apart from `seed`, so seeds share one split"
    )
    near_duplicate_bits: Annotated[int, Field(ge=0, le=32)] = Field(
        12,
        description="training photos whose 64-bit pHash is within this many bits of a "
        "selection photo's are dropped (near-copies; the data set has no session ids)",
    )
    per_class_limit: Annotated[int, Field(ge=1)] | None = Field(
        None, description="at most this many training photos per class (smoke runs)"
    )
    selection_per_class_limit: Annotated[int, Field(ge=1)] | None = Field(
        None, description="at most this many selection photos per class (smoke runs)"
    )
    val_per_class_limit: Annotated[int, Field(ge=1)] | None = None
    seed: int = 0
    experiment: str = "products"
    register_as: str | None = Field("storelens-product-embedder", description="registered model")


def load_products_config(path: str | Path) -> TrainProductsConfig:
    return load_config(path, TrainProductsConfig)


__all__ = [
    "SimData",
    "EvalSim",
    "TrainDetectorConfig",
    "TrainProductsConfig",
    "load_products_config",
    "load_train_config",
]
