"""Fine-tuning the product embedder on shelf photos, tracked in MLflow, registered by name.

    storelens train products --config configs/train/products.yaml

Recipe (sized for a CPU): the MobileNetV2 blocks before `split` stay frozen, so each photo goes
through them once per cached view (clean, colour-jittered, randomly cropped), kept as float16
feature maps; the later blocks and the batch-norm neck train on random crops and flips of those
maps with a CosFace loss (cosine classifier with an additive margin), which makes cosine
similarity between embeddings the thing that separates SKUs — so the model generalises to a
gallery it never trained on. Catalogue (iconic) images are training samples too, weighted up.

How long to train is chosen without looking at `val`: a stratified selection split is held out
of `train` (near-copies of its photos dropped from the rest; `storelens.datasets.grocery_split`),
scored against the catalogue gallery after every epoch, and the weights of the epoch with the
best selection top-1 are kept (`epochs` is the most trained). `val` is scored once, at the end,
on those weights.

One MLflow run: params once (the split's sizes among them), per-epoch loss and selection
top-1/top-5 with `step` = epochs trained, the chosen epoch (param and metric), val top-1/top-5
once, then the saved embedder, the gallery of catalogue + training and selection photos, the
resolved config, `selection.json` (the split and the per-epoch history) and a picture of matches
as artifacts; registered with the alias `candidate`, the chosen epoch as a version tag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from storelens.datasets.grocery import (
    ClassTable,
    ProductImages,
    iconic_gallery,
    read_classes,
    read_list_file,
)
from storelens.datasets.grocery_split import SelectionSplit, split_selection
from storelens.inference.mlflow_store import configure_mlflow
from storelens.inference.product_embedder import (
    EMBEDDING_DIM,
    new_embedder,
    save_embedder,
    to_tensor,
)
from storelens.inference.product_gallery import ProductGallery
from storelens.settings import runs_dir, shared_data_dir
from storelens.training.config import TrainProductsConfig
from storelens.training.product_eval import (
    ProductMetrics,
    build_gallery,
    draw_matches,
    score_retrieval,
)

ICONIC_REPEATS = 6  # catalogue images are 1 per class against ~30 photos: seen 6 times per epoch


@dataclass(frozen=True)
class ProductTrainResult:
    run_id: str
    embedder: Path
    gallery: Path
    iconic_only: ProductMetrics  # val, catalogue gallery, on the chosen weights
    with_photos: ProductMetrics  # val, catalogue + training and selection photos
    model_name: str | None
    version: str | None
    chosen_epoch: int  # epochs trained when the kept weights were taken (1-based)
    selection_top1: tuple[float, ...]  # selection top-1 (catalogue gallery) after each epoch
    split: SelectionSplit


@dataclass(frozen=True)
class ProductData:
    classes: ClassTable
    train: ProductImages  # what the model is fitted on
    selection: ProductImages  # held out of train_list: chooses the epoch
    val: ProductImages  # scored once, on the chosen weights
    iconic: ProductImages
    split: SelectionSplit  # before any per-class limit: the counts to report

    @property
    def gallery_photos(self) -> ProductImages:
        """The labelled photos a fine-tuned gallery holds besides the catalogue: the training and
        selection photos as loaded (all of train_list but the dropped near-duplicates, unless a
        per-class limit applies); never val's."""
        return self.train.joined(self.selection)


def grocery_root(config_root: str | None) -> Path:
    if config_root:
        return Path(config_root)
    shared = shared_data_dir()
    if shared is None:
        raise FileNotFoundError(
            "data_root: not set and no shared data folder found (set STORELENS_SHARED_DATA or "
            "data_root to a folder laid out like GroceryStoreDataset)"
        )
    return shared / "grocery-store" / "dataset"


def load_product_data(config: TrainProductsConfig) -> ProductData:
    root = grocery_root(config.data_root)
    classes = read_classes(root / "classes.csv")
    split = split_selection(
        read_list_file(root / config.train_list),
        config.selection_fraction,
        config.selection_seed,
        config.near_duplicate_bits,
    )
    train = _limit(split.train, config.per_class_limit, config.seed)
    selection = _limit(split.selection, config.selection_per_class_limit, config.selection_seed)
    val = _limit(read_list_file(root / config.val_list), config.val_per_class_limit, config.seed)
    return ProductData(classes, train, selection, val, iconic_gallery(classes), split)


def _limit(images: ProductImages, per_class: int | None, seed: int) -> ProductImages:
    if per_class is None:
        return images
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(images))
    rank = np.zeros(len(images), np.int64)
    for label in np.unique(images.labels):  # once per class, at load time
        members = shuffled[images.labels[shuffled] == label]
        rank[members] = np.arange(len(members))
    return images.subset(rank < per_class)


def _view(path: Path, size: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    if kind == "crop":
        h, w = image.shape[:2]
        scale = rng.uniform(0.6, 1.0)
        ch, cw = int(h * scale), int(w * scale)
        y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        image = image[y0 : y0 + ch, x0 : x0 + cw]
    rgb = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)[..., ::-1]
    rgb = rgb.astype(np.float32) / 255.0
    if kind != "clean":
        rgb = rgb * rng.uniform(0.7, 1.3) + rng.uniform(-0.1, 0.1)
        grey = rgb.mean(axis=2, keepdims=True)
        rgb = np.clip(grey + (rgb - grey) * rng.uniform(0.6, 1.4), 0.0, 1.0)
    return rgb


def cache_stem(
    model: Any,
    images: ProductImages,
    size: int,
    kinds: list[str],
    rng: np.random.Generator,
    progress: Any,
) -> Any:
    """The frozen blocks' output for every image and view, float16 (V*N, C, h, w)."""
    import torch

    task = progress.add_task(
        f"caching {len(images)} images x {len(kinds)} views", total=len(kinds) * len(images)
    )
    out = []
    with torch.inference_mode():
        for kind in kinds:
            for start in range(0, len(images), 64):
                chunk = images.paths[start : start + 64]
                batch = np.stack([_view(p, size, kind, rng) for p in chunk])
                out.append(model.stem(to_tensor(batch)).half())
                progress.advance(task, len(chunk))
    return torch.cat(out)


def _view_kinds(extra: int) -> list[str]:
    return ["clean"] + [("jitter", "crop")[i % 2] for i in range(extra)]


def train_products(
    config: TrainProductsConfig, out_dir: str | Path | None = None
) -> ProductTrainResult:
    import torch
    import torch.nn.functional as F
    from rich.progress import Progress

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    data = load_product_data(config)
    n_classes = int(max(data.classes.names) + 1)
    out = Path(out_dir) if out_dir else runs_dir() / "train" / config.experiment
    model = new_embedder(config.input_size, config.split, config.flip_tta)
    cache_size = int(round(config.input_size * config.resize_margin / 32)) * 32
    crop = _map_cells(model, config.input_size)
    mlflow = configure_mlflow(config.experiment)
    with mlflow.start_run(run_name=f"mobilenetv2-split{config.split}-max{config.epochs}ep") as run:
        mlflow.log_params(
            {
                **config.model_dump(),
                "train_images": len(data.train),
                "selection_images": len(data.selection),
                "near_duplicates_dropped": len(data.split.dropped),
                "val_images": len(data.val),
            }
        )
        with Progress(transient=True) as progress:
            kinds = _view_kinds(config.augmented_views)
            maps = [cache_stem(model, data.train, cache_size, kinds, rng, progress)]
            labels = [torch.from_numpy(np.tile(data.train.labels, len(kinds)))]
            if config.train_on_iconic:
                iconic_kinds = _view_kinds(ICONIC_REPEATS - 1)
                maps.append(cache_stem(model, data.iconic, cache_size, iconic_kinds, rng, progress))
                labels.append(torch.from_numpy(np.tile(data.iconic.labels, len(iconic_kinds))))
            selection_maps = cache_stem(
                model, data.selection, config.input_size, ["clean"], rng, progress
            )
            iconic_maps = cache_stem(
                model, data.iconic, config.input_size, ["clean"], rng, progress
            )
        all_maps, all_labels = torch.cat(maps), torch.cat(labels)
        weights = torch.nn.Parameter(torch.randn(n_classes, EMBEDDING_DIM) * 0.01)
        optimiser = torch.optim.SGD(
            [
                {"params": model.head.parameters(), "lr": config.lr},
                {"params": [*model.neck.parameters(), weights], "lr": config.head_lr},
            ],
            momentum=0.9,
            nesterov=True,
            weight_decay=config.weight_decay,
        )
        steps_per_epoch = len(all_maps) // config.batch
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser,
            max_lr=[config.lr, config.head_lr],
            total_steps=config.epochs * steps_per_epoch,
            pct_start=0.1,
        )
        history: list[ProductMetrics] = []
        best: tuple[float, float] | None = None
        best_state: dict[str, Any] = {}
        chosen_epoch = 0
        with Progress(transient=True) as progress:
            task = progress.add_task("fine-tuning", total=config.epochs * steps_per_epoch)
            for epoch in range(1, config.epochs + 1):
                model.train()
                model.stem.eval()
                order = torch.randperm(len(all_maps))
                total = 0.0
                for step in range(steps_per_epoch):
                    idx = order[step * config.batch : (step + 1) * config.batch]
                    x = _random_crop_flip(all_maps[idx].float(), crop, rng)
                    embedding = model.embed_stem_output(x)
                    cosine = embedding @ F.normalize(weights, dim=1).T
                    y = all_labels[idx]
                    logits = config.scale * (cosine - config.margin * F.one_hot(y, n_classes))
                    loss = F.cross_entropy(logits, y)
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                    schedule.step()
                    total += float(loss.detach())
                    progress.advance(task)
                metrics = _score_maps(model, selection_maps, data.selection, iconic_maps, data)
                history.append(metrics)
                mlflow.log_metrics(
                    {
                        "train/loss": total / steps_per_epoch,
                        "selection/top1_iconic": metrics.top1,
                        "selection/top5_iconic": metrics.top5,
                    },
                    step=epoch,
                )
                if best is None or (metrics.top1, metrics.top5) > best:  # ties: the earlier
                    best, chosen_epoch = (metrics.top1, metrics.top5), epoch
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(best_state)
        model.eval()
        mlflow.log_param("chosen_epoch", chosen_epoch)
        mlflow.log_metric("chosen_epoch", chosen_epoch)
        embedder_path = save_embedder(model, out / run.info.run_id / "product_embedder.pt")
        iconic_gallery_ = build_gallery(model, data.iconic, "embedding catalogue")
        photos = build_gallery(model, data.gallery_photos, "embedding training photos")
        gallery = iconic_gallery_.extended(photos.embeddings, photos.labels)
        gallery_path = gallery.save(embedder_path.parent / "gallery.npz")
        # the only time val is looked at: once, on the weights already chosen
        val_embeddings = build_gallery(model, data.val, "embedding val").embeddings
        iconic_only = score_retrieval(iconic_gallery_, val_embeddings, data.val.labels)
        with_photos = score_retrieval(gallery, val_embeddings, data.val.labels)
        final = {
            "val/top1_iconic": iconic_only.top1,
            "val/top5_iconic": iconic_only.top5,
            "val/top1_photos": with_photos.top1,
            "val/top5_photos": with_photos.top5,
        }
        mlflow.log_metrics(final, step=chosen_epoch)
        draw_matches(
            with_photos,
            data.val,
            data.iconic,
            data.classes,
            embedder_path.parent / "val_matches.png",
        )
        (embedder_path.parent / "storelens_config.yaml").write_text(
            yaml.safe_dump(config.model_dump(), sort_keys=False)
        )
        selection = _selection_record(data, chosen_epoch, history)
        (embedder_path.parent / "selection.json").write_text(json.dumps(selection, indent=2))
        (embedder_path.parent / "metrics.json").write_text(
            json.dumps({**final, "chosen_epoch": chosen_epoch}, indent=2)
        )
        mlflow.log_artifacts(str(embedder_path.parent), artifact_path="products")
        version = None
        if config.register_as:
            from storelens.training.registry import register_product_embedder

            version = register_product_embedder(embedder_path, gallery_path, config.register_as)
            client = mlflow.MlflowClient()
            for key, value in (
                ("chosen_epoch", chosen_epoch),
                ("max_epochs", config.epochs),
                ("chosen_on", selection["chosen_on"]),
            ):
                client.set_model_version_tag(config.register_as, version, key, str(value))
        return ProductTrainResult(
            run.info.run_id,
            embedder_path,
            gallery_path,
            iconic_only,
            with_photos,
            config.register_as,
            version,
            chosen_epoch,
            tuple(m.top1 for m in history),
            data.split,
        )


def _selection_record(
    data: ProductData, chosen_epoch: int, history: list[ProductMetrics]
) -> dict[str, Any]:
    """What `selection.json` beside the embedder says about how its epoch was chosen."""
    split = data.split
    return {
        "chosen_epoch": chosen_epoch,
        "max_epochs": len(history),
        "chosen_on": f"selection split held out of train: {split.describe()}",
        "selection_fraction": split.fraction,
        "selection_seed": split.seed,
        "near_duplicate_bits": split.near_duplicate_bits,
        "train_list_photos": split.total,
        "selection_photos": len(split.selection),
        "near_duplicates_dropped": len(split.dropped),
        "selection_photos_scored": len(data.selection),
        "train_photos_used": len(data.train),
        "per_epoch": [
            {"epoch": epoch, "top1_iconic": m.top1, "top5_iconic": m.top5}
            for epoch, m in enumerate(history, start=1)
        ],
    }


def _map_cells(model: Any, input_size: int) -> int:
    """Side of the frozen blocks' output map for a square input of `input_size` pixels."""
    import torch

    with torch.inference_mode():
        return int(model.stem(torch.zeros(1, 3, input_size, input_size)).shape[-1])


def _random_crop_flip(maps: Any, cells: int, rng: np.random.Generator) -> Any:
    top, left = rng.integers(0, maps.shape[-1] - cells + 1, size=2)
    cropped = maps[..., top : top + cells, left : left + cells]
    return cropped.flip(-1) if rng.random() < 0.5 else cropped


def _score_maps(
    model: Any, query_maps: Any, queries: ProductImages, iconic_maps: Any, data: ProductData
) -> ProductMetrics:
    """Top-1/top-5 of cached query maps against the catalogue gallery, in eval mode."""
    import torch

    model.eval()
    with torch.inference_mode():
        embedded = torch.cat(
            [
                model.embed_stem_output(query_maps[i : i + 128].float())
                for i in range(0, len(query_maps), 128)
            ]
        )
        iconic = model.embed_stem_output(iconic_maps.float())
    model.train()
    model.stem.eval()
    gallery = ProductGallery(iconic.numpy(), data.iconic.labels)
    return score_retrieval(gallery, embedded.numpy(), queries.labels)
